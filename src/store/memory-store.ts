// Embedded in-memory implementation of `Store` for a single bot instance (and for tests). It keeps
// the Redis store's semantics, TTLs included: each method does all its work synchronously before
// returning a promise, so on Node's single thread every method is atomic. Values are stored as
// JSON text, as in Redis, so a caller mutating a returned object never changes stored state.
import type { Promotion } from '../domain/types.js';
import {
  type AcquireResult,
  type AuditEntry,
  BUCKET_IDLE_MS,
  type BucketState,
  bucketStep,
  checkBucketSpec,
  type Store,
  type TokenBucketSpec,
  type TokenGrant,
} from './types.js';

export interface MemoryStoreOptions {
  /** Clock in ms since the epoch; tests inject one they can advance to expire keys. */
  now?: () => number;
  /** Entries kept in the global audit list and in each promotion's audit list. */
  auditKeep?: number;
  /** Promotion IDs kept in the "recent" list. */
  recentKeep?: number;
}

const DEFAULT_AUDIT_KEEP = 10_000;
const DEFAULT_RECENT_KEEP = 500;
/** Same as the Redis store: a promotion's audit trail expires 90 days after its last entry. */
const PROMOTION_AUDIT_TTL_MS = 90 * 24 * 60 * 60 * 1000;
/** How often writes sweep out expired entries, so keys nobody reads again don't pile up. */
const SWEEP_EVERY_MS = 60_000;

interface Expiring<T> {
  value: T;
  /** ms since the epoch; undefined = never */
  expiresAt?: number;
}

interface StoredPromotion {
  json: string;
  version: number;
}

function ttlMsChecked(ttlMs: number, what: string): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`${what}: ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

function toJson(value: unknown, what: string): string {
  const json = JSON.stringify(value);
  // JSON.stringify(undefined) (and of a function) is undefined: nothing we could read back.
  if (json === undefined) throw new TypeError(`${what}: value is not JSON-serialisable`);
  return json;
}

/** Runs `op` synchronously (so it is atomic) and hands back its result or error as a promise. */
function run<T>(op: () => T): Promise<T> {
  try {
    return Promise.resolve(op());
  } catch (err) {
    return Promise.reject(err);
  }
}

/** A map whose entries vanish once their expiry time has passed, like Redis keys with PX. */
class ExpiringMap<T> {
  private readonly entries = new Map<string, Expiring<T>>();

  constructor(private readonly now: () => number) {}

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: T, ttlMs?: number): void {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs });
  }

  /** Changes the expiry of a live entry; false when there is none. */
  expire(key: string, ttlMs: number): boolean {
    const value = this.get(key);
    if (value === undefined) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Live keys, expired ones dropped on the way. */
  keys(): string[] {
    return [...this.entries.keys()].filter((k) => this.has(k));
  }

  sweep(): void {
    for (const k of this.entries.keys()) this.get(k);
  }
}

function checkVersions(next: Promotion, expectedVersion: number): void {
  // A wrong version is a programming mistake, not contention: returning false would make the caller
  // reload and retry forever, so it throws instead (as the Redis store does).
  if (!Number.isInteger(expectedVersion) || next.version !== expectedVersion + 1) {
    throw new Error(
      `updating promotion ${next.id}: next.version must be expectedVersion + 1 (got ${next.version} after ${expectedVersion})`,
    );
  }
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  const now = opts.now ?? Date.now;
  const auditKeep = opts.auditKeep ?? DEFAULT_AUDIT_KEEP;
  const recentKeep = opts.recentKeep ?? DEFAULT_RECENT_KEEP;
  // LTRIM 0 -1 keeps everything, so a zero cap would silently mean "no cap".
  for (const [name, n] of Object.entries({ auditKeep, recentKeep })) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`createMemoryStore: ${name} must be a positive integer, got ${n}`);
  }

  const promotions = new ExpiringMap<StoredPromotion>(now);
  const active = new Set<string>();
  let recent: string[] = []; // IDs, newest created first
  const locks = new ExpiringMap<string>(now);
  let audit: string[] = []; // JSON entries, newest first
  const promotionAudit = new ExpiringMap<string[]>(now);
  const json = new ExpiringMap<string>(now);
  const lists = new Map<string, string[]>();
  const buckets = new ExpiringMap<BucketState>(now);
  let lastSweep = now();

  function bucket(
    key: string,
    spec: TokenBucketSpec,
    op: 'take' | 'slow',
    reserve = 0,
    extra = 0,
  ): Promise<TokenGrant> {
    return run(() => {
      const checked = checkBucketSpec(spec, `token bucket ${key}`);
      sweepNowAndThen();
      const { state, grant } = bucketStep(buckets.get(key), checked, now(), op, reserve, extra);
      buckets.set(key, state, BUCKET_IDLE_MS);
      return grant;
    });
  }

  function sweepNowAndThen(): void {
    if (now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = now();
    for (const m of [promotions, locks, promotionAudit, json, buckets]) m.sweep();
    for (const id of active) if (!promotions.has(id)) active.delete(id);
    recent = recent.filter((id) => promotions.has(id));
  }

  function readPromotion(id: string): Promotion | undefined {
    const stored = promotions.get(id);
    return stored ? (JSON.parse(stored.json) as Promotion) : undefined;
  }

  function pushFront(list: string[], value: string, keep: number): string[] {
    return [value, ...list].slice(0, keep);
  }

  function readList<T>(list: string[] | undefined, limit: number): T[] {
    return (list ?? []).slice(0, Math.max(0, limit)).map((v) => JSON.parse(v) as T);
  }

  let closed = false;
  return {
    durable: false,

    createPromotion(p, { active: isActive, ttlMs }) {
      return run(() => {
        if (p.version !== 1)
          throw new Error(`storing promotion ${p.id}: a new promotion has version 1, got ${p.version}`);
        const ttl = ttlMsChecked(ttlMs, `storing promotion ${p.id}`);
        sweepNowAndThen();
        if (promotions.has(p.id)) return false;
        promotions.set(p.id, { json: toJson(p, `storing promotion ${p.id}`), version: 1 }, ttl);
        if (isActive) active.add(p.id);
        else active.delete(p.id); // a stale entry from an expired record with the same ID
        recent = pushFront(
          recent.filter((id) => id !== p.id),
          p.id,
          recentKeep,
        );
        return true;
      });
    },

    getPromotion(id) {
      return run(() => readPromotion(id));
    },

    casPromotion(next, expectedVersion, { active: isActive, ttlMs }) {
      return run(() => {
        checkVersions(next, expectedVersion);
        const what = `updating promotion ${next.id} from version ${expectedVersion}`;
        const ttl = ttlMsChecked(ttlMs, what);
        sweepNowAndThen();
        if (promotions.get(next.id)?.version !== expectedVersion) return false;
        promotions.set(next.id, { json: toJson(next, what), version: next.version }, ttl);
        if (isActive) active.add(next.id);
        else active.delete(next.id);
        return true;
      });
    },

    listActive() {
      return run(() => {
        const found: Promotion[] = [];
        for (const id of active) {
          const p = readPromotion(id);
          if (p) found.push(p);
          else active.delete(id); // its record expired
        }
        return found;
      });
    },

    listRecent(limit) {
      return run(() => {
        recent = recent.filter((id) => promotions.has(id));
        return recent.slice(0, Math.max(0, limit)).map((id) => readPromotion(id)!);
      });
    },

    takeToken: (key, spec, reserve, extra) => bucket(key, spec, 'take', reserve, extra),
    slowDown: (key, spec) => bucket(key, spec, 'slow'),

    acquire(key, holder, ttlMs): Promise<AcquireResult> {
      return run(() => {
        const ttl = ttlMsChecked(ttlMs, `taking lock ${key}`);
        sweepNowAndThen();
        const current = locks.get(key);
        if (current !== undefined) return { acquired: false, holder: current };
        locks.set(key, holder, ttl);
        return { acquired: true };
      });
    },

    renew(key, holder, ttlMs) {
      return run(() => {
        const ttl = ttlMsChecked(ttlMs, `renewing lock ${key}`);
        return locks.get(key) === holder && locks.expire(key, ttl);
      });
    },

    release(key, holder) {
      return run(() => {
        if (locks.get(key) !== holder) return false;
        locks.delete(key);
        return true;
      });
    },

    holder(key) {
      return run(() => locks.get(key));
    },

    listHeld(prefix) {
      return run(() =>
        locks
          .keys()
          .filter((k) => k.startsWith(prefix))
          .map((key) => ({ key, holder: locks.get(key)! })),
      );
    },

    appendAudit(entry) {
      return run(() => {
        const what = `appending audit entry ${entry.action}`;
        const line = toJson(entry, what);
        sweepNowAndThen();
        audit = pushFront(audit, line, auditKeep);
        if (entry.promotionId) {
          const previous = promotionAudit.get(entry.promotionId) ?? [];
          promotionAudit.set(entry.promotionId, pushFront(previous, line, auditKeep), PROMOTION_AUDIT_TTL_MS);
        }
      });
    },

    readAudit({ promotionId, limit }) {
      return run(() => readList<AuditEntry>(promotionId ? promotionAudit.get(promotionId) : audit, limit));
    },

    getJson<T>(key: string) {
      return run(() => {
        const value = json.get(key);
        return value === undefined ? undefined : (JSON.parse(value) as T);
      });
    },

    setJson(key, value, ttlMs) {
      return run(() => {
        const what = `writing JSON value ${key}`;
        const text = toJson(value, what);
        const ttl = ttlMs === undefined ? undefined : ttlMsChecked(ttlMs, what);
        sweepNowAndThen();
        json.set(key, text, ttl); // like Redis SET: no TTL given means the value no longer expires
      });
    },

    del(key) {
      return run(() => json.delete(key));
    },

    pushCapped(key, value, keep) {
      return run(() => {
        const what = `pushing onto list ${key}`;
        const text = toJson(value, what);
        if (!Number.isInteger(keep) || keep < 1)
          throw new RangeError(`${what}: keep must be a positive integer, got ${keep}`);
        lists.set(key, pushFront(lists.get(key) ?? [], text, keep));
      });
    },

    listCapped<T>(key: string, limit: number) {
      return run(() => readList<T>(lists.get(key), limit));
    },

    ping() {
      return closed ? Promise.reject(new Error('pinging the in-memory store: it is closed')) : Promise.resolve();
    },

    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
