import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { storeContract } from './store-contract.js';

storeContract('memory store', async (opts) => {
  let clock = Date.parse('2025-01-01T00:00:00.000Z');
  const store = createMemoryStore({ ...opts, now: () => clock });
  return {
    store,
    advance: async (ms) => {
      clock += ms;
    },
  };
});

describe('memory store', () => {
  it('says it is not durable', () => {
    expect(createMemoryStore().durable).toBe(false);
  });

  it('runs on the real clock by default', async () => {
    const store = createMemoryStore();
    await store.setJson('k', 'v', 60_000);
    expect(await store.getJson('k')).toBe('v');
  });

  it('still expires keys after a long quiet period in which the sweep has run', async () => {
    let clock = 0;
    const store = createMemoryStore({ now: () => clock });
    await store.acquire('stale', 'alice', 1_000);
    await store.createPromotion(
      {
        id: 'p1',
        version: 1,
        kind: 'promote',
        service: 'api',
        to: 'prod',
        requester: 'U1',
        channel: 'C1',
        state: 'planning',
        createdAt: 'x',
        updatedAt: 'x',
        target: { stack: 'api-prod', region: 'eu-west-1' },
        approvals: [],
      },
      { active: true, ttlMs: 1_000 },
    );
    clock += 120_000; // past the sweep interval: the next write sweeps everything expired
    await store.acquire('fresh', 'bob', 1_000);
    expect(await store.listHeld('')).toEqual([{ key: 'fresh', holder: 'bob' }]);
    expect(await store.listActive()).toEqual([]);
    expect(await store.listRecent(10)).toEqual([]);
  });
});

describe('memory store options', () => {
  it.each([0, -1, 1.5])('refuses a cap of %s', (keep) => {
    expect(() => createMemoryStore({ auditKeep: keep })).toThrow(RangeError);
    expect(() => createMemoryStore({ recentKeep: keep })).toThrow(RangeError);
  });
});
