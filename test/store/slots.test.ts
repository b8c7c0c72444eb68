// Redis Cluster runs a Lua script or a MULTI only when all its keys are in one hash slot. This test watches
// (MONITOR) every command the Redis store sends while every Store method runs, groups the keys of each
// script and each transaction, and asks a Cluster node (CLUSTER KEYSLOT) for their slots: a method added
// later that puts keys of two slots in one script fails here, without a Cluster of its own.
import { createHash, randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis-store.js';
import { promotion } from './store-contract.js';

const HOUR = 60 * 60 * 1000;
const nodesEnv = inject('redisClusterNodes');

describe.skipIf(!nodesEnv)('keys used together by the redis store', () => {
  let admin: Redis;
  let slotsOf: Cluster;
  beforeAll(() => {
    admin = new Redis(inject('redisUrl'));
    slotsOf = new Cluster(
      nodesEnv.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })),
    );
  });
  afterAll(async () => {
    await admin.quit();
    await slotsOf.quit();
  });

  it('share one hash slot in every Lua script and every MULTI', async () => {
    const prefix = `test:slots:${randomUUID()}:`;
    const redis = new Redis(inject('redisUrl'));
    const store = createRedisStore(redis, { prefix, recentKeep: 3 });
    await redis.ping();
    // MONITOR shows every client's commands: keep only the store connection's.
    const info = (await redis.client('INFO')) as string;
    const source = /\baddr=(\S+)/.exec(info)![1]!;
    const seen: string[][] = [];
    const monitor = await admin.monitor();
    monitor.on('monitor', (_time: string, args: string[], from: string) => {
      if (from === source) seen.push(args);
    });
    await new Promise((r) => setTimeout(r, 100)); // MONITOR is on once its OK came back; a margin for the first events

    try {
      // Every Store method, each path of the scripts included.
      await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR });
      await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR }); // exists already
      await store.createPromotion(promotion('p2'), { active: false, ttlMs: HOUR });
      await store.getPromotion('p1');
      store.stageChanges!('p1', [
        {
          logicalId: 'Q',
          resourceType: 'AWS::SQS::Queue',
          action: 'Add',
          impact: 'add',
          reason: 'adds queue Q',
          forcedBy: [],
          properties: [],
          dataBearing: false,
        },
      ]);
      await store.casPromotion({ ...promotion('p1'), version: 2 }, 1, { active: true, ttlMs: HOUR });
      await store.casPromotion({ ...promotion('p1'), version: 3 }, 2, { active: false, ttlMs: HOUR });
      await store.casPromotion({ ...promotion('p1'), version: 2 }, 1, { active: false, ttlMs: HOUR }); // stale
      await store.createPromotion(promotion('gone'), { active: true, ttlMs: HOUR });
      await admin.del(`${prefix}{ops}:promotion:gone`); // as if expired: the listings prune it
      await store.listActive();
      await store.listRecent(10);
      await store.acquire('lock:a/eu-west-1/api', 'h1', HOUR);
      await store.acquire('lock:a/eu-west-1/api', 'h2', HOUR);
      await store.renew('lock:a/eu-west-1/api', 'h1', HOUR);
      await store.holder('lock:a/eu-west-1/api');
      await store.listHeld('lock:');
      await store.release('lock:a/eu-west-1/api', 'h1');
      await store.appendAudit({ at: 'x', actor: 'U1', action: 'planned', promotionId: 'p1' });
      await store.appendAudit({ at: 'x', actor: 'U1', action: 'unheld' });
      await store.readAudit({ limit: 5 });
      await store.readAudit({ promotionId: 'p1', limit: 5 });
      await store.setJson('hold:api/prod', { user: 'U1' });
      await store.setJson('summary-shown:p1', 3, HOUR);
      await store.getJson('hold:api/prod');
      await store.del('hold:api/prod');
      await store.pushCapped('releases:api/prod', { id: 'r1' }, 5);
      await store.listCapped('releases:api/prod', 5);
      await store.ping();
      // The PING is the last command: once MONITOR has shown it, it has shown everything before it.
      const deadline = Date.now() + 5_000;
      while (!seen.some((a) => a[0]?.toLowerCase() === 'ping') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
    } finally {
      monitor.disconnect();
      await store.close();
      const keys: string[] = [];
      for await (const batch of admin.scanStream({ match: `${prefix}*` }) as AsyncIterable<string[]>)
        keys.push(...batch);
      if (keys.length) await admin.del(...keys);
    }

    // Scripts: EVAL/EVALSHA script numkeys key…; transactions: the commands between MULTI and EXEC.
    const groups: Array<{ what: string; keys: string[] }> = [];
    let tx: { keys: string[]; commands: string[] } | undefined;
    for (const args of seen) {
      const name = args[0]!.toLowerCase();
      if (name === 'evalsha' || name === 'eval') {
        // ioredis sends EVAL the first time and EVALSHA after: name both by the script's SHA1.
        const sha = name === 'eval' ? createHash('sha1').update(args[1]!).digest('hex') : args[1]!;
        groups.push({ what: `script ${sha.slice(0, 12)}`, keys: args.slice(3, 3 + Number(args[2])) });
      } else if (name === 'multi') {
        tx = { keys: [], commands: [] };
      } else if (name === 'exec') {
        if (tx) groups.push({ what: `MULTI ${tx.commands.join(' ')}`, keys: tx.keys });
        tx = undefined;
      } else if (tx) {
        tx.commands.push(name);
        tx.keys.push(...((await admin.call('COMMAND', 'GETKEYS', ...args)) as string[]));
      }
    }
    // Each script at least once (create, CAS, prune, renew, release) and the audit and list transactions.
    expect(new Set(groups.filter((g) => g.what.startsWith('script')).map((g) => g.what)).size).toBeGreaterThanOrEqual(
      5,
    );
    expect(groups.filter((g) => g.what.startsWith('MULTI')).length).toBeGreaterThanOrEqual(3);

    const crossSlot: string[] = [];
    for (const g of groups) {
      const slots = new Set(await Promise.all(g.keys.map((k) => slotsOf.cluster('KEYSLOT', k))));
      if (slots.size > 1) crossSlot.push(`${g.what}: ${g.keys.join(', ')}`);
    }
    expect(crossSlot).toEqual([]);
  });
});
