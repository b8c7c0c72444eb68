import { describe, expect, it } from 'vitest';
import { describeRedisTarget, parseRedisTarget, type RedisEnv } from '../../src/store/redis-target.js';

describe('parseRedisTarget', () => {
  it.each<[string, RedisEnv, unknown]>([
    ['nothing set: no Redis (the in-memory store)', {}, undefined],
    ['empty values count as unset', { REDIS_URL: '', REDIS_CLUSTER_NODES: ' ' }, undefined],
    ['a single Redis', { REDIS_URL: 'redis://cache:6379' }, { mode: 'single', url: 'redis://cache:6379', tls: false }],
    [
      'a password only (requirepass)',
      { REDIS_URL: 'redis://:s3cret@cache:6379/2' },
      { mode: 'single', url: 'redis://:s3cret@cache:6379/2', tls: false, password: 's3cret' },
    ],
    [
      'an ACL user and a URL-encoded password',
      { REDIS_URL: 'redis://bot:p%40ss%3Aword@cache:6379' },
      {
        mode: 'single',
        url: 'redis://bot:p%40ss%3Aword@cache:6379',
        tls: false,
        username: 'bot',
        password: 'p@ss:word',
      },
    ],
    [
      'TLS',
      { REDIS_URL: 'rediss://:pw@cache.example.com:6380' },
      { mode: 'single', url: 'rediss://:pw@cache.example.com:6380', tls: true, password: 'pw' },
    ],
    [
      'a Cluster: REDIS_URL gives scheme and credentials, the nodes their addresses',
      { REDIS_URL: 'rediss://bot:pw@cluster', REDIS_CLUSTER_NODES: 'n1.internal:6379, n2.internal:6380,[::1]:7000' },
      {
        mode: 'cluster',
        nodes: [
          { host: 'n1.internal', port: 6379 },
          { host: 'n2.internal', port: 6380 },
          { host: '::1', port: 7000 },
        ],
        tls: true,
        username: 'bot',
        password: 'pw',
      },
    ],
    [
      'Sentinel with its own password and a database',
      {
        REDIS_URL: 'redis://:pw@mymaster/3',
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_SENTINEL_PASSWORD: 'spw',
      },
      {
        mode: 'sentinel',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
        ],
        name: 'mymaster',
        sentinelPassword: 'spw',
        db: 3,
        tls: false,
        password: 'pw',
      },
    ],
  ])('accepts %s', (_what, env, expected) => {
    expect(parseRedisTarget(env)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, RedisEnv, string[]]>([
    ['an http URL', { REDIS_URL: 'http://cache:6379' }, ['REDIS_URL: must be a redis:// or rediss:// URL']],
    ['host:port without a scheme', { REDIS_URL: 'cache:6379' }, ['REDIS_URL: must be a redis:// or rediss:// URL']],
    [
      'a path that is not a database number',
      { REDIS_URL: 'redis://cache/zero' },
      ['REDIS_URL: the path must be a database number, got /zero'],
    ],
    [
      'Cluster nodes without REDIS_URL',
      { REDIS_CLUSTER_NODES: 'n1:6379' },
      ['REDIS_CLUSTER_NODES: needs REDIS_URL too (for the scheme and the password, e.g. redis://:secret@sentinel)'],
    ],
    [
      'a node without a port',
      { REDIS_URL: 'redis://c', REDIS_CLUSTER_NODES: 'n1:6379,n2' },
      ['REDIS_CLUSTER_NODES: "n2" is not host:port (e.g. redis-1.internal:6379)'],
    ],
    [
      'a port out of range',
      { REDIS_URL: 'redis://c', REDIS_CLUSTER_NODES: 'n1:70000' },
      ['REDIS_CLUSTER_NODES: "n1:70000" is not host:port (e.g. redis-1.internal:6379)'],
    ],
    [
      'a database on a Cluster',
      { REDIS_URL: 'redis://c/1', REDIS_CLUSTER_NODES: 'n1:6379' },
      ['REDIS_URL: a Redis Cluster has only database 0; remove the path'],
    ],
    [
      'both Cluster and Sentinel',
      { REDIS_URL: 'redis://c', REDIS_CLUSTER_NODES: 'n1:6379', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm' },
      ['REDIS_CLUSTER_NODES: set either it or REDIS_SENTINELS, not both'],
    ],
    [
      'Sentinels without the master name',
      { REDIS_URL: 'redis://m', REDIS_SENTINELS: 's1:26379' },
      ['REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master group name, e.g. mymaster)'],
    ],
    [
      'a master name without Sentinels',
      { REDIS_URL: 'redis://m', REDIS_SENTINEL_NAME: 'mymaster' },
      ["REDIS_SENTINEL_NAME: needs REDIS_SENTINELS (the Sentinels' host:port list)"],
    ],
  ])('refuses %s', (_what, env, problems) => {
    expect(parseRedisTarget(env)).toEqual({ ok: false, problems });
  });
});

describe('describeRedisTarget', () => {
  it.each<[string, RedisEnv, string]>([
    ['hides the password of a URL', { REDIS_URL: 'rediss://bot:pw@cache:6380/1' }, 'rediss://***@cache:6380/1'],
    ['keeps a URL without one', { REDIS_URL: 'redis://cache:6379' }, 'redis://cache:6379'],
    [
      'names the Cluster nodes',
      { REDIS_URL: 'rediss://:pw@c', REDIS_CLUSTER_NODES: 'n1:6379,[::1]:7000' },
      'rediss Cluster n1:6379,[::1]:7000',
    ],
    [
      'names the master and the Sentinels',
      { REDIS_URL: 'redis://:pw@m', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'mymaster' },
      'redis master "mymaster" via Sentinels s1:26379',
    ],
  ])('%s', (_what, env, expected) => {
    const r = parseRedisTarget(env);
    if (!r.ok || !r.value) throw new Error('expected a target');
    expect(describeRedisTarget(r.value)).toBe(expected);
    expect(describeRedisTarget(r.value)).not.toContain('pw');
  });
});
