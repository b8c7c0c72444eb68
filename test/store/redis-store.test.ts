import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClassifiedChange, Plan } from '../../src/domain/types.js';
import { createRedisClient } from '../../src/store/redis-connect.js';
import { createRedisStore, migrateKeyLayout } from '../../src/store/redis-store.js';
import { parseRedisTarget } from '../../src/store/redis-target.js';
import type { Store } from '../../src/store/types.js';
import { promotion, storeContract } from './store-contract.js';

const HOUR = 60 * 60 * 1000;
const opts = { active: true, ttlMs: HOUR };

// One admin connection per file, for cleaning up and for looking at keys behind the store's back.
let admin: Redis;
beforeAll(() => {
  admin = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await admin.quit();
});

async function deleteKeys(prefix: string): Promise<void> {
  const stream = admin.scanStream({ match: `${prefix}*`, count: 500 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await admin.del(...keys);
}

const uniquePrefix = () => `test:store:${randomUUID()}:`;

storeContract('redis store', async (opts) => {
  const prefix = uniquePrefix();
  const store = createRedisStore(new Redis(inject('redisUrl')), { ...opts, prefix });
  return { store, cleanup: () => deleteKeys(prefix) };
});

// Again through the client the bot builds (src/store/redis-connect.ts: its timeouts, auto-pipelining).
storeContract("redis store through the bot's client", async (opts) => {
  const prefix = uniquePrefix();
  const target = parseRedisTarget({ REDIS_URL: inject('redisUrl') });
  if (!target.ok || !target.value) throw new Error('REDIS_URL not read');
  const client = createRedisClient(target.value);
  await client.connect(); // as src/main.ts does
  const store = createRedisStore(client, { ...opts, prefix });
  return { store, cleanup: () => deleteKeys(prefix) };
});

describe('redis store', () => {
  let prefix: string;
  let redis: Redis;
  let store: Store;

  // These tests look at keys directly, so they build their own store instead of using the contract's.
  const open = () => {
    prefix = uniquePrefix();
    redis = new Redis(inject('redisUrl'));
    store = createRedisStore(redis, { prefix });
  };
  afterEach(async () => {
    await store.close();
    await deleteKeys(prefix);
  });

  it('shares a token bucket between clients: concurrent takers never get more than burst + rate × time', async () => {
    open();
    const other = createRedisStore(new Redis(inject('redisUrl')), { prefix });
    const spec = { ratePerSec: 50, burst: 5 };
    let granted = 0;
    let refused = 0;
    const started = performance.now();
    let stop = false;
    const taker = async (s: Store) => {
      while (!stop) {
        const g = await s.takeToken('budget:shared', spec);
        if (g.granted) granted++;
        else refused++;
      }
    };
    try {
      const takers = [taker(store), taker(store), taker(other), taker(other)];
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await Promise.all(takers);
      const elapsedSec = (performance.now() - started) / 1000;
      // Whatever the machine's speed: never more than the bucket allows over the time the takers ran.
      expect(granted).toBeGreaterThanOrEqual(spec.burst);
      expect(granted).toBeLessThanOrEqual(spec.burst + Math.ceil(spec.ratePerSec * elapsedSec) + 1);
      expect(refused).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('runs a token bucket on the callers’ clocks without letting one that is behind or ahead take much more', async () => {
    open();
    const spec = { ratePerSec: 1, burst: 2 };
    const at = Date.now();
    const behind = createRedisStore(new Redis(inject('redisUrl')), { prefix, now: () => at - 60_000 });
    const ahead = createRedisStore(new Redis(inject('redisUrl')), { prefix, now: () => at + 1_000 });
    const exact = createRedisStore(new Redis(inject('redisUrl')), { prefix, now: () => at });
    try {
      const take = async (s: Store) => (await s.takeToken('budget:clocks', spec)).granted;
      expect([await take(exact), await take(exact), await take(exact)]).toEqual([true, true, false]);
      // A minute behind: no refill, and no credit for the minute either.
      expect(await take(behind)).toBe(false);
      // A second ahead: that second's refill (one token at 1/s), once.
      expect([await take(ahead), await take(ahead)]).toEqual([true, false]);
      // The bucket's time stays at the newest clock seen: the exact replica gets nothing more until it passes it.
      expect(await take(exact)).toBe(false);
    } finally {
      await Promise.all([behind.close(), ahead.close(), exact.close()]);
    }
  });

  it('keeps a token bucket in one string (tokens:at:factor) under the prefix, expiring once idle', async () => {
    open();
    await store.takeToken('budget:cloudformation:123456789012/eu-west-1', { ratePerSec: 4, burst: 8 });
    const key = `${prefix}bucket:budget:cloudformation:123456789012/eu-west-1`;
    expect(await admin.type(key)).toBe('string');
    const [tokens, at, factor] = (await admin.get(key))!.split(':').map(Number);
    expect(tokens).toBeCloseTo(7, 1);
    expect(at).toBeGreaterThan(0);
    expect(factor).toBe(1);
    expect(await admin.pttl(key)).toBeGreaterThan(60_000);
  });

  it('says it is durable', () => {
    open();
    expect(store.durable).toBe(true);
  });

  it('puts every key under its prefix, so stores with different prefixes do not see each other', async () => {
    open();
    const other = createRedisStore(new Redis(inject('redisUrl')), { prefix: uniquePrefix() });
    try {
      await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR });
      await store.acquire('k', 'alice', HOUR);
      await store.appendAudit({ at: 'x', actor: 'U1', action: 'planned', promotionId: 'p1' });
      await store.setJson('j', 1);
      await store.pushCapped('l', 1, 5);
      expect(await other.getPromotion('p1')).toBeUndefined();
      expect(await other.listActive()).toEqual([]);
      expect(await other.listRecent(10)).toEqual([]);
      expect(await other.holder('k')).toBeUndefined();
      expect(await other.listHeld('')).toEqual([]);
      expect(await other.readAudit({ limit: 10 })).toEqual([]);
      expect(await other.getJson('j')).toBeUndefined();
      expect(await other.listCapped('l', 10)).toEqual([]);
      const keys = await scanAll(`${prefix}*`);
      expect(keys.length).toBeGreaterThanOrEqual(7);
    } finally {
      await other.close();
    }
  });

  it('gives promotions, locks and per-promotion audit lists a TTL', async () => {
    open();
    await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR });
    await store.acquire('k', 'alice', HOUR);
    await store.appendAudit({ at: 'x', actor: 'U1', action: 'planned', promotionId: 'p1' });
    const withTtl = await Promise.all(
      [`${prefix}{ops}:promotion:p1`, `${prefix}lock:k`, `${prefix}audit:promotion:p1`].map((k) => admin.pttl(k)),
    );
    for (const ttl of withTtl) expect(ttl).toBeGreaterThan(0);
    expect(withTtl[0]).toBeLessThanOrEqual(HOUR);
  });

  it('drops an ID from the active index when its record is gone', async () => {
    open();
    await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR });
    await store.createPromotion(promotion('p2'), { active: true, ttlMs: HOUR });
    await admin.del(`${prefix}{ops}:promotion:p1`); // as if it had expired
    expect((await store.listActive()).map((p) => p.id)).toEqual(['p2']);
    expect(await admin.zrange(`${prefix}{ops}:promotions:active`, '0', '-1')).toEqual(['p2']);
    expect((await store.listRecent(10)).map((p) => p.id)).toEqual(['p2']);
    expect(await admin.lrange(`${prefix}{ops}:promotions:recent`, 0, -1)).toEqual(['p2']);
  });

  it('drops expired IDs from the active index on the next write, without anyone listing it', async () => {
    open();
    await store.createPromotion(promotion('short'), { active: true, ttlMs: 150 });
    await new Promise((r) => setTimeout(r, 400));
    await store.createPromotion(promotion('next'), { active: true, ttlMs: HOUR });
    expect(await admin.zrange(`${prefix}{ops}:promotions:active`, '0', '-1')).toEqual(['next']);
  });

  it('says what it was doing when Redis fails, keeping the cause', async () => {
    open();
    await admin.set(`${prefix}{ops}:promotion:p1`, 'not a hash');
    const err = await store.getPromotion('p1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('reading promotion p1');
    expect(((err as Error).cause as Error).message).toMatch(/WRONGTYPE/);
    await expect(store.createPromotion(promotion('p2'), { active: true, ttlMs: HOUR })).resolves.toBe(true);
  });

  it('reports errors inside a MULTI instead of swallowing them', async () => {
    open();
    await admin.set(`${prefix}audit`, 'not a list');
    await expect(store.appendAudit({ at: 'x', actor: 'U1', action: 'planned' })).rejects.toThrow(
      'appending audit entry planned',
    );
  });

  it('refuses a cap below 1 before touching the connection', () => {
    open();
    const unused = new Redis(inject('redisUrl'), { lazyConnect: true });
    expect(() => createRedisStore(unused, { auditKeep: 0 })).toThrow(RangeError);
    expect(unused.status).toBe('wait');
    unused.disconnect();
  });

  it('moves the promotion records and indexes of the 0.1.0 key layout to the tagged one, once', async () => {
    open();
    // As 0.1.0 left them: p-old active, p-done finished, p-gone expired; p-new created by this version.
    await admin.hset(`${prefix}promotion:p-old`, 'json', JSON.stringify(promotion('p-old')), 'version', '1');
    await admin.pexpire(`${prefix}promotion:p-old`, HOUR);
    await admin.hset(`${prefix}promotion:p-done`, 'json', JSON.stringify(promotion('p-done')), 'version', '1');
    await admin.zadd(`${prefix}promotions:active`, Date.now() + HOUR, 'p-old', Date.now() + HOUR, 'p-gone');
    await admin.rpush(`${prefix}promotions:recent`, 'p-old', 'p-done', 'p-gone');
    await store.createPromotion(promotion('p-new'), { active: true, ttlMs: HOUR });

    expect(await migrateKeyLayout(redis, { prefix })).toBe(2);
    expect((await store.listActive()).map((p) => p.id).sort()).toEqual(['p-new', 'p-old']);
    expect((await store.listRecent(10)).map((p) => p.id)).toEqual(['p-new', 'p-old', 'p-done']);
    expect(await admin.pttl(`${prefix}{ops}:promotion:p-old`)).toBeGreaterThan(0);
    expect(await scanAll(`${prefix}promotion*`)).toEqual([]);
    expect(await migrateKeyLayout(redis, { prefix })).toBe(0);
  });

  describe('plan change lists, stored once per record', () => {
    const change = (i: number, reason = `Adds queue Q${i}`): ClassifiedChange => ({
      logicalId: `Q${i}`,
      resourceType: 'AWS::SQS::Queue',
      action: 'Add',
      impact: 'add',
      reason,
      forcedBy: [],
      properties: [{ path: 'Properties.QueueName', after: `q-${i}` }],
      dataBearing: false,
    });
    const planOf = (n: number, reason?: string): Plan => ({
      changes: Array.from({ length: n }, (_, i) => change(i, reason)),
      counts: { total: n, added: n, modified: 0, removed: 0, replaced: 0, minor: 0 },
    });
    const recordKey = (id: string) => `${prefix}{ops}:promotion:${id}`;
    const listFields = async (id: string) => (await admin.hkeys(recordKey(id))).filter((f) => f.startsWith('changes:'));

    it('keeps the list in a field of its own, sends it once, and another replica reads the whole plan', async () => {
      open();
      const plan = planOf(300);
      const original = structuredClone(plan);
      await store.createPromotion(promotion('p1'), opts);
      expect(await store.casPromotion(promotion('p1', { version: 2, plan, state: 'awaiting_approval' }), 1, opts)).toBe(
        true,
      );
      const json = JSON.parse((await admin.hget(recordKey('p1'), 'json'))!);
      expect(json.plan.changes).toBeUndefined();
      expect(await listFields('p1')).toEqual([`changes:${json.plan.changesRef}`]);
      // The next transition keeps the plan: the command carries the record's JSON, not the list again.
      const monitor = await admin.duplicate().monitor();
      const sent: string[] = [];
      monitor.on('monitor', (_t: string, args: string[]) => sent.push(args.join(' ')));
      const read = (await store.getPromotion('p1'))!;
      expect(await store.casPromotion({ ...read, version: 3, state: 'approved' }, 2, opts)).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      monitor.disconnect();
      const evals = sent.filter((c) => /^evalsha /i.test(c));
      expect(evals).toHaveLength(1);
      expect(evals[0]!.length).toBeLessThan(2_000);
      expect(sent.some((c) => /^hmget /i.test(c))).toBe(false); // read from memory, not from Redis
      // Another replica (nothing in memory) reads the plan whole.
      const other = createRedisStore(new Redis(inject('redisUrl')), { prefix });
      try {
        const seen = (await other.getPromotion('p1'))!;
        expect(seen.version).toBe(3);
        expect(seen.plan).toEqual(original);
        const listed = (await other.listActive()).find((p) => p.id === 'p1')!;
        expect(listed.plan).toEqual(original);
      } finally {
        await other.close();
      }
    });

    it('deletes the old list when the record is re-planned, and shares a list between two plans of it', async () => {
      open();
      const first = planOf(5, 'first');
      await store.createPromotion(promotion('p2', { plan: first }), opts);
      const [before] = await listFields('p2');
      const second = planOf(7, 'second');
      // parts hold their own plans; the same list twice is one field
      const next = promotion('p2', {
        version: 2,
        plan: second,
        parts: [
          { stack: 'api-prod', target: { stack: 'api-prod', region: 'eu-west-1' }, status: 'planned', plan: second },
        ],
      });
      expect(await store.casPromotion(next, 1, opts)).toBe(true);
      const after = await listFields('p2');
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(before);
      const other = createRedisStore(new Redis(inject('redisUrl')), { prefix });
      try {
        const seen = (await other.getPromotion('p2'))!;
        expect(seen.plan?.changes.map((c) => c.reason)).toEqual(Array(7).fill('second'));
        expect(seen.parts?.[0]?.plan?.changes).toHaveLength(7);
      } finally {
        await other.close();
      }
    });

    it('gives lists out frozen, so no caller changes what other records share', async () => {
      open();
      await store.createPromotion(promotion('p3', { plan: planOf(3) }), opts);
      const read = (await store.getPromotion('p3'))!;
      expect(() => read.plan!.changes.push(change(9))).toThrow(TypeError);
      expect(() => {
        read.plan!.changes[0]!.reason = 'changed';
      }).toThrow(TypeError);
      expect((await store.getPromotion('p3'))!.plan!.changes[0]!.reason).toBe('Adds queue Q0');
    });

    it('sends the list again when the hash lost it behind its back', async () => {
      open();
      await store.createPromotion(promotion('p4', { plan: planOf(4) }), opts);
      const read = (await store.getPromotion('p4'))!;
      const [field] = await listFields('p4');
      await admin.hdel(recordKey('p4'), field!);
      expect(await store.casPromotion({ ...read, version: 2 }, 1, opts)).toBe(true);
      expect(await listFields('p4')).toEqual([field]);
      const other = createRedisStore(new Redis(inject('redisUrl')), { prefix });
      try {
        expect((await other.getPromotion('p4'))!.plan!.changes).toHaveLength(4);
      } finally {
        await other.close();
      }
    });

    describe('written ahead in pages', () => {
      /** `pages` pages of `size` changes each, the reason naming the page */
      const pagesOf = (pages: number, size: number) =>
        Array.from({ length: pages }, (_, k) =>
          Array.from({ length: size }, (_, i) => ({ ...change(k * size + i), reason: `page ${k}` })),
        );
      const planFrom = (changes: ClassifiedChange[]): Plan => ({
        changes,
        counts: { total: changes.length, added: changes.length, modified: 0, removed: 0, replaced: 0, minor: 0 },
      });
      /** The record as a replica with nothing in memory reads it */
      async function seenByAnother(id: string) {
        const other = createRedisStore(new Redis(inject('redisUrl')), { prefix });
        try {
          return (await other.getPromotion(id))!;
        } finally {
          await other.close();
        }
      }
      /** Commands the store sends while `f` runs, as Redis saw them */
      async function sentDuring(f: () => Promise<unknown>): Promise<string[]> {
        const monitor = await admin.duplicate().monitor();
        const sent: string[] = [];
        monitor.on('monitor', (_t: string, args: string[]) => sent.push(args.join(' ')));
        await f();
        await new Promise((r) => setTimeout(r, 50));
        monitor.disconnect();
        return sent;
      }

      it('sends only what was not written ahead with the record, and another replica reads the plan in its order', async () => {
        open();
        const pages = pagesOf(3, 40);
        // The plan's order is not the pages' order (plans are sorted worst first).
        const plan = planFrom(pages.flat().reverse());
        const original = structuredClone(plan);
        await store.createPromotion(promotion('p6'), opts);
        store.stageChanges!('p6', pages[0]!);
        store.stageChanges!('p6', pages[1]!);
        await store.getPromotion('p6'); // after the pages, on the same connection
        expect(await listFields('p6')).toHaveLength(2);
        const sent = await sentDuring(() =>
          store.casPromotion(promotion('p6', { version: 2, plan, state: 'awaiting_approval' }), 1, opts),
        );
        // The record's write sends the last page and the order, not the pages written ahead.
        const written = sent.join('\n');
        expect(written).toContain('page 2');
        expect(written).not.toContain('page 0');
        expect(written).not.toContain('page 1');
        const json = JSON.parse((await admin.hget(recordKey('p6'), 'json'))!);
        expect(json.plan.changesPages).toHaveLength(3);
        expect((await listFields('p6')).sort()).toEqual(
          [json.plan.changesRef, ...json.plan.changesPages].map((f: string) => `changes:${f}`).sort(),
        );
        const read = (await store.getPromotion('p6'))!;
        expect(read.plan!.changes).toBe(plan.changes); // the same list, from memory
        // The next transition names the fields and sends none of them.
        const next = await sentDuring(() => store.casPromotion({ ...read, version: 3, state: 'approved' }, 2, opts));
        expect(next.join('\n')).not.toContain('page ');
        const seen = await seenByAnother('p6');
        expect(seen.version).toBe(3);
        expect(seen.plan).toEqual(original);
      });

      it('stores a list whole when it is not made of whole pages written ahead', async () => {
        open();
        const pages = pagesOf(2, 10);
        await store.createPromotion(promotion('p7'), opts);
        store.stageChanges!('p7', pages[0]!);
        store.stageChanges!('p7', pages[1]!);
        // Half of page 1 only: stored whole, and the pages written ahead are no longer named, so they go.
        const plan = planFrom([...pages[0]!, ...pages[1]!.slice(0, 5)]);
        const original = structuredClone(plan);
        expect(await store.casPromotion(promotion('p7', { version: 2, plan }), 1, opts)).toBe(true);
        const json = JSON.parse((await admin.hget(recordKey('p7'), 'json'))!);
        expect(json.plan.changesPages).toBeUndefined();
        expect(await listFields('p7')).toEqual([`changes:${json.plan.changesRef}`]);
        expect((await seenByAnother('p7')).plan).toEqual(original);
      });

      it('deletes pages written ahead for a plan never recorded once the operation ends', async () => {
        open();
        await store.createPromotion(promotion('p8'), opts);
        store.stageChanges!('p8', pagesOf(1, 10)[0]!);
        await store.getPromotion('p8'); // after the page on the same connection
        expect(await listFields('p8')).toHaveLength(1);
        // Still running: a transition without a plan keeps it (its plan may be on the way).
        expect(await store.casPromotion(promotion('p8', { version: 2 }), 1, opts)).toBe(true);
        expect(await listFields('p8')).toHaveLength(1);
        expect(
          await store.casPromotion(promotion('p8', { version: 3, state: 'plan_failed' }), 2, {
            ...opts,
            active: false,
          }),
        ).toBe(true);
        expect(await listFields('p8')).toEqual([]);
      });

      it('never writes a page into a record that is gone (a hash without TTL)', async () => {
        open();
        store.stageChanges!('p9', pagesOf(1, 3)[0]!);
        expect(await store.getPromotion('p9')).toBeUndefined();
        expect(await admin.exists(recordKey('p9'))).toBe(0);
      });

      it('sends a page again when the hash lost it behind its back', async () => {
        open();
        const pages = pagesOf(2, 10);
        await store.createPromotion(promotion('p10'), opts);
        store.stageChanges!('p10', pages[0]!);
        await store.getPromotion('p10');
        const [page] = await listFields('p10');
        await admin.hdel(recordKey('p10'), page!);
        const plan = planFrom(pages.flat());
        const original = structuredClone(plan);
        expect(await store.casPromotion(promotion('p10', { version: 2, plan }), 1, opts)).toBe(true);
        expect((await seenByAnother('p10')).plan).toEqual(original);
      });
    });

    it('still reads a record written with its list inline (before lists were stored apart)', async () => {
      open();
      const plan = planOf(2);
      await admin.hset(recordKey('p5'), 'json', JSON.stringify(promotion('p5', { plan })), 'version', '1');
      expect((await store.getPromotion('p5'))!.plan).toEqual(plan);
    });
  });

  it('quits its connection on close, and closing twice is fine', async () => {
    open();
    await store.close();
    expect(redis.status).toBe('end');
    await store.close();
  });
});

async function scanAll(match: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of admin.scanStream({ match }) as AsyncIterable<string[]>) found.push(...keys);
  return found;
}
