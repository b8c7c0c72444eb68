// Redis implementation of `Store` (ioredis 6), for a single Redis (also behind Sentinel) and for a Redis
// Cluster. Every multi-key change is one Lua script or one MULTI, so each method is atomic on its own, even
// with several bot instances on one Redis.
//
// Key layout under `prefix` (default 'promote:'):
//   {ops}:promotion:<id>    HASH { json, version, changes:<list id>… }, PX = ttl passed by the caller; the
//                           plans' change lists are fields of their own, written once (see change-lists.ts)
//   {ops}:promotions:active ZSET id → expiry (ms since epoch): the active index
//   {ops}:promotions:recent LIST of ids, newest created first, capped at recentKeep
//   lock:<key>              STRING holder, PX ttl
//   audit                   LIST of entries (JSON), newest first, capped at auditKeep
//   audit:promotion:<id>    LIST of that promotion's entries, capped at auditKeep, expires 90 days after the last write
//   json:<key>              STRING JSON value, optional PX
//   list:<key>              LIST of JSON values, newest first, capped by the caller's `keep`
//   bucket:<key>            STRING 'tokens:at:factor': a token bucket (takeToken/slowDown), PX 10 min idle
// The kinds live in separate namespaces so a lock, a JSON value and a list with the same caller key
// never hit WRONGTYPE on each other.
//
// Redis Cluster: a Lua script or a MULTI may only touch keys of one hash slot, and the slot of a key that
// contains `{tag}` is computed from `tag` alone (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
// The promotion scripts keep a record and the two indexes in step atomically (the sweeper must never miss an
// active record), so the records and the indexes share the tag `{ops}`: all of them live on one node, which
// the bot's data (a few thousand small records) easily fits. Every other method touches one key, except
// appendAudit, which writes the global and the promotion's audit lists in two transactions (they need not
// change together). listHeld scans every master. See src/store/keys.ts for the rule callers follow, and
// test/store/slots.test.ts, which checks every script and MULTI this store sends.
//
// Needs Redis ≥ 4 (multi-field HSET).
import type { ChainableCommander, Cluster, Redis, Result } from 'ioredis';
import type { Promotion } from '../domain/types.js';
import { CHANGES_FIELD_PREFIX, createChangeLists, type ListWrite } from './change-lists.js';
import {
  type AcquireResult,
  type AuditEntry,
  BUCKET_IDLE_MS,
  checkBucketSpec,
  isUnavailable,
  type Store,
  StoreUnavailableError,
  type TokenBucketSpec,
  type TokenGrant,
} from './types.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    promoteBotCreatePromotion(
      recordKey: string,
      activeKey: string,
      recentKey: string,
      id: string,
      json: string,
      ttlMs: string,
      active: string,
      recentKeep: string,
      ...lists: string[]
    ): Result<number, Context>;
    promoteBotCasPromotion(
      recordKey: string,
      activeKey: string,
      id: string,
      expectedVersion: string,
      nextVersion: string,
      json: string,
      ttlMs: string,
      active: string,
      ...lists: string[]
    ): Result<number, Context>;
    promoteBotStageChanges(recordKey: string, field: string, value: Buffer): Result<number, Context>;
    promoteBotPrunePromotion(
      recordKey: string,
      activeKey: string,
      recentKey: string,
      id: string,
    ): Result<number, Context>;
    promoteBotRenewLock(key: string, holder: string, ttlMs: string): Result<number, Context>;
    promoteBotReleaseLock(key: string, holder: string): Result<number, Context>;
    promoteBotTokenBucket(
      key: string,
      op: string,
      ratePerSec: string,
      burst: string,
      minFactor: string,
      recoverPerSec: string,
      idleMs: string,
      nowMs: string,
      reserve: string,
      extra: string,
    ): Result<[number, number, string, number], Context>;
  }
}

/** What the store runs on: one Redis (direct or through Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** The hash tag of the promotion records and their indexes (see the key layout above). */
export const OPS_TAG = '{ops}';

export interface RedisStoreOptions {
  /** Namespace for every key; give each test (or each bot deployment sharing a Redis) its own. */
  prefix?: string;
  /** Entries kept in the global audit list and in each promotion's audit list. */
  auditKeep?: number;
  /** Promotion IDs kept in the "recent" list. */
  recentKeep?: number;
  /** This replica's clock for the token buckets (ms since epoch); default Date.now */
  now?: () => number;
}

const DEFAULT_PREFIX = 'promote:';
const DEFAULT_AUDIT_KEEP = 10_000;
const DEFAULT_RECENT_KEEP = 500;
/** A promotion's own audit trail outlives the promotion record, but not forever. */
const PROMOTION_AUDIT_TTL_MS = 90 * 24 * 60 * 60 * 1000;

// The active index is scored by each record's expiry time, so the write scripts can drop IDs whose
// record has expired (ZREMRANGEBYSCORE) and the index cannot grow without bound. TIME is read after
// a write, which Redis < 5 only allows with effects replication (always on from Redis 5).
const NOW_MS_LUA = `
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// The change lists a record names (change-lists.ts), from ARGV[first] on: a count, then field and value pairs
// (an empty value: not sent, the hash must hold it already). Returns false, writing nothing, when one not sent
// is missing; otherwise writes those sent and, when it sent one or is asked to (\`clean\`), deletes the fields the
// record does not name.
const LISTS_LUA = `
local function checkLists(first)
  local n = tonumber(ARGV[first] or '0')
  for i = 1, n do
    local f, v = ARGV[first + 2 * i - 1], ARGV[first + 2 * i]
    if v == '' and redis.call('HEXISTS', KEYS[1], f) == 0 then return false end
  end
  return true
end
local function writeLists(first, clean)
  local n = tonumber(ARGV[first] or '0')
  local keep = {}
  for i = 1, n do
    local f, v = ARGV[first + 2 * i - 1], ARGV[first + 2 * i]
    keep[f] = true
    if v ~= '' then
      redis.call('HSET', KEYS[1], f, v)
      clean = true
    end
  end
  -- Only a write that brings a list can leave an older one unnamed (lists never change once written), and only
  -- an operation that ended can leave pages written ahead unnamed (an interrupted plan).
  if not clean then return end
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, ${CHANGES_FIELD_PREFIX.length}) == '${CHANGES_FIELD_PREFIX}' and not keep[f] then redis.call('HDEL', KEYS[1], f) end
  end
end
`;

const CREATE_PROMOTION_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
${LISTS_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if not checkLists(6) then return -1 end
writeLists(6, ARGV[4] == '0')
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
${NOW_MS_LUA}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs)
if ARGV[4] == '1' then redis.call('ZADD', KEYS[2], nowMs + tonumber(ARGV[3]), ARGV[1]) end
-- the ID may come back after its old record expired: keep it once, at the front
redis.call('LREM', KEYS[3], 0, ARGV[1])
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
return 1
`;

// HGET returns false for a missing record, which never equals the expected version string.
const CAS_PROMOTION_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
${LISTS_LUA}
local version = redis.call('HGET', KEYS[1], 'version')
if version ~= ARGV[2] then
  -- A list sent just before (HSET) to a record that has expired made a hash of that list alone: no record.
  if not version then redis.call('DEL', KEYS[1]) end
  return 0
end
-- ARGV[7]: '1' when lists were sent just before this script, by a plain HSET; ARGV[6]: '0' when it leaves the
-- active index (ended): pages written ahead for a plan that was never recorded go then.
if not checkLists(8) then return -1 end
writeLists(8, ARGV[7] == '1' or ARGV[6] == '0')
redis.call('HSET', KEYS[1], 'json', ARGV[4], 'version', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
${NOW_MS_LUA}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs)
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[2], nowMs + tonumber(ARGV[5]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
`;

// A page of a plan's changes written ahead (change-lists.ts), only into a record that exists: a field set on a
// hash that has expired would make a hash of its own, without TTL.
const STAGE_CHANGES_LUA = `
if redis.call('HEXISTS', KEYS[1], 'json') == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// Conditional, so a record re-created between our read and this prune keeps its index entries.
const PRUNE_PROMOTION_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('LREM', KEYS[3], 0, ARGV[1])
return 1
`;

const RENEW_LOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

const RELEASE_LOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// One token bucket; the same steps as bucketStep() in types.ts (the memory store runs that function). One key:
// fine under Redis Cluster. The time is the caller's clock (ARGV[7]), not Redis's TIME: the budgets run on every
// API call, and TIME was a quarter of their commands. Time never goes back for the bucket: a replica whose clock
// is behind sees no refill until its clock passes the last caller's, and one ahead by d ms refills d ms × rate
// early, once (replicas on NTP differ by milliseconds).
const TOKEN_BUCKET_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local nowMs = tonumber(ARGV[7])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local minFactor = tonumber(ARGV[4])
local recover = tonumber(ARGV[5])
-- Tokens a take needs: itself, plus those kept back for calls that may not wait (at most burst - 1).
local needed = 1 + math.max(0, math.min(math.floor(tonumber(ARGV[8]) or 0), burst - 1))
-- One string 'tokens:at:factor' (GET and SET … PX: two commands a call, the budgets run on every API call).
local raw = redis.call('GET', KEYS[1])
local tokens, at, factor = burst, nowMs, 1
if raw then
  local a, b, c = string.match(raw, '^([^:]+):([^:]+):([^:]+)$')
  tokens = tonumber(a) or burst
  at = tonumber(b) or nowMs
  factor = tonumber(c) or 1
end
local elapsed = math.max(0, nowMs - at) / 1000
tokens = math.min(burst, tokens + elapsed * rate * factor)
factor = math.min(1, factor + elapsed * recover)
local granted = 0
if ARGV[1] == 'slow' then
  factor = math.max(minFactor, factor / 2)
  tokens = math.min(tokens, 0)
elseif tokens >= needed then
  tokens = tokens - 1
  granted = 1
end
local more = 0
if granted == 1 then more = math.max(0, math.min(math.floor(tonumber(ARGV[9]) or 0), math.floor(tokens - burst / 2))) end
tokens = tokens - more
local wait = 0
if granted == 0 then wait = math.max(1, math.ceil((needed - tokens) / (rate * factor) * 1000)) end
redis.call('SET', KEYS[1], tostring(tokens) .. ':' .. tostring(math.max(at, nowMs)) .. ':' .. tostring(factor), 'PX', ARGV[6])
return { granted, wait, tostring(factor), more }
`;

function defineScripts(redis: RedisClient): void {
  // Names are project-specific because defineCommand attaches them to a connection that the
  // caller may share with other code.
  redis.defineCommand('promoteBotCreatePromotion', { numberOfKeys: 3, lua: CREATE_PROMOTION_LUA });
  redis.defineCommand('promoteBotCasPromotion', { numberOfKeys: 2, lua: CAS_PROMOTION_LUA });
  redis.defineCommand('promoteBotStageChanges', { numberOfKeys: 1, lua: STAGE_CHANGES_LUA });
  redis.defineCommand('promoteBotPrunePromotion', { numberOfKeys: 3, lua: PRUNE_PROMOTION_LUA });
  redis.defineCommand('promoteBotRenewLock', { numberOfKeys: 1, lua: RENEW_LOCK_LUA });
  redis.defineCommand('promoteBotReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_LUA });
  redis.defineCommand('promoteBotTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
}

/**
 * Moves the promotion records and their indexes from the 0.1.0 key layout (`<prefix>promotion:<id>`,
 * `<prefix>promotions:active|recent`, no hash tag) to the tagged one. 0.1.0 ran on a single Redis only, so this
 * runs there (not on a Cluster); run it with no 0.1.0 replica left. Idempotent: a crash half-way is finished by
 * the next start. RENAME keeps a record's TTL; RENAMENX never overwrites a record written since. Returns how
 * many records it moved.
 */
export async function migrateKeyLayout(redis: Redis, opts: { prefix?: string } = {}): Promise<number> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const oldActive = `${prefix}promotions:active`;
  const oldRecent = `${prefix}promotions:recent`;
  const newActive = `${prefix}${OPS_TAG}:promotions:active`;
  const newRecent = `${prefix}${OPS_TAG}:promotions:recent`;
  return attempt('moving promotion records to the Cluster-ready key layout', async () => {
    const [active, recent] = await Promise.all([redis.zrange(oldActive, '0', '-1'), redis.lrange(oldRecent, 0, -1)]);
    if (active.length === 0 && recent.length === 0) return 0;
    let moved = 0;
    for (const id of new Set([...active, ...recent])) {
      try {
        moved += await redis.renamenx(`${prefix}promotion:${id}`, `${prefix}${OPS_TAG}:promotion:${id}`);
      } catch (err) {
        if (!/no such key/i.test(String((err as Error)?.message))) throw err; // expired: nothing to move
      }
    }
    // The indexes last, so a crash before this point leaves them to be read again at the next start.
    const tx = redis.multi().zunionstore(newActive, 2, newActive, oldActive, 'AGGREGATE', 'MAX').del(oldActive);
    // Older than anything created since: they go to the end of the newest-first list.
    if (recent.length) tx.rpush(newRecent, ...recent);
    await execOrThrow(tx.del(oldRecent));
    return moved;
  });
}

/** Runs one Redis operation and says what was being done when it fails, keeping the cause. */
async function attempt<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    if (isUnavailable(cause)) throw new StoreUnavailableError(what, { cause });
    throw new Error(what, { cause });
  }
}

/** MULTI and pipelines report per-command errors in their results instead of rejecting. */
async function execOrThrow(batch: ChainableCommander): Promise<unknown[]> {
  const results = await batch.exec();
  if (results === null) throw new Error('transaction aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** PX needs a positive integer; a zero/negative/NaN TTL is a caller bug, not a Redis error. */
function ttlArg(ttlMs: number, what: string): string {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`${what}: ttlMs must be a positive number, got ${ttlMs}`);
  return String(Math.ceil(ttlMs));
}

function toJson(value: unknown, what: string): string {
  const json = JSON.stringify(value);
  // JSON.stringify(undefined) (and of a function) is undefined: nothing we could read back.
  if (json === undefined) throw new TypeError(`${what}: value is not JSON-serialisable`);
  return json;
}

/** SCAN MATCH is a glob: escape the caller's text so `a*` matches only keys starting with "a*". */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function checkVersions(next: Promotion, expectedVersion: number): void {
  // A wrong version is a programming mistake, not contention: returning false would make the caller
  // reload and retry forever, so it throws instead.
  if (!Number.isInteger(expectedVersion) || next.version !== expectedVersion + 1) {
    throw new Error(
      `updating promotion ${next.id}: next.version must be expectedVersion + 1 (got ${next.version} after ${expectedVersion})`,
    );
  }
}

export function createRedisStore(redis: RedisClient, opts: RedisStoreOptions = {}): Store {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  // A brace in the prefix would become the hash tag of every key and override the store's own.
  if (/[{}]/.test(prefix)) throw new RangeError(`createRedisStore: the prefix must not contain { or }, got ${prefix}`);
  const auditKeep = opts.auditKeep ?? DEFAULT_AUDIT_KEEP;
  const clock = opts.now ?? Date.now;
  const recentKeep = opts.recentKeep ?? DEFAULT_RECENT_KEEP;
  // LTRIM 0 -1 keeps everything, so a zero cap would silently mean "no cap".
  for (const [name, n] of Object.entries({ auditKeep, recentKeep })) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`createRedisStore: ${name} must be a positive integer, got ${n}`);
  }
  defineScripts(redis);

  const promotionKey = (id: string) => `${prefix}${OPS_TAG}:promotion:${id}`;
  const activeKey = `${prefix}${OPS_TAG}:promotions:active`;
  const recentKey = `${prefix}${OPS_TAG}:promotions:recent`;
  const lockNs = `${prefix}lock:`;
  const auditKey = `${prefix}audit`;
  const promotionAuditKey = (id: string) => `${prefix}audit:promotion:${id}`;
  const jsonKey = (key: string) => `${prefix}json:${key}`;
  const listKey = (key: string) => `${prefix}list:${key}`;
  const bucketKey = (key: string) => `${prefix}bucket:${key}`;

  async function bucket(
    key: string,
    spec: TokenBucketSpec,
    op: 'take' | 'slow',
    reserve = 0,
    extra = 0,
  ): Promise<TokenGrant> {
    const c = checkBucketSpec(spec, `token bucket ${key}`);
    const [granted, waitMs, factor, more] = await attempt(
      `${op === 'take' ? 'taking a token from' : 'slowing'} ${key}`,
      () =>
        redis.promoteBotTokenBucket(
          bucketKey(key),
          op,
          String(c.ratePerSec),
          String(c.burst),
          String(c.minFactor),
          String(c.recoverPerSec),
          String(BUCKET_IDLE_MS),
          String(Math.round(clock())),
          String(reserve),
          String(extra),
        ),
    );
    return { granted: granted === 1, extra: Number(more ?? 0), waitMs: Number(waitMs), factor: Number(factor) };
  }
  // ioredis adds its own `keyPrefix` option to command keys but not to SCAN patterns or SCAN results.
  const clientPrefix = redis.options.keyPrefix ?? '';
  const isCluster = 'nodes' in redis && typeof redis.nodes === 'function';
  /** Where SCAN must run: it walks the keys of one node only. */
  const scanTargets = (): Redis[] => (isCluster ? (redis as Cluster).nodes('master') : [redis as Redis]);

  const lists = createChangeLists();
  const listArgs = (writes: readonly ListWrite[]) => [
    String(writes.length),
    ...writes.flatMap((w) => [w.field, w.value ?? '']),
  ];

  /** Pages being written ahead, by record: a write of the record waits for them (see stageChanges). */
  const staging = new Map<string, Set<Promise<void>>>();
  async function stagedFor(id: string): Promise<void> {
    const pending = staging.get(id);
    if (pending) await Promise.all(pending);
  }

  /** A record from its JSON, its change lists filled in; undefined when a list went meanwhile (read again). */
  const hydrate = (id: string, json: string) =>
    lists.hydrate(id, json, (fields) => redis.hmget(promotionKey(id), ...fields));

  /** Reads one record whole; `undefined` once it has expired. */
  async function readRecord(id: string): Promise<Promotion | undefined> {
    // A list can go between reading the JSON and the list only when the record was re-planned meanwhile.
    for (let attempt = 0; ; attempt++) {
      const json = await redis.hget(promotionKey(id), 'json');
      if (json === null) return undefined;
      const p = await hydrate(id, json);
      if (p) return p;
      if (attempt >= 5) throw new Error(`reading promotion ${id}: its change list keeps changing`);
    }
  }

  /** Fetches records in order; `undefined` where the record has expired. */
  async function readRecords(ids: string[]): Promise<Array<Promotion | undefined>> {
    if (ids.length === 0) return [];
    const batch = redis.pipeline();
    for (const id of ids) batch.hget(promotionKey(id), 'json');
    const values = await execOrThrow(batch);
    return Promise.all(
      values.map(async (v, i) =>
        typeof v === 'string' ? ((await hydrate(ids[i]!, v)) ?? readRecord(ids[i]!)) : undefined,
      ),
    );
  }

  async function prune(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const batch = redis.pipeline();
    for (const id of ids) batch.promoteBotPrunePromotion(promotionKey(id), activeKey, recentKey, id);
    await execOrThrow(batch);
  }

  async function listRange<T>(key: string, limit: number): Promise<T[]> {
    if (limit <= 0) return []; // LRANGE 0 -1 would mean "everything"
    const values = await redis.lrange(key, 0, limit - 1);
    return values.map((v) => JSON.parse(v) as T);
  }

  return {
    durable: true,

    async createPromotion(p, { active, ttlMs }) {
      if (p.version !== 1)
        throw new Error(`storing promotion ${p.id}: a new promotion has version 1, got ${p.version}`);
      const ttl = ttlArg(ttlMs, `storing promotion ${p.id}`);
      await stagedFor(p.id);
      const stored = lists.dehydrate(p);
      const created = await attempt(`storing promotion ${p.id}`, () =>
        redis.promoteBotCreatePromotion(
          promotionKey(p.id),
          activeKey,
          recentKey,
          p.id,
          stored.json,
          ttl,
          active ? '1' : '0',
          String(recentKeep),
          // A new record: every list is sent.
          ...listArgs(stored.lists.map((l) => ({ ...l, value: l.value ?? JSON.stringify(l.list) }))),
        ),
      );
      if (created === 1) lists.written(p.id, stored.lists);
      return created === 1;
    },

    getPromotion(id) {
      return attempt(`reading promotion ${id}`, () => readRecord(id));
    },

    async casPromotion(next, expectedVersion, { active, ttlMs }) {
      checkVersions(next, expectedVersion);
      const what = `updating promotion ${next.id} from version ${expectedVersion}`;
      const ttl = ttlArg(ttlMs, what);
      const key = promotionKey(next.id);
      const swap = (stored: ReturnType<typeof lists.dehydrate>) =>
        attempt(what, async () => {
          const args = [
            key,
            activeKey,
            next.id,
            String(expectedVersion),
            String(next.version),
            stored.json,
            ttl,
            active ? '1' : '0',
          ] as const;
          const sending = stored.lists.filter((l) => l.value !== undefined);
          if (sending.length === 0) return redis.promoteBotCasPromotion(...args, '0', ...listArgs(stored.lists));
          // A new list goes as a plain HSET before the script, as a Buffer: for a list of 750 KB, a script's
          // argument took Redis twice as long (it is copied into a Lua string), and ioredis writes a Buffer in
          // a fraction of the time it takes for a string. The script then only checks it is there. One MULTI, so
          // both run or neither (a dropped connection never leaves the HSET alone on an expired record, which
          // would be a hash without TTL; the script deletes that hash when it finds no record).
          const batch = redis
            .multi()
            .hset(key, ...sending.flatMap((l) => [l.field, Buffer.from(l.value!)]))
            .promoteBotCasPromotion(
              ...args,
              '1',
              ...listArgs(stored.lists.map((l) => ({ field: l.field, list: l.list }))),
            );
          return (await execOrThrow(batch))[1] as number;
        });
      await stagedFor(next.id);
      let stored = lists.dehydrate(next);
      let swapped = await swap(stored);
      if (swapped === -1) {
        // A list (or a page written ahead) this process thought the hash held is gone (the record expired and
        // came back, or was re-planned meanwhile): send them all.
        lists.forget(next);
        stored = lists.dehydrate(next);
        swapped = await swap(stored);
      }
      if (swapped === 1) lists.written(next.id, stored.lists);
      return swapped === 1;
    },

    stageChanges(id, changes) {
      const page = lists.stage(changes);
      const value = Buffer.from(page.value!);
      const pending = staging.get(id) ?? new Set<Promise<void>>();
      staging.set(id, pending);
      // Never rejects: a page that could not be written ahead is sent with the record.
      const done = redis.promoteBotStageChanges(promotionKey(id), page.field, value).then(
        (written) => {
          if (written === 1) lists.staged(id, page);
        },
        () => undefined,
      );
      const settled = done.finally(() => {
        pending.delete(settled);
        if (pending.size === 0 && staging.get(id) === pending) staging.delete(id);
      });
      pending.add(settled);
    },

    listActive() {
      return attempt('listing active promotions', async () => {
        const ids = await redis.zrange(activeKey, '0', '-1');
        const records = await readRecords(ids);
        await prune(ids.filter((_, i) => records[i] === undefined));
        return records.filter((r): r is Promotion => r !== undefined);
      });
    },

    listRecent(limit) {
      return attempt('listing recent promotions', async () => {
        if (limit <= 0) return [];
        // The whole list is at most recentKeep IDs; reading it at once avoids index shifts from
        // concurrent pushes. Records are fetched only until `limit` live ones are found.
        const ids = await redis.lrange(recentKey, 0, -1);
        const found: Promotion[] = [];
        const expired: string[] = [];
        let next = 0;
        while (found.length < limit && next < ids.length) {
          const chunk = ids.slice(next, next + (limit - found.length));
          next += chunk.length;
          const records = await readRecords(chunk);
          records.forEach((r, i) => {
            if (r) found.push(r);
            else expired.push(chunk[i]!);
          });
        }
        await prune(expired);
        return found;
      });
    },

    takeToken: (key, spec, reserve, extra) => bucket(key, spec, 'take', reserve, extra),
    slowDown: (key, spec) => bucket(key, spec, 'slow'),

    async acquire(key, holder, ttlMs): Promise<AcquireResult> {
      const ttl = ttlArg(ttlMs, `taking lock ${key}`);
      return attempt(`taking lock ${key}`, async () => {
        // A lock can expire between the failed SET and the GET; then nobody holds it and we try
        // again. Bounded, because a lock that keeps expiring in that gap is someone else's problem.
        for (let tries = 0; tries < 3; tries++) {
          if ((await redis.set(lockNs + key, holder, 'PX', ttl, 'NX')) === 'OK') return { acquired: true };
          const current = await redis.get(lockNs + key);
          if (current !== null) return { acquired: false, holder: current };
        }
        throw new Error('the lock kept expiring between SET NX and GET');
      });
    },

    async renew(key, holder, ttlMs) {
      const ttl = ttlArg(ttlMs, `renewing lock ${key}`);
      const renewed = await attempt(`renewing lock ${key}`, () => redis.promoteBotRenewLock(lockNs + key, holder, ttl));
      return renewed === 1;
    },

    async release(key, holder) {
      const released = await attempt(`releasing lock ${key}`, () => redis.promoteBotReleaseLock(lockNs + key, holder));
      return released === 1;
    },

    holder(key) {
      return attempt(`reading holder of lock ${key}`, async () => (await redis.get(lockNs + key)) ?? undefined);
    },

    listHeld(keyPrefix) {
      return attempt(`listing held locks starting with ${keyPrefix}`, async () => {
        // SCAN, never KEYS: KEYS blocks the server for the whole keyspace. On a Cluster, on every master.
        const pattern = `${escapeGlob(clientPrefix + lockNs + keyPrefix)}*`;
        const found = new Set<string>(); // SCAN may return a key more than once
        for (const node of scanTargets()) {
          let cursor = '0';
          do {
            const [nextCursor, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
            cursor = nextCursor;
            for (const k of keys) found.add(k.slice(clientPrefix.length + lockNs.length));
          } while (cursor !== '0');
        }
        const keys = [...found];
        if (keys.length === 0) return [];
        // One GET per key, not MGET: on a Cluster the locks live in different slots.
        const holders = await Promise.all(keys.map((k) => redis.get(lockNs + k)));
        const held: Array<{ key: string; holder: string }> = [];
        keys.forEach((key, i) => {
          const holder = holders[i];
          if (typeof holder === 'string') held.push({ key, holder }); // expired since the SCAN: skip
        });
        return held;
      });
    },

    async appendAudit(entry) {
      const what = `appending audit entry ${entry.action}${entry.promotionId ? ` for promotion ${entry.promotionId}` : ''}`;
      const json = toJson(entry, what);
      await attempt(what, async () => {
        // Two transactions, one per list: on a Cluster the lists live in different slots, and nothing
        // reads them as a pair.
        const global = execOrThrow(
          redis
            .multi()
            .lpush(auditKey, json)
            .ltrim(auditKey, 0, auditKeep - 1),
        );
        const key = entry.promotionId ? promotionAuditKey(entry.promotionId) : undefined;
        const own =
          key &&
          execOrThrow(
            redis
              .multi()
              .lpush(key, json)
              .ltrim(key, 0, auditKeep - 1)
              .pexpire(key, PROMOTION_AUDIT_TTL_MS),
          );
        await Promise.all([global, own]);
      });
    },

    readAudit({ promotionId, limit }) {
      const what = promotionId ? `reading audit of promotion ${promotionId}` : 'reading audit';
      return attempt(what, () => listRange<AuditEntry>(promotionId ? promotionAuditKey(promotionId) : auditKey, limit));
    },

    getJson<T>(key: string) {
      return attempt(`reading JSON value ${key}`, async () => {
        const json = await redis.get(jsonKey(key));
        return json === null ? undefined : (JSON.parse(json) as T);
      });
    },

    async setJson(key, value, ttlMs) {
      const what = `writing JSON value ${key}`;
      const json = toJson(value, what);
      const ttl = ttlMs === undefined ? undefined : ttlArg(ttlMs, what);
      // Without a TTL, plain SET also clears an earlier TTL: the value becomes permanent.
      await attempt(what, () =>
        ttl === undefined ? redis.set(jsonKey(key), json) : redis.set(jsonKey(key), json, 'PX', ttl),
      );
    },

    async del(key) {
      await attempt(`deleting JSON value ${key}`, () => redis.del(jsonKey(key)));
    },

    async pushCapped(key, value, keep) {
      const what = `pushing onto list ${key}`;
      const json = toJson(value, what);
      if (!Number.isInteger(keep) || keep < 1)
        throw new RangeError(`${what}: keep must be a positive integer, got ${keep}`);
      await attempt(what, () =>
        execOrThrow(
          redis
            .multi()
            .lpush(listKey(key), json)
            .ltrim(listKey(key), 0, keep - 1),
        ),
      );
    },

    listCapped<T>(key: string, limit: number) {
      return attempt(`reading list ${key}`, () => listRange<T>(listKey(key), limit));
    },

    async ping() {
      await attempt('pinging Redis', () => redis.ping());
    },

    async close() {
      if (redis.status === 'end') return;
      // lazyConnect and never used: QUIT would open a connection just to close it.
      if (redis.status === 'wait') return redis.disconnect();
      // QUIT resolves on the server's reply (or at once while not connected) but the socket closes
      // a moment later, so wait for 'end' when there is a socket. While ioredis is 'reconnecting'
      // there is none and 'end' never fires: QUIT just cancels the reconnect timer.
      const hasSocket = ['connecting', 'connect', 'ready', 'monitoring'].includes(redis.status);
      const ended = hasSocket ? new Promise((resolve) => redis.once('end', resolve)) : undefined;
      await attempt('closing the Redis connection', () => redis.quit());
      if (ended) await ended; // registered before QUIT, so an 'end' that already fired counts
    },
  };
}
