// The per-stack lock (one promotion or rollback at a time) and stage holds after a rollback.
// The function's own module: the package root loads all of date-fns (about 10 MB of memory).
import { formatDistanceStrict } from 'date-fns/formatDistanceStrict';
import type { StageConfig } from '../config.js';
import type { Promotion } from '../domain/types.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { KEYS } from '../store/keys.js';
import { type Deps, type LockHolder, lockKeys, type Reply } from './deps.js';

/** Slack link to a message (the archives URL redirects to the workspace). */
export function messageLink(channel: string, ts: string): string {
  return `https://slack.com/archives/${channel}/p${ts.replace('.', '')}`;
}

export const holdKey = KEYS.hold;

export async function describeLockHolder(deps: Deps, raw: string): Promise<string> {
  let h: LockHolder;
  try {
    h = JSON.parse(raw) as LockHolder;
  } catch {
    return 'another operation';
  }
  const since = formatDistanceStrict(new Date(h.since), deps.now(), { addSuffix: true });
  const p = await deps.store.getPromotion(h.promotionId);
  const link = p?.messageTs ? ` (<${messageLink(p.channel, p.messageTs)}|see its message>)` : '';
  return `a ${esc(h.kind)} of ${esc(h.service)} to ${esc(h.stage)} by <@${h.user}>, started ${since}${link}`;
}

/**
 * Takes the locks of every stack of the target stage for a new operation (in the stacks' order), or says who
 * holds one, giving back those it took. Returns the lock holder string to release with, or undefined after
 * replying.
 */
export async function takeLock(
  deps: Deps,
  stage: StageConfig,
  who: Omit<LockHolder, 'since' | 'stage'>,
  reply: Reply,
  ttlMs: number,
): Promise<string | undefined> {
  const value = JSON.stringify({ ...who, since: deps.now().toISOString(), stage: stage.name });
  const taken: string[] = [];
  for (const [i, key] of lockKeys(stage).entries()) {
    const got = await deps.store.acquire(key, value, ttlMs);
    if (got.acquired) {
      taken.push(key);
      continue;
    }
    for (const k of taken) await deps.store.release(k, value).catch(() => undefined);
    await reply(await lockedText(deps, stage.stacks[i]!, got.holder));
    return undefined;
  }
  return value;
}

const lockedText = async (deps: Deps, stack: string, holder: string) =>
  `${stack} is locked: ${await describeLockHolder(deps, holder)}. Try again when it has finished.`;

/**
 * Refuses a request for a stage whose stacks are locked before anything is asked of AWS: a command repeated while
 * its operation runs is answered at once and spends none of the account's request budget. Only a look: takeLock
 * still decides, as the lock may be taken or given back in between. True when it replied.
 */
export async function refuseIfLocked(deps: Deps, stage: StageConfig, reply: Reply): Promise<boolean> {
  for (const [i, key] of lockKeys(stage).entries()) {
    const holder = await deps.store.holder(key);
    if (holder === undefined) continue;
    await reply(await lockedText(deps, stage.stacks[i]!, holder));
    return true;
  }
  return false;
}

/** Gives back the locks of a stage's stacks that `holder` holds. */
export async function releaseLocks(deps: Deps, stage: StageConfig, holder: string): Promise<void> {
  for (const key of lockKeys(stage)) await deps.store.release(key, holder);
}

/** The stage's stack locks (key and holder) that `p` holds. */
async function heldBy(deps: Deps, p: Promotion): Promise<Array<{ key: string; holder: string }>> {
  const stage = deps.config.services[p.service]?.stages.find((s) => s.name === p.to);
  if (!stage) return [];
  const held: Array<{ key: string; holder: string }> = [];
  for (const key of lockKeys(stage)) {
    const holder = await deps.store.holder(key);
    if (!holder) continue;
    try {
      if ((JSON.parse(holder) as LockHolder).promotionId === p.id) held.push({ key, holder });
    } catch {
      // not a lock of ours
    }
  }
  return held;
}

export async function releaseLock(deps: Deps, p: Promotion): Promise<void> {
  for (const held of await heldBy(deps, p)) await deps.store.release(held.key, held.holder);
}

/** Keeps the stage's locks for as long as an execution may take (CloudFormation updates can run for hours). */
export async function extendLock(deps: Deps, p: Promotion, ttlMs: number): Promise<void> {
  for (const held of await heldBy(deps, p)) await deps.store.renew(held.key, held.holder, ttlMs);
}
