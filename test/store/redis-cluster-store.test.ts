// The Store contract against a real 3-node Redis Cluster (started by test/support/global-setup.ts), through
// the same client factory the bot uses: every Lua script and MULTI must stay inside one hash slot.
import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisClient } from '../../src/store/redis-connect.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { parseRedisTarget, type RedisTarget } from '../../src/store/redis-target.js';
import type { Store } from '../../src/store/types.js';
import { promotion, storeContract } from './store-contract.js';

const HOUR = 60 * 60 * 1000;
const nodesEnv = inject('redisClusterNodes');

function clusterTarget(): Extract<RedisTarget, { mode: 'cluster' }> {
  const r = parseRedisTarget({ REDIS_URL: 'redis://cluster', REDIS_CLUSTER_NODES: nodesEnv });
  if (!r.ok || r.value?.mode !== 'cluster') throw new Error(`bad cluster env: ${JSON.stringify(r)}`);
  return r.value;
}

describe.skipIf(!nodesEnv)('redis store on a Redis Cluster', () => {
  let admin: Cluster;
  beforeAll(async () => {
    admin = new Cluster(clusterTarget().nodes);
    await admin.ping();
  });
  afterAll(async () => {
    await admin.quit();
  });

  async function keysOnEachMaster(match: string): Promise<string[][]> {
    return Promise.all(
      admin.nodes('master').map(async (node: Redis) => {
        const found: string[] = [];
        for await (const keys of node.scanStream({ match, count: 500 }) as AsyncIterable<string[]>) found.push(...keys);
        return found;
      }),
    );
  }

  async function deleteKeys(prefix: string): Promise<void> {
    // One DEL per key: a multi-key DEL must stay within one slot.
    const keys = (await keysOnEachMaster(`${prefix}*`)).flat();
    await Promise.all(keys.map((k) => admin.del(k)));
  }

  const uniquePrefix = () => `test:cluster:${randomUUID()}:`;
  const connected = async () => {
    const client = createRedisClient(clusterTarget());
    await client.connect();
    return client;
  };

  storeContract('redis store on a Cluster', async (opts) => {
    const prefix = uniquePrefix();
    const client = createRedisClient(clusterTarget());
    await client.connect(); // as src/main.ts does: the Cluster client queues nothing before it is ready
    const store = createRedisStore(client, { ...opts, prefix });
    return { store, cleanup: () => deleteKeys(prefix) };
  });

  describe('hash slots', () => {
    let prefix: string;
    let store: Store;
    afterEach(async () => {
      await store.close();
      await deleteKeys(prefix);
    });

    it('keeps the promotion records and their indexes in one slot, and spreads the rest over the nodes', async () => {
      prefix = uniquePrefix();
      store = createRedisStore(await connected(), { prefix });
      for (let i = 0; i < 20; i++) {
        await store.createPromotion(promotion(`p${i}`), { active: true, ttlMs: HOUR });
        await store.acquire(`lock:acct/eu-west-1/stack-${i}`, `holder-${i}`, HOUR);
        await store.appendAudit({ at: 'x', actor: 'U1', action: 'planned', promotionId: `p${i}` });
      }
      const perNode = await keysOnEachMaster(`${prefix}*`);
      const opsNodes = perNode.filter((keys) => keys.some((k) => k.includes('{ops}')));
      expect(opsNodes).toHaveLength(1);
      expect(opsNodes[0]!.filter((k) => k.includes('{ops}'))).toHaveLength(22); // 20 records + 2 indexes
      // The locks and the per-promotion audit lists land on more than one node.
      expect(perNode.filter((keys) => keys.some((k) => k.includes(':lock:'))).length).toBeGreaterThan(1);
    });

    it('writes a plan ahead in pages, then its last page and the record in one MULTI in its slot, read whole by another client', async () => {
      prefix = uniquePrefix();
      store = createRedisStore(await connected(), { prefix });
      const change = (logicalId: string) => ({
        logicalId,
        resourceType: 'AWS::SQS::Queue',
        action: 'Add',
        impact: 'add' as const,
        reason: `adds queue ${logicalId}`,
        forcedBy: [],
        properties: [],
        dataBearing: false,
      });
      const ahead = [change('A'), change('B')];
      const last = [change('C')];
      const plan = {
        changes: [last[0]!, ...ahead],
        counts: { total: 3, added: 3, modified: 0, removed: 0, replaced: 0, minor: 0 },
      };
      await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR });
      store.stageChanges!('p1', ahead);
      expect(await store.casPromotion(promotion('p1', { version: 2, plan }), 1, { active: true, ttlMs: HOUR })).toBe(
        true,
      );
      const json = JSON.parse((await admin.hget(`${prefix}{ops}:promotion:p1`, 'json'))!);
      expect(json.plan.changesPages).toHaveLength(2); // the page written ahead, and the last one
      const other = createRedisStore(await connected(), { prefix });
      try {
        expect((await other.getPromotion('p1'))?.plan).toEqual(plan);
      } finally {
        await other.close();
      }
    });

    it('lists the held locks of every master', async () => {
      prefix = uniquePrefix();
      store = createRedisStore(await connected(), { prefix });
      const expected: Array<{ key: string; holder: string }> = [];
      for (let i = 0; i < 12; i++) {
        await store.acquire(`lock:acct/eu-west-1/stack-${i}`, `holder-${i}`, HOUR);
        expected.push({ key: `lock:acct/eu-west-1/stack-${i}`, holder: `holder-${i}` });
      }
      await store.acquire('replay:abc', 'x', HOUR); // another kind of lock, not listed below
      const held = await store.listHeld('lock:');
      expect(held.sort((a, b) => a.key.localeCompare(b.key))).toEqual(
        expected.sort((a, b) => a.key.localeCompare(b.key)),
      );
    });
  });
});
