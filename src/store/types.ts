import type { Promotion } from '../domain/types.js';

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

  /** A cheap round trip (Redis PING), for readiness: resolves when the store answers, rejects when it does not. */
  ping(): Promise<void>;

  close(): Promise<void>;
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
