// Crash points for the fault suite (`npm run test:faults`): a TEST-ONLY switch. When the composition root
// arms one (from PROMOTE_CRASH_AT, read in src/main.ts), the process kills itself with SIGKILL the moment
// the named point is reached — no shutdown hook, no flush — so tests can prove every half-done state is
// recovered after a restart. Unset (the default, and always in production) every call is a no-op.
//
//   PROMOTE_CRASH_AT=after-execute      dies the first time `after-execute` is reached
//   PROMOTE_CRASH_AT=during-progress#3  dies the third time
//
// The names are stable: the fault scenarios refer to them. Promotions and rollbacks share the points
// (they share the code); a scenario arms the bot for the operation it tests.

export const CRASH_POINTS = [
  /** /promote or /rollback acknowledged; nothing stored yet. */
  'after-ack',
  /** The stage lock is taken and the operation stored in state `planning`; nothing asked of AWS yet. */
  'after-lock',
  /** CreateChangeSet returned; the change set exists but is not recorded as planned. */
  'after-create-change-set',
  /** The summary with buttons is in the channel; its ts is not recorded yet. */
  'after-summary-post',
  /** The summary's ts is recorded: the operation awaits approval (or, with required: 0, is approved). */
  'after-summary-recorded',
  /** An approval that was not the last one is recorded (between approvals). */
  'after-approval',
  /** The last approval is recorded; nothing started. */
  'after-last-approval',
  /** The operation is `executing` with its request token; ExecuteChangeSet (or the recovery call) not sent yet. */
  'before-execute',
  /** ExecuteChangeSet (or the recovery call) returned; not confirmed in the store yet. */
  'after-execute',
  /** The progress reply is in the thread; its ts is not recorded yet. */
  'after-progress-post',
  /** A progress update was sent (hit once per update: use `#N`). */
  'during-progress',
  /** The final state is recorded; none of the finish effects has run. */
  'after-final-transition',
  /** Finish effect: the stage lock was released. */
  'after-lock-release',
  /** Finish effect: the release (and a rollback's hold) was recorded. */
  'after-release-record',
  /** Finish effect: just before the final reply is posted in the thread. */
  'before-final-reply',
  /** Finish effect: the final reply is posted; the summary is not updated yet. */
  'after-final-reply',
] as const;

export type CrashPointName = (typeof CRASH_POINTS)[number];

let armed: { name: string; hit: number } | undefined;
let hits = 0;

/**
 * Arms one crash point from a spec `name` or `name#N` (test-only; called by the composition root with
 * PROMOTE_CRASH_AT). Undefined or empty disarms. An unknown name is an error, so a typo in a test fails loudly.
 */
export function armCrashPoint(spec: string | undefined): void {
  hits = 0;
  if (!spec) {
    armed = undefined;
    return;
  }
  const [name = '', n] = spec.split('#');
  if (!(CRASH_POINTS as readonly string[]).includes(name)) {
    throw new Error(`PROMOTE_CRASH_AT names an unknown crash point "${name}" (known: ${CRASH_POINTS.join(', ')})`);
  }
  const hit = n === undefined ? 1 : Number(n);
  if (!Number.isInteger(hit) || hit < 1)
    throw new Error(`PROMOTE_CRASH_AT "${spec}": the hit after # must be 1 or more`);
  armed = { name, hit };
}

/** Kills this process with SIGKILL when `name` is the armed crash point (on its Nth hit). No-op otherwise. */
export function crashPoint(name: CrashPointName): void {
  if (armed?.name !== name) return;
  hits++;
  if (hits < armed.hit) return;
  process.stderr.write(`promote-bot: crash point ${name} reached (PROMOTE_CRASH_AT), killing the process\n`);
  process.kill(process.pid, 'SIGKILL');
}
