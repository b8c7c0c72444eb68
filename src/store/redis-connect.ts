// Builds the ioredis client for a RedisTarget (see redis-target.ts). The same timeouts apply in every mode:
// a hung or unreachable Redis fails a command within seconds (and the operation retries later) instead of
// freezing it or queueing it for a minute. Options: https://redis.github.io/ioredis/interfaces/CommonRedisOptions.html,
// https://redis.github.io/ioredis/interfaces/SentinelConnectionOptions.html,
// https://redis.github.io/ioredis/interfaces/ClusterOptions.html.
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from './redis-store.js';
import type { RedisTarget } from './redis-target.js';

export interface RedisTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  maxRetriesPerRequest: number;
}

export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = {
  connectTimeoutMs: 5_000,
  commandTimeoutMs: 5_000,
  maxRetriesPerRequest: 3,
};

/**
 * A client that has not connected yet (lazyConnect): call `connect()`. `tls` adds TLS options (a private CA
 * for tests; in production Node's NODE_EXTRA_CA_CERTS does that) when the target uses TLS.
 */
export function createRedisClient(
  target: RedisTarget,
  timeouts: RedisTimeouts = DEFAULT_REDIS_TIMEOUTS,
  tls: ConnectionOptions = {},
): RedisClient {
  const node: RedisOptions = {
    connectTimeout: timeouts.connectTimeoutMs,
    commandTimeout: timeouts.commandTimeoutMs,
    maxRetriesPerRequest: timeouts.maxRetriesPerRequest,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: { ...tls } } : {}),
  };
  // Auto-pipelining: the commands issued in one turn of the event loop (the first Redis call of each request
  // acked in that turn) go in one write (https://github.com/redis/ioredis#autopipelining); the store sends no
  // WATCH or blocking command that sharing a connection could disturb.
  const common: RedisOptions = { ...node, lazyConnect: true, enableAutoPipelining: true };
  switch (target.mode) {
    case 'single':
      // ioredis reads host, port, user, password, database and rediss:// (TLS) from the URL itself.
      return new Redis(target.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.name,
        db: target.db,
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        sentinelCommandTimeout: timeouts.commandTimeoutMs,
        // While no Sentinel answers, ioredis keeps asking them within one connection attempt, so queued
        // commands would wait without bound: fail them at once instead.
        enableOfflineQueue: false,
        // rediss://: TLS to the Sentinels and to the master they name.
        ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: { ...tls } } : {}),
      });
    case 'cluster':
      return new Cluster(target.nodes, {
        lazyConnect: true,
        enableAutoPipelining: true,
        // While the Cluster connection as a whole is down, ioredis would queue commands without any timeout
        // until it is back: fail them at once instead (connect() first). Node connections keep their own
        // bounded retries (maxRetriesPerRequest) through a failover.
        enableOfflineQueue: false,
        // Every node connection gets the credentials, TLS and timeouts.
        redisOptions: node,
        slotsRefreshTimeout: timeouts.connectTimeoutMs,
        // With TLS keep the hostnames: the certificates name them, not the addresses they resolve to.
        ...(target.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
      });
  }
}

/**
 * connect(), bounded: with Sentinels or Cluster nodes that do not answer, ioredis keeps trying without ever
 * rejecting. On timeout the client is disconnected.
 */
export async function connectWithin(client: RedisClient, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } catch (err) {
    client.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
