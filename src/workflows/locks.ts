// The per-stack lock (one promotion or rollback at a time) and stage holds after a rollback.
import { formatDistanceStrict } from 'date-fns';
import type { StageConfig } from '../config.js';
import type { Promotion } from '../domain/types.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { KEYS } from '../store/keys.js';
import { type Deps, type LockHolder, lockKey, type Reply } from './deps.js';

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
 * Takes the target stack's lock for a new promotion, or says who holds it. Returns the lock holder
 * string to release with, or undefined after replying.
 */
export async function takeLock(
  deps: Deps,
  stage: StageConfig,
  who: Omit<LockHolder, 'since' | 'stage'>,
  reply: Reply,
  ttlMs: number,
): Promise<string | undefined> {
  const value = JSON.stringify({ ...who, since: deps.now().toISOString(), stage: stage.name });
  const got = await deps.store.acquire(lockKey(stage), value, ttlMs);
  if (got.acquired) return value;
  await reply(
    `${stage.stack} is locked: ${await describeLockHolder(deps, got.holder)}. Try again when it has finished.`,
  );
  return undefined;
}

/** The stage lock's key and holder, when `p` holds it. */
async function heldBy(deps: Deps, p: Promotion): Promise<{ key: string; holder: string } | undefined> {
  const stage = deps.config.services[p.service]?.stages.find((s) => s.name === p.to);
  if (!stage) return undefined;
  const key = lockKey(stage);
  const holder = await deps.store.holder(key);
  if (!holder) return undefined;
  try {
    return (JSON.parse(holder) as LockHolder).promotionId === p.id ? { key, holder } : undefined;
  } catch {
    return undefined; // not a lock of ours
  }
}

export async function releaseLock(deps: Deps, p: Promotion): Promise<void> {
  const held = await heldBy(deps, p);
  if (held) await deps.store.release(held.key, held.holder);
}

/** Keeps the stage's lock for as long as an execution may take (CloudFormation updates can run for hours). */
export async function extendLock(deps: Deps, p: Promotion, ttlMs: number): Promise<void> {
  const held = await heldBy(deps, p);
  if (held) await deps.store.renew(held.key, held.holder, ttlMs);
}
