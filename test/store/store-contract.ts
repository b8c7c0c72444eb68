// The behaviour every `Store` must have, run against each implementation (Redis and in-memory).
// TTL tests use short TTLs; `elapse` advances an injected clock when the store has one and
// otherwise really waits (Redis), so the TTLs here are kept short but well apart from the waits.
import { afterEach, describe, expect, it } from 'vitest';
import type { Promotion } from '../../src/domain/types.js';
import type { AuditEntry, Store } from '../../src/store/types.js';

export interface StoreUnderTest {
  store: Store;
  /** Moves the store's clock forward; absent = the store runs on real time. */
  advance?: (ms: number) => Promise<void>;
  /** Removes what the test left behind (after `store.close()` has run). */
  cleanup?: () => Promise<void>;
}

export interface StoreOptionsForTest {
  auditKeep?: number;
  recentKeep?: number;
}

const HOUR = 60 * 60 * 1000;
const opts = { active: true, ttlMs: HOUR };

export function promotion(id: string, overrides: Partial<Promotion> = {}): Promotion {
  return {
    id,
    version: 1,
    kind: 'promote',
    service: 'api',
    from: 'dev',
    to: 'prod',
    requester: 'U123',
    channel: 'C123',
    state: 'planning',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    target: { stack: 'api-prod', region: 'eu-west-1' },
    approvals: [],
    ...overrides,
  };
}

function entry(action: string, promotionId?: string): AuditEntry {
  return { at: '2025-01-01T00:00:00.000Z', actor: 'U123', action, ...(promotionId ? { promotionId } : {}) };
}

const ids = (ps: Promotion[]) => ps.map((p) => p.id);

export function storeContract(name: string, make: (opts?: StoreOptionsForTest) => Promise<StoreUnderTest>): void {
  describe(`${name} (Store contract)`, () => {
    const opened: StoreUnderTest[] = [];

    async function open(o?: StoreOptionsForTest): Promise<StoreUnderTest & { elapse: (ms: number) => Promise<void> }> {
      const sut = await make(o);
      opened.push(sut);
      const elapse = sut.advance ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
      return { ...sut, elapse };
    }

    afterEach(async () => {
      for (const sut of opened.splice(0)) {
        await sut.store.close();
        await sut.cleanup?.();
      }
    });

    describe('ping', () => {
      it('answers while the store is open, and fails once it is closed', async () => {
        const { store } = await open();
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await expect(store.ping()).rejects.toThrow();
      });
    });

    describe('promotions', () => {
      it('stores a new promotion and reads it back', async () => {
        const { store } = await open();
        const p = promotion('p1', { plan: { changes: [], counts: emptyCounts() } });
        expect(await store.createPromotion(p, opts)).toBe(true);
        expect(await store.getPromotion('p1')).toEqual(p);
      });

      it('returns undefined for an unknown promotion', async () => {
        const { store } = await open();
        expect(await store.getPromotion('nope')).toBeUndefined();
      });

      it('refuses to create a promotion whose ID exists, keeping the first', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1', { service: 'first' }), opts);
        expect(await store.createPromotion(promotion('p1', { service: 'second' }), opts)).toBe(false);
        expect((await store.getPromotion('p1'))?.service).toBe('first');
      });

      it('throws when a new promotion does not have version 1', async () => {
        const { store } = await open();
        await expect(store.createPromotion(promotion('p1', { version: 2 }), opts)).rejects.toThrow(/version 1/);
      });

      it('hands out copies: mutating a read promotion does not change the stored one', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        const read = await store.getPromotion('p1');
        read!.approvals.push({ user: 'U9', at: 'x' });
        expect((await store.getPromotion('p1'))?.approvals).toEqual([]);
      });

      it('compare-and-set writes the next version when the stored version matches', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        const next = promotion('p1', { version: 2, state: 'awaiting_approval' });
        expect(await store.casPromotion(next, 1, opts)).toBe(true);
        expect(await store.getPromotion('p1')).toEqual(next);
        const third = promotion('p1', { version: 3, state: 'approved' });
        expect(await store.casPromotion(third, 2, opts)).toBe(true);
        expect((await store.getPromotion('p1'))?.version).toBe(3);
      });

      it('compare-and-set from a stale version returns false and changes nothing', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        await store.casPromotion(promotion('p1', { version: 2, state: 'awaiting_approval' }), 1, opts);
        expect(await store.casPromotion(promotion('p1', { version: 2, state: 'cancelled' }), 1, opts)).toBe(false);
        expect((await store.getPromotion('p1'))?.state).toBe('awaiting_approval');
      });

      it('compare-and-set on a missing promotion returns false', async () => {
        const { store } = await open();
        expect(await store.casPromotion(promotion('ghost', { version: 2 }), 1, opts)).toBe(false);
        expect(await store.getPromotion('ghost')).toBeUndefined();
      });

      it('throws when next.version is not expectedVersion + 1 (a programming mistake, not contention)', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        await expect(store.casPromotion(promotion('p1', { version: 3 }), 1, opts)).rejects.toThrow(/expectedVersion/);
        await expect(store.casPromotion(promotion('p1', { version: 1 }), 1, opts)).rejects.toThrow(/expectedVersion/);
        expect((await store.getPromotion('p1'))?.version).toBe(1);
      });

      it('lets exactly one of 20 concurrent compare-and-sets from the same version win', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        const attempts = Array.from({ length: 20 }, (_, i) =>
          promotion('p1', { version: 2, stateReason: `writer ${i}` }),
        );
        const results = await Promise.all(attempts.map((next) => store.casPromotion(next, 1, opts)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = attempts[results.indexOf(true)]!;
        expect(await store.getPromotion('p1')).toEqual(winner);
      });

      it('expires a promotion after its TTL, after which its ID can be created again', async () => {
        const { store, elapse } = await open();
        await store.createPromotion(promotion('p1'), { active: true, ttlMs: 150 });
        await elapse(400);
        expect(await store.getPromotion('p1')).toBeUndefined();
        expect(await store.casPromotion(promotion('p1', { version: 2 }), 1, opts)).toBe(false);
        expect(await store.createPromotion(promotion('p1', { service: 'again' }), opts)).toBe(true);
        expect((await store.getPromotion('p1'))?.service).toBe('again');
        expect(ids(await store.listRecent(10))).toEqual(['p1']);
      });

      it('compare-and-set renews the TTL', async () => {
        const { store, elapse } = await open();
        await store.createPromotion(promotion('p1'), { active: true, ttlMs: 300 });
        await store.casPromotion(promotion('p1', { version: 2 }), 1, opts);
        await elapse(500);
        expect((await store.getPromotion('p1'))?.version).toBe(2);
      });
    });

    describe('active index', () => {
      it('lists promotions created active and not those created inactive', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('a1'), { active: true, ttlMs: HOUR });
        await store.createPromotion(promotion('a2'), { active: true, ttlMs: HOUR });
        await store.createPromotion(promotion('done'), { active: false, ttlMs: HOUR });
        expect(ids(await store.listActive()).sort()).toEqual(['a1', 'a2']);
      });

      it('moves a promotion out of (and back into) the index with compare-and-set', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        await store.casPromotion(promotion('p1', { version: 2, state: 'succeeded' }), 1, {
          active: false,
          ttlMs: HOUR,
        });
        expect(await store.listActive()).toEqual([]);
        await store.casPromotion(promotion('p1', { version: 3, state: 'executing' }), 2, opts);
        expect(await store.listActive()).toEqual([promotion('p1', { version: 3, state: 'executing' })]);
      });

      it('a losing compare-and-set does not touch the index', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        await store.casPromotion(promotion('p1', { version: 2 }), 1, opts);
        await store.casPromotion(promotion('p1', { version: 2, state: 'cancelled' }), 1, {
          active: false,
          ttlMs: HOUR,
        });
        expect(ids(await store.listActive())).toEqual(['p1']);
      });

      it('drops promotions whose record expired', async () => {
        const { store, elapse } = await open();
        await store.createPromotion(promotion('short'), { active: true, ttlMs: 150 });
        await store.createPromotion(promotion('long'), { active: true, ttlMs: HOUR });
        await elapse(400);
        expect(ids(await store.listActive())).toEqual(['long']);
        expect(ids(await store.listActive())).toEqual(['long']);
      });
    });

    describe('recent list', () => {
      it('lists promotions newest first, active and finished, up to the limit', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        await store.createPromotion(promotion('p2'), { active: false, ttlMs: HOUR });
        await store.createPromotion(promotion('p3'), opts);
        expect(ids(await store.listRecent(10))).toEqual(['p3', 'p2', 'p1']);
        expect(ids(await store.listRecent(2))).toEqual(['p3', 'p2']);
        expect(await store.listRecent(0)).toEqual([]);
      });

      it('keeps creation order when an older promotion is updated, and shows its latest version', async () => {
        const { store } = await open();
        await store.createPromotion(promotion('p1'), opts);
        await store.createPromotion(promotion('p2'), opts);
        await store.casPromotion(promotion('p1', { version: 2, state: 'succeeded' }), 1, {
          active: false,
          ttlMs: HOUR,
        });
        const recent = await store.listRecent(10);
        expect(ids(recent)).toEqual(['p2', 'p1']);
        expect(recent[1]?.state).toBe('succeeded');
      });

      it('keeps only the newest recentKeep promotions', async () => {
        const { store } = await open({ recentKeep: 3 });
        for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) await store.createPromotion(promotion(id), opts);
        expect(ids(await store.listRecent(10))).toEqual(['p5', 'p4', 'p3']);
      });

      it('skips expired promotions and still fills the limit from older ones', async () => {
        const { store, elapse } = await open();
        await store.createPromotion(promotion('old1'), opts);
        await store.createPromotion(promotion('old2'), opts);
        await store.createPromotion(promotion('short'), { active: false, ttlMs: 150 });
        await store.createPromotion(promotion('new'), opts);
        await elapse(400);
        expect(ids(await store.listRecent(3))).toEqual(['new', 'old2', 'old1']);
      });
    });

    describe('locks', () => {
      it('takes a free lock and reports its holder', async () => {
        const { store } = await open();
        expect(await store.acquire('deploy:api:prod', 'alice', HOUR)).toEqual({ acquired: true });
        expect(await store.holder('deploy:api:prod')).toBe('alice');
      });

      it('refuses a held lock and says who holds it (even to the holder: not re-entrant)', async () => {
        const { store } = await open();
        await store.acquire('deploy:api:prod', 'alice', HOUR);
        expect(await store.acquire('deploy:api:prod', 'bob', HOUR)).toEqual({ acquired: false, holder: 'alice' });
        expect(await store.acquire('deploy:api:prod', 'alice', HOUR)).toEqual({ acquired: false, holder: 'alice' });
      });

      it('gives a lock to exactly one of many concurrent takers', async () => {
        const { store } = await open();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.acquire('deploy:api:prod', `h${i}`, HOUR)),
        );
        const winners = results.flatMap((r, i) => (r.acquired ? [`h${i}`] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) if (!r.acquired) expect(r.holder).toBe(winners[0]);
      });

      it('has no holder for a free lock', async () => {
        const { store } = await open();
        expect(await store.holder('free')).toBeUndefined();
      });

      it('renews only for the holder', async () => {
        const { store } = await open();
        await store.acquire('k', 'alice', HOUR);
        expect(await store.renew('k', 'bob', HOUR)).toBe(false);
        expect(await store.renew('k', 'alice', HOUR)).toBe(true);
        expect(await store.renew('free', 'alice', HOUR)).toBe(false);
        expect(await store.holder('free')).toBeUndefined();
      });

      it('renewing extends the TTL', async () => {
        const { store, elapse } = await open();
        await store.acquire('k', 'alice', 300);
        await elapse(100);
        expect(await store.renew('k', 'alice', 5_000)).toBe(true);
        await elapse(400);
        expect(await store.holder('k')).toBe('alice');
      });

      it('releases only for the holder', async () => {
        const { store } = await open();
        await store.acquire('k', 'alice', HOUR);
        expect(await store.release('k', 'bob')).toBe(false);
        expect(await store.holder('k')).toBe('alice');
        expect(await store.release('k', 'alice')).toBe(true);
        expect(await store.holder('k')).toBeUndefined();
        expect(await store.release('k', 'alice')).toBe(false);
        expect(await store.acquire('k', 'bob', HOUR)).toEqual({ acquired: true });
      });

      it('frees a lock when its TTL runs out, and the old holder can no longer renew it', async () => {
        const { store, elapse } = await open();
        await store.acquire('k', 'alice', 150);
        await elapse(400);
        expect(await store.holder('k')).toBeUndefined();
        expect(await store.renew('k', 'alice', HOUR)).toBe(false);
        expect(await store.acquire('k', 'bob', HOUR)).toEqual({ acquired: true });
        expect(await store.release('k', 'alice')).toBe(false);
      });

      it('lists held locks by key prefix, without the store prefix and without expired ones', async () => {
        const { store, elapse } = await open();
        await store.acquire('deploy:api:prod', 'alice', HOUR);
        await store.acquire('deploy:web:prod', 'bob', HOUR);
        await store.acquire('deploy:old:prod', 'carol', 150);
        await store.acquire('lease:poller', 'bot-1', HOUR);
        await elapse(400);
        const held = await store.listHeld('deploy:');
        expect(held.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
          { key: 'deploy:api:prod', holder: 'alice' },
          { key: 'deploy:web:prod', holder: 'bob' },
        ]);
        expect(await store.listHeld('nothing:')).toEqual([]);
      });

      it('treats the listHeld prefix literally, not as a pattern', async () => {
        const { store } = await open();
        await store.acquire('a*b', 'alice', HOUR);
        await store.acquire('axb', 'bob', HOUR);
        await store.acquire('a?[c]', 'carol', HOUR);
        expect(await store.listHeld('a*')).toEqual([{ key: 'a*b', holder: 'alice' }]);
        expect(await store.listHeld('a?[')).toEqual([{ key: 'a?[c]', holder: 'carol' }]);
      });
    });

    describe('audit', () => {
      it('reads the global audit newest first, up to the limit', async () => {
        const { store } = await open();
        await store.appendAudit(entry('planned', 'p1'));
        await store.appendAudit(entry('config-reloaded'));
        await store.appendAudit(entry('approved', 'p1'));
        expect((await store.readAudit({ limit: 10 })).map((e) => e.action)).toEqual([
          'approved',
          'config-reloaded',
          'planned',
        ]);
        expect((await store.readAudit({ limit: 2 })).map((e) => e.action)).toEqual(['approved', 'config-reloaded']);
        expect(await store.readAudit({ limit: 0 })).toEqual([]);
      });

      it("reads one promotion's entries only, newest first", async () => {
        const { store } = await open();
        await store.appendAudit(entry('planned', 'p1'));
        await store.appendAudit(entry('planned', 'p2'));
        await store.appendAudit(entry('approved', 'p1'));
        await store.appendAudit(entry('executed', 'p1'));
        const p1 = await store.readAudit({ promotionId: 'p1', limit: 10 });
        expect(p1.map((e) => e.action)).toEqual(['executed', 'approved', 'planned']);
        expect(p1.every((e) => e.promotionId === 'p1')).toBe(true);
        expect(await store.readAudit({ promotionId: 'p3', limit: 10 })).toEqual([]);
      });

      it('keeps entries as written', async () => {
        const { store } = await open();
        const full: AuditEntry = {
          at: '2025-01-01T12:00:00.000Z',
          promotionId: 'p1',
          service: 'api',
          stage: 'prod',
          actor: 'U1',
          action: 'transition:awaiting_approval->approved',
          changeSetArn: 'arn:aws:cloudformation:eu-west-1:123456789012:changeSet/x/y',
          fingerprint: 'abc123',
          detail: { approvals: 2, nested: { ok: true } },
        };
        await store.appendAudit(full);
        expect(await store.readAudit({ limit: 1 })).toEqual([full]);
        expect(await store.readAudit({ promotionId: 'p1', limit: 1 })).toEqual([full]);
      });

      it('keeps only the newest auditKeep entries, globally and per promotion', async () => {
        const { store } = await open({ auditKeep: 3 });
        for (const n of [1, 2, 3, 4, 5]) await store.appendAudit(entry(`step${n}`, 'p1'));
        expect((await store.readAudit({ limit: 10 })).map((e) => e.action)).toEqual(['step5', 'step4', 'step3']);
        expect((await store.readAudit({ promotionId: 'p1', limit: 10 })).map((e) => e.action)).toEqual([
          'step5',
          'step4',
          'step3',
        ]);
      });
    });

    describe('JSON values', () => {
      it('sets, reads, overwrites and deletes a value', async () => {
        const { store } = await open();
        expect(await store.getJson('hold:api')).toBeUndefined();
        await store.setJson('hold:api', { by: 'U1', reason: 'freeze' });
        expect(await store.getJson('hold:api')).toEqual({ by: 'U1', reason: 'freeze' });
        await store.setJson('hold:api', ['a', 1, null]);
        expect(await store.getJson('hold:api')).toEqual(['a', 1, null]);
        await store.del('hold:api');
        expect(await store.getJson('hold:api')).toBeUndefined();
        await store.del('hold:api'); // deleting a missing key is fine
      });

      it('stores falsy JSON values as values, not as absence', async () => {
        const { store } = await open();
        for (const value of [0, false, '', null]) {
          await store.setJson('v', value);
          expect(await store.getJson('v')).toBe(value);
        }
      });

      it('expires a value after its TTL', async () => {
        const { store, elapse } = await open();
        await store.setJson('cache', { n: 1 }, 150);
        await store.setJson('kept', { n: 2 }, HOUR);
        await elapse(400);
        expect(await store.getJson('cache')).toBeUndefined();
        expect(await store.getJson('kept')).toEqual({ n: 2 });
      });

      it('setting without a TTL makes the value permanent again', async () => {
        const { store, elapse } = await open();
        await store.setJson('v', 1, 150);
        await store.setJson('v', 2);
        await elapse(400);
        expect(await store.getJson('v')).toBe(2);
      });

      it('throws for a value JSON cannot represent', async () => {
        const { store } = await open();
        await expect(store.setJson('v', undefined)).rejects.toThrow(/JSON/);
      });
    });

    describe('token buckets', () => {
      const spec = { ratePerSec: 2, burst: 3 };

      it('starts full: grants `burst` tokens at once, then says how long until the next one', async () => {
        const { store } = await open();
        const grants = [];
        for (let i = 0; i < 4; i++) grants.push(await store.takeToken('budget:a', spec));
        expect(grants.slice(0, 3).map((g) => g.granted)).toEqual([true, true, true]);
        expect(grants[0]).toMatchObject({ waitMs: 0, factor: 1 });
        expect(grants[3]!.granted).toBe(false);
        // one token at 2 per second: at most 500 ms away (a little less once time has passed)
        expect(grants[3]!.waitMs).toBeGreaterThan(0);
        expect(grants[3]!.waitMs).toBeLessThanOrEqual(500);
      });

      it('refills at its rate', async () => {
        const { store, elapse } = await open();
        const fast = { ratePerSec: 20, burst: 1 };
        expect((await store.takeToken('budget:r', fast)).granted).toBe(true);
        expect((await store.takeToken('budget:r', fast)).granted).toBe(false);
        await elapse(120); // 2.4 tokens' worth, capped at the burst of 1
        expect((await store.takeToken('budget:r', fast)).granted).toBe(true);
        expect((await store.takeToken('budget:r', fast)).granted).toBe(false);
      });

      it('keeps `reserve` tokens back: a take that would leave fewer is refused and told when there will be enough', async () => {
        const { store, elapse } = await open();
        expect((await store.takeToken('budget:k', spec)).granted).toBe(true);
        expect((await store.takeToken('budget:k', spec, 1)).granted).toBe(true); // 3 → 2 → 1 left
        const kept = await store.takeToken('budget:k', spec, 1);
        expect(kept.granted).toBe(false); // the last token is kept back
        // one more token at 2 per second: at most 500 ms away
        expect(kept.waitMs).toBeGreaterThan(0);
        expect(kept.waitMs).toBeLessThanOrEqual(500);
        expect((await store.takeToken('budget:k', spec)).granted).toBe(true); // a take without reserve gets it
        expect((await store.takeToken('budget:k', spec, 1)).waitMs).toBeGreaterThan(500); // now two are missing
        await elapse(1_000);
        expect((await store.takeToken('budget:k', spec, 1)).granted).toBe(true);
      });

      it('grants up to `extra` more tokens with a take, only while the bucket keeps half its burst', async () => {
        const { store } = await open();
        const eight = { ratePerSec: 1, burst: 8 };
        const first = await store.takeToken('budget:e', eight, 0, 2);
        expect(first).toMatchObject({ granted: true, extra: 2 }); // 8 → 7 → 5
        expect((await store.takeToken('budget:e', eight, 0, 2)).extra).toBe(0); // 5 → 4: none above half
        expect((await store.takeToken('budget:e', eight)).extra).toBe(0); // not asked: none
        const one = await store.takeToken('budget:f', { ratePerSec: 1, burst: 1 }, 0, 1);
        expect(one).toMatchObject({ granted: true, extra: 0 }); // a bucket of one has no half to spare
        const after = await store.takeToken('budget:f', { ratePerSec: 1, burst: 1 }, 0, 1);
        expect(after).toMatchObject({ granted: false, extra: 0 });
        // the tokens granted ahead left the bucket: 3 are left
        for (let i = 0; i < 3; i++) expect((await store.takeToken('budget:e', eight)).granted).toBe(true);
        expect((await store.takeToken('budget:e', eight)).granted).toBe(false);
      });

      it('keeps back at most burst − 1 tokens (a bucket of one keeps none back)', async () => {
        const { store } = await open();
        expect((await store.takeToken('budget:o', { ratePerSec: 1, burst: 1 }, 1)).granted).toBe(true);
        expect((await store.takeToken('budget:m', spec, 10)).granted).toBe(true); // as if 2: 3 → 2
        expect((await store.takeToken('budget:m', spec, 10)).granted).toBe(false);
      });

      it('keeps buckets of different keys apart', async () => {
        const { store } = await open();
        const one = { ratePerSec: 1, burst: 1 };
        expect((await store.takeToken('budget:x', one)).granted).toBe(true);
        expect((await store.takeToken('budget:x', one)).granted).toBe(false);
        expect((await store.takeToken('budget:y', one)).granted).toBe(true);
      });

      it('slowDown empties the bucket and halves its rate, down to minFactor', async () => {
        const { store } = await open();
        const slow = await store.slowDown('budget:s', spec);
        expect(slow.granted).toBe(false);
        expect(slow.factor).toBeCloseTo(0.5, 2);
        const next = await store.takeToken('budget:s', spec);
        expect(next.granted).toBe(false);
        // a token at the halved rate (1 per second) is further away than one at the full rate (500 ms)
        expect(next.waitMs).toBeGreaterThan(500);
        let factor = 1;
        for (let i = 0; i < 8; i++) factor = (await store.slowDown('budget:s', { ...spec, minFactor: 0.1 })).factor;
        expect(factor).toBeCloseTo(0.1, 2);
      });

      it('lets a slowed rate recover', async () => {
        const { store, elapse } = await open();
        const quick = { ratePerSec: 20, burst: 1, recoverPerSec: 5 };
        expect((await store.slowDown('budget:q', quick)).factor).toBeCloseTo(0.5, 1);
        await elapse(200); // recovers 5 × 0.2 = 1 (capped at 1)
        const g = await store.takeToken('budget:q', quick);
        expect(g.granted).toBe(true);
        expect(g.factor).toBe(1);
      });

      it('refuses a spec the arithmetic cannot use', async () => {
        const { store } = await open();
        await expect(store.takeToken('budget:b', { ratePerSec: 0, burst: 1 })).rejects.toThrow(RangeError);
        await expect(store.takeToken('budget:b', { ratePerSec: 1, burst: 0 })).rejects.toThrow(RangeError);
      });
    });

    describe('capped lists', () => {
      it('keeps the newest `keep` items, newest first', async () => {
        const { store } = await open();
        for (const n of [1, 2, 3, 4, 5]) await store.pushCapped('releases:api:prod', { n }, 3);
        expect(await store.listCapped('releases:api:prod', 10)).toEqual([{ n: 5 }, { n: 4 }, { n: 3 }]);
        expect(await store.listCapped('releases:api:prod', 2)).toEqual([{ n: 5 }, { n: 4 }]);
        expect(await store.listCapped('releases:api:prod', 0)).toEqual([]);
      });

      it('reads a missing list as empty', async () => {
        const { store } = await open();
        expect(await store.listCapped('nothing', 10)).toEqual([]);
      });
    });

    it('keeps locks, JSON values and lists with the same key apart', async () => {
      const { store } = await open();
      await store.acquire('same', 'alice', HOUR);
      await store.setJson('same', { json: true });
      await store.pushCapped('same', 'item', 5);
      expect(await store.holder('same')).toBe('alice');
      expect(await store.getJson('same')).toEqual({ json: true });
      expect(await store.listCapped('same', 5)).toEqual(['item']);
    });
  });
}

function emptyCounts() {
  return { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: 0 };
}
