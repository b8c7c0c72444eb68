import type { ClassifiedChange, Promotion } from '../domain/types.js';

/** Result of trying to take a lock or lease: a held lock is data, not an error. */
export type AcquireResult = { acquired: true } | { acquired: false; holder: string };

export interface AuditEntry {
  at: string; // ISO time
  promotionId?: string;
  service?: string;
  stage?: string;
  actor: string; // Slack user ID or 'bot'
  action: string; // e.g. 'planned', 'approved', 'executed', 'transition:awaiting_approval->approved'
  changeSetArn?: string;
  fingerprint?: string;
  detail?: Record<string, unknown>;
}

/**
 * Durable state. Two implementations with the same behaviour (one contract test suite):
 * Redis (ioredis, atomic through Lua) and an embedded in-memory store for a single instance.
 * Every method is atomic on its own.
 */
export interface Store {
  readonly durable: boolean;

  /** Stores a new promotion (version must be 1). Returns false when the ID exists already. */
  createPromotion(p: Promotion, opts: { active: boolean; ttlMs: number }): Promise<boolean>;
  getPromotion(id: string): Promise<Promotion | undefined>;
  /**
   * Compare-and-set: writes `next` (whose version must be expectedVersion + 1) only if the stored
   * version is still `expectedVersion`. `active` keeps the ID in (or removes it from) the active index.
   * Returns false when someone else moved it first (reload and re-decide).
   */
  casPromotion(next: Promotion, expectedVersion: number, opts: { active: boolean; ttlMs: number }): Promise<boolean>;
  /**
   * Optional, for big plans: writes a page of a plan's changes ahead of the record that will hold the plan, while
   * the next page is read (the record's write then names the page instead of sending it). Never throws and never
   * rejects: a page not written ahead is written with the record. A store without it writes the plan whole.
   */
  stageChanges?(id: string, changes: readonly ClassifiedChange[]): void;
  /** Promotions in the active index (not finished), any order. */
  listActive(): Promise<Promotion[]>;
  /** Most recent promotions (active and finished), newest first. */
  listRecent(limit: number): Promise<Promotion[]>;

  /** SET key holder NX PX ttl. */
  acquire(key: string, holder: string, ttlMs: number): Promise<AcquireResult>;
  /** Extends the TTL only if `holder` still holds it. */
  renew(key: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Compare-and-delete. */
  release(key: string, holder: string): Promise<boolean>;
  /** Current holder, if any. */
  holder(key: string): Promise<string | undefined>;
  /** Keys (without prefix) of held locks starting with `prefix`, with their holders. */
  listHeld(prefix: string): Promise<Array<{ key: string; holder: string }>>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first. With promotionId: that promotion's entries only. */
  readAudit(opts: { promotionId?: string; limit: number }): Promise<AuditEntry[]>;

  /** Small JSON values (holds, caches, release index). */
  getJson<T>(key: string): Promise<T | undefined>;
  setJson(key: string, value: unknown, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;

  /** Pushes onto the front of a capped list (newest first), keeping at most `keep` items. */
  pushCapped(key: string, value: unknown, keep: number): Promise<void>;
  listCapped<T>(key: string, limit: number): Promise<T[]>;

  /**
   * Token bucket `key` (created full): takes one token if there is one, else says how long until there will be.
   * Shared by every client of the store (replicas), on the store's clock. See TokenBucketSpec.
   * `reserve` (default 0): take a token only if that many more stay in the bucket, for calls that may not wait
   * (of any replica); at most burst − 1 is kept back.
   * `extra` (default 0): when the take is granted, up to that many more tokens for the caller to spend later
   * without asking again, only while the bucket keeps at least half its burst (TokenGrant.extra; bucketStep).
   */
  takeToken(key: string, spec: TokenBucketSpec, reserve?: number, extra?: number): Promise<TokenGrant>;
  /**
   * The service behind bucket `key` said to slow down: empties the bucket and halves its rate (down to
   * `spec.minFactor`); the rate then recovers by `spec.recoverPerSec` of the full rate each second (AIMD).
   */
  slowDown(key: string, spec: TokenBucketSpec): Promise<TokenGrant>;

  /** A cheap round trip (Redis PING), for readiness: resolves when the store answers, rejects when it does not. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

/** A token bucket: `burst` tokens at most, refilled at `ratePerSec` × the current rate factor. */
export interface TokenBucketSpec {
  ratePerSec: number;
  burst: number;
  /** lowest rate factor slowDown goes to; default 1/16 */
  minFactor?: number;
  /** how fast the rate factor recovers after slowDown, per second; default 0.05 (a halved rate is whole in 10 s) */
  recoverPerSec?: number;
}

export interface TokenGrant {
  granted: boolean;
  /** tokens granted beyond the one (takeToken's `extra`), taken from the bucket like it */
  extra: number;
  /** 0 when granted; otherwise how long until a token is there (at the current rate) */
  waitMs: number;
  /** the bucket's rate factor now (1 = full rate; lower after slowDown) */
  factor: number;
}

export const DEFAULT_MIN_FACTOR = 1 / 16;
export const DEFAULT_RECOVER_PER_SEC = 0.05;

/** A bucket untouched this long is forgotten (it would be full and at full rate again by then). */
export const BUCKET_IDLE_MS = 10 * 60_000;

/** A spec the bucket math can use: a positive rate, at least one token. */
export function checkBucketSpec(spec: TokenBucketSpec, what: string): Required<TokenBucketSpec> {
  const { ratePerSec, burst } = spec;
  const minFactor = spec.minFactor ?? DEFAULT_MIN_FACTOR;
  const recoverPerSec = spec.recoverPerSec ?? DEFAULT_RECOVER_PER_SEC;
  if (!(Number.isFinite(ratePerSec) && ratePerSec > 0)) throw new RangeError(`${what}: ratePerSec must be > 0`);
  if (!(Number.isFinite(burst) && burst >= 1)) throw new RangeError(`${what}: burst must be at least 1`);
  if (!(minFactor > 0 && minFactor <= 1)) throw new RangeError(`${what}: minFactor must be in (0, 1]`);
  if (!(recoverPerSec >= 0 && Number.isFinite(recoverPerSec))) throw new RangeError(`${what}: bad recoverPerSec`);
  return { ratePerSec, burst, minFactor, recoverPerSec };
}

/**
 * The bucket arithmetic both stores run (the Redis store as Lua, the same steps): refill since `at` at the rate
 * factor in force, let the factor recover, then take a token or slow down.
 */
export interface BucketState {
  tokens: number;
  /** ms of the last update */
  at: number;
  factor: number;
}

export function bucketStep(
  state: BucketState | undefined,
  spec: Required<TokenBucketSpec>,
  nowMs: number,
  op: 'take' | 'slow',
  reserve = 0,
  extra = 0,
): { state: BucketState; grant: TokenGrant } {
  // Kept back for calls that may not wait; a bucket of one token keeps none back.
  const needed = 1 + Math.max(0, Math.min(Math.floor(reserve), spec.burst - 1));
  let tokens = state?.tokens ?? spec.burst;
  let factor = state?.factor ?? 1;
  const elapsedSec = Math.max(0, nowMs - (state?.at ?? nowMs)) / 1000;
  tokens = Math.min(spec.burst, tokens + elapsedSec * spec.ratePerSec * factor);
  factor = Math.min(1, factor + elapsedSec * spec.recoverPerSec);
  let granted = false;
  if (op === 'slow') {
    factor = Math.max(spec.minFactor, factor / 2);
    tokens = Math.min(tokens, 0);
  } else if (tokens >= needed) {
    tokens -= 1;
    granted = true;
  }
  // Extra tokens only from a bucket that keeps half its burst after them: when the budget is short every call
  // asks the bucket, as before.
  let more = 0;
  if (granted) more = Math.max(0, Math.min(Math.floor(extra), Math.floor(tokens - spec.burst / 2)));
  tokens -= more;
  const waitMs = granted ? 0 : Math.max(1, Math.ceil(((needed - tokens) / (spec.ratePerSec * factor)) * 1000));
  return { state: { tokens, at: nowMs, factor }, grant: { granted, extra: more, waitMs, factor } };
}

/**
 * The store could not be reached (connection refused or lost, command timed out): a transient fault.
 * Other store errors (a bad script, a wrong type) stay plain errors.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
  constructor(what: string, options: { cause: unknown }) {
    super(`${what}: the store is unavailable`, options);
    this.name = 'StoreUnavailableError';
  }
}

// The last line: a Redis Cluster without a reachable node or with unserved slots, Sentinels that answer nothing.
const UNAVAILABLE = new RegExp(
  [
    "Connection is closed|Command timed out|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|max retries per request",
    "None of startup nodes is available|Failed to refresh slots cache|Cluster isn't ready|CLUSTERDOWN|TRYAGAIN",
    'All sentinels are unreachable',
  ].join('|'),
  'i',
);

/** Whether an ioredis error means Redis is out of reach (see platform-facts §4, "When Redis is down"). */
export function isUnavailable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  return e?.name === 'MaxRetriesPerRequestError' || UNAVAILABLE.test(`${e?.message ?? ''} ${e?.code ?? ''}`);
}
