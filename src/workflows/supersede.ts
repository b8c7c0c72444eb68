// A rollback wins over a promotion waiting on the same stack. Who proposes it decides when: a rollback reviewer
// (or a stage whose rollbacks need no approval) supersedes the waiting promotion at once; anyone else only
// proposes, and the waiting promotion is superseded when the rollback is approved and starts (execute.ts).
import type { StageConfig } from '../config.js';
import { isPending } from '../domain/promotion.js';
import type { Promotion } from '../domain/types.js';
import { type Deps, type LockHolder, lockKeys, transition } from './deps.js';
import { finishOperation } from './finish.js';

function parseHolder(raw: string | undefined): LockHolder | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as LockHolder;
  } catch {
    return undefined;
  }
}

const waits = (p: Promotion | undefined): p is Promotion =>
  p !== undefined && (isPending(p.state) || p.state === 'approved');

/** The operation holding a lock of the stage's stacks while it waits (planning, awaiting approval, or approved), if any. */
export async function waitingOnStage(deps: Deps, stage: StageConfig): Promise<Promotion | undefined> {
  for (const key of lockKeys(stage)) {
    const h = parseHolder(await deps.store.holder(key));
    const p = h ? await deps.store.getPromotion(h.promotionId) : undefined;
    if (waits(p)) return p;
  }
  return undefined;
}

/** Cancels waiting promotion `id` in favour of a rollback (by `by`), then runs its end effects (lock, message). */
export async function supersede(deps: Deps, id: string, stage: StageConfig, by: string): Promise<void> {
  const t = await transition(
    deps,
    id,
    (p) =>
      waits(p)
        ? { type: 'cancel', user: by, force: true, reason: `superseded by a rollback of ${stage.name}` }
        : { type: 'cancel', user: by }, // refused as not cancellable: it ended or runs
    by,
  );
  if (!t.ok) return;
  if (await finishOperation(deps, t.after.id)) return;
  // Its planner still holds its lease (so its end effects wait for it): it has ended and can never run, so its
  // locks go now. Compare-and-delete: a lock taken by anyone since is left alone.
  for (const key of lockKeys(stage)) {
    const raw = await deps.store.holder(key);
    if (raw && parseHolder(raw)?.promotionId === id) await deps.store.release(key, raw);
  }
}

/**
 * What a new rollback does about a promotion waiting on its stage: superseded now when `mayNow` (a rollback
 * reviewer asked, or rollbacks need no approval), else remembered (`supersedes`), and the rollback waits without
 * the stage lock.
 */
export async function supersedeNowOrLater(
  deps: Deps,
  stage: StageConfig,
  requester: string,
): Promise<{ lock: boolean; supersedes?: string }> {
  const waiting = await waitingOnStage(deps, stage);
  if (!waiting) return { lock: true };
  const mayNow =
    stage.rollback.required === 0 || (await deps.reviewers.isReviewer(requester, stage.rollback.reviewers));
  if (!mayNow) return { lock: false, supersedes: waiting.id };
  await supersede(deps, waiting.id, stage, requester);
  return { lock: true };
}

/** A superseded promotion's end effects may still be under way on another replica: the lock is retried briefly. */
const TAKEOVER_ATTEMPTS = 10;
const TAKEOVER_PAUSE_MS = 300;

/**
 * An approved rollback that was proposed without the stage lock takes it when it starts: supersedes the
 * promotion it was proposed against (if still waiting), then takes the lock. Returns why it cannot (another
 * operation holds the lock by then), or undefined once the rollback holds it.
 */
export async function takeOverStage(
  deps: Deps,
  p: Promotion,
  stage: StageConfig,
  ttlMs: number,
): Promise<string | undefined> {
  const mine: LockHolder = {
    promotionId: p.id,
    user: p.requester,
    since: deps.now().toISOString(),
    service: p.service,
    stage: stage.name,
    kind: 'rollback',
  };
  const value = JSON.stringify(mine);
  const taken: string[] = [];
  // Every stack of the stage, in order; what was taken is given back when one cannot be.
  for (const [i, key] of lockKeys(stage).entries()) {
    const why = await takeOver(deps, p, stage, key, value, ttlMs);
    if (why === undefined) {
      taken.push(key);
      continue;
    }
    for (const k of taken) await deps.store.release(k, value).catch(() => undefined);
    return `${stage.stacks[i]} is locked by ${why}. Run /rollback again when it has finished.`;
  }
  return undefined;
}

/** Takes one stack lock for `p` (superseding the promotion it was proposed against); who holds it otherwise. */
async function takeOver(
  deps: Deps,
  p: Promotion,
  stage: StageConfig,
  key: string,
  value: string,
  ttlMs: number,
): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = parseHolder(await deps.store.holder(key));
    if (current?.promotionId === p.id) return undefined; // taken by an earlier attempt to start
    if (current && current.promotionId === p.supersedes) {
      await supersede(deps, current.promotionId, stage, p.requester);
    }
    const got = await deps.store.acquire(key, value, ttlMs);
    if (got.acquired) return undefined;
    const holder = parseHolder(got.holder);
    const superseded = holder?.promotionId === p.supersedes && holder !== undefined;
    if (!superseded || attempt >= TAKEOVER_ATTEMPTS) {
      return holder
        ? `a ${holder.kind} of ${holder.service} to ${holder.stage} by ${holder.user}`
        : 'another operation';
    }
    await deps.sleep(TAKEOVER_PAUSE_MS);
  }
}
