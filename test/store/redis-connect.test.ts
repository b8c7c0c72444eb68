// The supported Redis setups, each against a real redis-server started here: a password (requirepass and an
// ACL user), TLS (rediss://, when this redis-server was built with TLS), and Sentinel. Each goes through the
// same path as the bot: env → parseRedisTarget → createRedisClient → createRedisStore.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectWithin, createRedisClient, DEFAULT_REDIS_TIMEOUTS } from '../../src/store/redis-connect.js';
import { createRedisStore, type RedisClient } from '../../src/store/redis-store.js';
import { parseRedisTarget, type RedisEnv, type RedisTarget } from '../../src/store/redis-target.js';
import { freePort } from '../support/bot.js';
import { type RedisServer, startRedisServer } from '../support/redis-servers.js';
import { promotion } from './store-contract.js';

const HOUR = 60 * 60 * 1000;

function target(env: RedisEnv): RedisTarget {
  const r = parseRedisTarget(env);
  if (!r.ok || !r.value) throw new Error(`bad env: ${JSON.stringify(r)}`);
  return r.value;
}

const clients: RedisClient[] = [];
/** The client's 'error' events (the cause of a failed connect; connect() itself rejects with "Connection is closed.") */
const errors = new WeakMap<RedisClient, Error[]>();
function client(env: RedisEnv, tls?: { ca: string }): RedisClient {
  const c = createRedisClient(target(env), DEFAULT_REDIS_TIMEOUTS, tls);
  errors.set(c, []);
  c.on('error', (err: Error) => errors.get(c)!.push(err));
  clients.push(c);
  return c;
}

async function connectFailure(c: RedisClient): Promise<string> {
  await expect(c.connect()).rejects.toThrow();
  return errors
    .get(c)!
    .map((e) => e.message)
    .join('\n');
}
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

/** Stores and reads back a promotion through the store; returns the store's prefix. */
async function roundTrip(c: RedisClient): Promise<string> {
  await c.connect();
  const prefix = `test:connect:${randomUUID()}:`;
  const store = createRedisStore(c, { prefix });
  expect(await store.createPromotion(promotion('p1'), { active: true, ttlMs: HOUR })).toBe(true);
  expect((await store.getPromotion('p1'))?.id).toBe('p1');
  await store.close();
  return prefix;
}

describe('the same timeouts in every mode', () => {
  it.each<[string, RedisEnv]>([
    ['single', { REDIS_URL: 'redis://127.0.0.1:1' }],
    ['sentinel', { REDIS_URL: 'redis://m', REDIS_SENTINELS: '127.0.0.1:1', REDIS_SENTINEL_NAME: 'm' }],
  ])('%s: connect and command timeouts, bounded retries, no connection until asked', (_mode, env) => {
    const c = client(env) as Redis;
    expect(c.status).toBe('wait');
    expect(c.options).toMatchObject({ connectTimeout: 5_000, commandTimeout: 5_000, maxRetriesPerRequest: 3 });
    expect(c.options.enableAutoPipelining).toBe(true);
  });

  it('cluster: on every node connection', () => {
    const c = client({ REDIS_URL: 'rediss://:pw@c', REDIS_CLUSTER_NODES: '127.0.0.1:1' });
    expect(c.status).toBe('wait');
    expect((c as Cluster).options.redisOptions).toMatchObject({
      connectTimeout: 5_000,
      commandTimeout: 5_000,
      maxRetriesPerRequest: 3,
      password: 'pw',
      tls: {},
    });
    expect((c as Cluster).options.enableAutoPipelining).toBe(true);
  });
});

describe('auto-pipelining', () => {
  it('sends the commands of one turn of the event loop together, each with its own answer', async () => {
    const c = client({ REDIS_URL: inject('redisUrl') });
    await c.connect();
    const key = `test:connect:${randomUUID()}`;
    const sets = Array.from({ length: 10 }, (_, i) => c.set(`${key}:${i}`, String(i), 'PX', 60_000));
    // Queued in this turn, not yet written: they leave in one pipeline when the turn ends.
    expect(c.autoPipelineQueueSize).toBe(10);
    expect(await Promise.all(sets)).toEqual(Array(10).fill('OK'));
    const gets = Array.from({ length: 10 }, (_, i) => c.get(`${key}:${i}`));
    const missing = c.get(`${key}:none`);
    expect(await Promise.all(gets)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(await missing).toBeNull();
    expect(c.autoPipelineQueueSize).toBe(0);
  });
});

describe('a Redis with a password', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer([
      '--requirepass',
      's3cret',
      '--user',
      'bot',
      'on',
      '>botpw',
      '~test:*',
      '&*',
      '+@all',
    ]);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('works with redis://:password@host (requirepass)', async () => {
    await roundTrip(client({ REDIS_URL: `redis://:s3cret@127.0.0.1:${server.port}` }));
  });

  it('works with redis://user:password@host (an ACL user)', async () => {
    await roundTrip(client({ REDIS_URL: `redis://bot:botpw@127.0.0.1:${server.port}` }));
  });

  it('fails to connect with a wrong password, saying so', async () => {
    const c = client({ REDIS_URL: `redis://:wrong@127.0.0.1:${server.port}` });
    expect(await connectFailure(c)).toMatch(/WRONGPASS|invalid username-password/i);
  });
});

// Debian's redis-server is built with TLS. Started with a TLS port and no certificate, a build with TLS
// complains about the certificate; one without says TLS is not supported.
function redisHasTls(): boolean {
  try {
    execFileSync('redis-server', ['--port', '0', '--tls-port', '1', '--save', ''], { stdio: 'pipe', timeout: 5_000 });
    return false; // it should never start without a certificate
  } catch (err) {
    return /tls-cert-file/i.test(String((err as { stdout?: Buffer }).stdout ?? ''));
  }
}

describe.skipIf(!redisHasTls())('a Redis over TLS (rediss://)', () => {
  let server: RedisServer;
  let dir: string;
  let ca: string;
  let tlsPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'promote-bot-tls-'));
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh(
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1'].concat([
        '-subj',
        '/CN=promote-bot test CA',
      ]),
    );
    sh([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    sh(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'server.crt',
      ].concat(['-days', '1', '-extfile', 'ext.cnf']),
    );
    ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    tlsPort = await freePort();
    server = await startRedisServer(
      ['--port', '0', '--tls-port', String(tlsPort), '--requirepass', 'pw', '--tls-auth-clients', 'no']
        .concat(['--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key')])
        .concat(['--tls-ca-cert-file', join(dir, 'ca.crt')]),
      { listenPort: tlsPort },
    );
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('works with rediss://:password@host, checking the certificate', async () => {
    await roundTrip(client({ REDIS_URL: `rediss://:pw@127.0.0.1:${tlsPort}` }, { ca }));
  });

  it('refuses a certificate it cannot verify', async () => {
    const c = client({ REDIS_URL: `rediss://:pw@127.0.0.1:${tlsPort}` });
    expect(await connectFailure(c)).toMatch(/self.signed|unable to verify|certificate/i);
  });

  it('speaks TLS: a plain redis:// connection to the TLS port gets nowhere', async () => {
    const c = createRedisClient(target({ REDIS_URL: `redis://:pw@127.0.0.1:${tlsPort}` }), {
      ...DEFAULT_REDIS_TIMEOUTS,
      connectTimeoutMs: 1_000,
      commandTimeoutMs: 1_000,
      maxRetriesPerRequest: 0,
    });
    c.on('error', () => undefined);
    clients.push(c);
    await expect(c.connect().then(() => c.ping())).rejects.toThrow();
  });
});

describe('a Redis behind Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisServer;
  beforeAll(async () => {
    master = await startRedisServer(['--requirepass', 'pw']);
    const port = await freePort();
    sentinel = await startRedisServer([], {
      port,
      sentinel: [
        `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
        'sentinel auth-pass mymaster pw',
        'requirepass spw',
        '',
      ].join('\n'),
    });
  });
  afterAll(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  it('asks the Sentinel (with its own password) for the master and writes there', async () => {
    const env = {
      REDIS_URL: 'redis://:pw@mymaster/0',
      REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`,
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'spw',
    };
    const prefix = await roundTrip(client(env));
    const direct = new Redis({ port: master.port, password: 'pw' });
    try {
      expect(await direct.exists(`${prefix}{ops}:promotion:p1`)).toBe(1);
    } finally {
      await direct.quit();
    }
  });

  it('fails to connect when no Sentinel answers', async () => {
    const port = await freePort(); // nothing listens there
    const c = client({ REDIS_URL: 'redis://m', REDIS_SENTINELS: `127.0.0.1:${port}`, REDIS_SENTINEL_NAME: 'mymaster' });
    // ioredis keeps asking the Sentinels on its own; start-up bounds it (src/main.ts).
    await expect(connectWithin(c, 1_000)).rejects.toThrow('no answer within 1 s');
    // and stops trying (the Sentinel connector notices between two attempts).
    for (let i = 0; i < 100 && c.status !== 'end'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(c.status).toBe('end');
  });

  it('fails to connect when the Sentinel does not know the master name', async () => {
    const c = client({
      REDIS_URL: 'redis://:pw@other',
      REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`,
      REDIS_SENTINEL_NAME: 'other',
      REDIS_SENTINEL_PASSWORD: 'spw',
    });
    (c as Redis).options.sentinelRetryStrategy = () => null; // give up at once instead of asking again
    await expect(c.connect()).rejects.toThrow(/other|sentinel/i);
  });
});

describe('a Redis Cluster that goes away', () => {
  it('fails store calls as unavailable instead of queueing them until it is back', async () => {
    // One node serving all 16384 slots: the smallest Cluster.
    const node = await startRedisServer([
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-announce-ip',
      '127.0.0.1',
    ]);
    try {
      const setup = new Redis({ port: node.port });
      await setup.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      for (let i = 0; !/cluster_state:ok/.test(String(await setup.call('CLUSTER', 'INFO'))); i++) {
        if (i > 200) throw new Error('the one-node cluster did not become ready');
        await new Promise((r) => setTimeout(r, 50));
      }
      await setup.quit();
      const c = client({ REDIS_URL: 'redis://cluster', REDIS_CLUSTER_NODES: `127.0.0.1:${node.port}` });
      await c.connect();
      const store = createRedisStore(c, { prefix: `test:connect:${randomUUID()}:` });
      await store.ping();
      await node.stop();
      // The node connection fails the calls in flight; once the Cluster client is down it refuses new ones.
      for (let i = 0; i < 3; i++) {
        await expect(store.getPromotion('p1')).rejects.toMatchObject({ code: 'store_unavailable' });
      }
      await expect(store.ping()).rejects.toMatchObject({ code: 'store_unavailable' });
    } finally {
      await node.stop();
    }
  });
});
