// The Redis the benchmarks run against: REDIS_URL when set, else a throwaway redis-server on a free port
// (no persistence, its own temporary directory), stopped and removed by stop().
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../test/support/bot.js';

export interface BenchRedis {
  url: string;
  /** true when this run started the server (and stop() ends it) */
  owned: boolean;
  version: string;
  /** Deletes the keys under the prefixes (on a shared REDIS_URL), then stops an owned server. */
  stop(prefixes: string[]): Promise<void>;
}

async function waitForPing(url: string, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused connections while the server starts are expected: connect() rejects, the event needs no report.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not answer within 10 s`, { cause: err });
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function serverVersion(url: string): Promise<string> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    client.disconnect();
  }
}

/** Removes every key under these prefixes (SCAN, not KEYS, so a shared Redis is not blocked). */
async function deleteKeys(url: string, prefixes: string[]): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

/**
 * `own`: always a throwaway server of this run, also when REDIS_URL is set — for counting its commands (INFO
 * commandstats) or stopping it under the bot.
 */
export async function startRedis(o: { own?: boolean } = {}): Promise<BenchRedis> {
  const given = o.own ? undefined : process.env.REDIS_URL;
  if (given) {
    return {
      url: given,
      owned: false,
      version: await serverVersion(given),
      stop: (prefixes) => deleteKeys(given, prefixes),
    };
  }
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
  } catch (cause) {
    throw new Error(
      'the benchmarks need Redis: set REDIS_URL, or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)',
      { cause },
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'promote-bot-bench-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  // Last resort when the orderly stop() could not run.
  process.once('exit', () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPing(url, proc);
    return { url, owned: true, version: await serverVersion(url), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
