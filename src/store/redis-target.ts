// Which Redis the bot talks to, read from the environment (pure: src/config.ts validates with it, src/main.ts
// connects with it). Three setups, all with the same credentials and TLS rules:
//   single    REDIS_URL=redis://[user:password@]host:port[/db]   (rediss:// = TLS)
//   Sentinel  REDIS_SENTINELS=host:port,… REDIS_SENTINEL_NAME=<master group> (+ REDIS_SENTINEL_PASSWORD)
//   Cluster   REDIS_CLUSTER_NODES=host:port,…
// In Sentinel and Cluster mode REDIS_URL is still what turns Redis on and carries the scheme (TLS), the user and
// the password (and the database for Sentinel); its host and port are not used, so write e.g.
// `rediss://:secret@cluster`. ioredis: https://redis.github.io/ioredis/classes/Redis.html (URL and Sentinel
// options), https://redis.github.io/ioredis/classes/Cluster.html (startup nodes, `redisOptions`).

export interface HostPort {
  host: string;
  port: number;
}

/** What REDIS_URL says besides the host: applies to the data connections in every mode. */
export interface RedisAuth {
  tls: boolean;
  username?: string;
  password?: string;
}

export type RedisTarget =
  | ({ mode: 'single'; url: string } & RedisAuth)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; name: string; sentinelPassword?: string; db: number } & RedisAuth)
  | ({ mode: 'cluster'; nodes: HostPort[] } & RedisAuth);

export interface RedisEnv {
  REDIS_URL?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_CLUSTER_NODES?: string;
}

export type RedisTargetResult = { ok: true; value: RedisTarget | undefined } | { ok: false; problems: string[] };

/** `host:port,host:port` (IPv6 as `[::1]:6379`); the port is required, so a typo cannot silently mean 6379. */
function parseHostList(name: string, text: string, problems: string[]): HostPort[] {
  const out: HostPort[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/@]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) {
      problems.push(`${name}: "${item}" is not host:port (e.g. redis-1.internal:6379)`);
      continue;
    }
    out.push({ host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port });
  }
  return out;
}

/** Validates the Redis variables (empty ones count as unset); undefined value = no Redis (in-memory store). */
export function parseRedisTarget(env: RedisEnv): RedisTargetResult {
  const set = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const urlText = set(env.REDIS_URL);
  const sentinels = set(env.REDIS_SENTINELS);
  const sentinelName = set(env.REDIS_SENTINEL_NAME);
  const sentinelPassword = set(env.REDIS_SENTINEL_PASSWORD);
  const clusterNodes = set(env.REDIS_CLUSTER_NODES);
  const problems: string[] = [];

  if (!urlText) {
    for (const [name, v] of Object.entries({
      REDIS_SENTINELS: sentinels,
      REDIS_SENTINEL_NAME: sentinelName,
      REDIS_SENTINEL_PASSWORD: sentinelPassword,
      REDIS_CLUSTER_NODES: clusterNodes,
    })) {
      if (v)
        problems.push(`${name}: needs REDIS_URL too (for the scheme and the password, e.g. redis://:secret@sentinel)`);
    }
    return problems.length ? { ok: false, problems } : { ok: true, value: undefined };
  }

  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return { ok: false, problems: ['REDIS_URL: must be a redis:// or rediss:// URL'] };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    return { ok: false, problems: ['REDIS_URL: must be a redis:// or rediss:// URL'] };
  const auth: RedisAuth = {
    tls: url.protocol === 'rediss:',
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!/^\d*$/.test(dbText)) problems.push(`REDIS_URL: the path must be a database number, got /${dbText}`);

  if (sentinels && clusterNodes) problems.push('REDIS_CLUSTER_NODES: set either it or REDIS_SENTINELS, not both');
  if (!sentinels && (sentinelName || sentinelPassword))
    problems.push(
      `${sentinelName ? 'REDIS_SENTINEL_NAME' : 'REDIS_SENTINEL_PASSWORD'}: needs REDIS_SENTINELS (the Sentinels' host:port list)`,
    );

  if (clusterNodes) {
    const nodes = parseHostList('REDIS_CLUSTER_NODES', clusterNodes, problems);
    if (db !== 0) problems.push('REDIS_URL: a Redis Cluster has only database 0; remove the path');
    return problems.length ? { ok: false, problems } : { ok: true, value: { mode: 'cluster', nodes, ...auth } };
  }
  if (sentinels) {
    const list = parseHostList('REDIS_SENTINELS', sentinels, problems);
    if (!sentinelName)
      problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master group name, e.g. mymaster)');
    if (problems.length) return { ok: false, problems };
    return {
      ok: true,
      value: {
        mode: 'sentinel',
        sentinels: list,
        name: sentinelName!,
        db,
        ...(sentinelPassword ? { sentinelPassword } : {}),
        ...auth,
      },
    };
  }
  return problems.length ? { ok: false, problems } : { ok: true, value: { mode: 'single', url: urlText, ...auth } };
}

/** For logs and errors: where, never the password. */
export function describeRedisTarget(t: RedisTarget): string {
  const scheme = t.tls ? 'rediss' : 'redis';
  const list = (hs: HostPort[]) =>
    hs.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`).join(',');
  switch (t.mode) {
    case 'single':
      return t.url.replace(/\/\/[^@/]*@/, '//***@');
    case 'sentinel':
      return `${scheme} master "${t.name}" via Sentinels ${list(t.sentinels)}`;
    case 'cluster':
      return `${scheme} Cluster ${list(t.nodes)}`;
  }
}
