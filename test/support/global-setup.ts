// Starts what the whole test run shares: a real Redis (REDIS_URL when set, else a throwaway
// redis-server on a free port), a 3-node Redis Cluster (REDIS_CLUSTER_NODES when set, else throwaway
// redis-servers) and a fresh build of the bot for the end-to-end tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort } from './bot.js';
import { type RedisCluster, startRedisCluster } from './redis-servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** host:port,… of a Redis Cluster; empty when neither REDIS_CLUSTER_NODES nor redis-server is at hand */
    redisClusterNodes: string;
  }
}

async function waitForRedis(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode}`);
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`redis-server on port ${port} did not answer within 10 s`);
}

let redis: ChildProcess | undefined;
let redisDir: string | undefined;
let cluster: RedisCluster | undefined;

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.REDIS_URL;
  if (!url) {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
    } catch (cause) {
      throw new Error(
        'the tests need a real Redis: set REDIS_URL, or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)',
        { cause },
      );
    }
    const port = await freePort();
    redisDir = mkdtempSync(join(tmpdir(), 'promote-bot-redis-'));
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
      { stdio: 'ignore' },
    );
    await waitForRedis(port, redis);
    url = `redis://127.0.0.1:${port}`;
  }
  project.provide('redisUrl', url);
  let clusterNodes = process.env.REDIS_CLUSTER_NODES ?? '';
  if (!clusterNodes && hasRedisServer()) {
    cluster = await startRedisCluster();
    clusterNodes = cluster.nodesEnv;
  }
  project.provide('redisClusterNodes', clusterNodes);
  // The end-to-end tests start the bot as `npm start` does: from the compiled output.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
  redis?.kill('SIGTERM');
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
}
