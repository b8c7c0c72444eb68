// A redis-server of the test file's own, on a free port, that a test can take away and bring back: stopped
// (killed; every write is on disk first, so it comes back with its data), frozen (SIGSTOP: connections hang),
// or restarted empty (its data gone, as after a failover to an empty replica).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/bot.js';

export interface OwnRedis {
  url: string;
  /** Kills the server (SIGKILL): clients get connection refused until start(). Data is kept (AOF, fsync always). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stopped for `ms`, then started again with its data. */
  outage(ms: number): Promise<void>;
  /** Killed and started again with no data at all. */
  restartEmpty(): Promise<void>;
  /** SIGSTOP: the server accepts nothing and answers nothing (a hung Redis) until resume(). */
  freeze(): void;
  resume(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ping(port: number): boolean {
  try {
    return execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' })
      .toString()
      .includes('PONG');
  } catch {
    return false;
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let dir = mkdtempSync(join(tmpdir(), 'promote-bot-faults-redis-'));
  let proc: ChildProcess | undefined;

  const start = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) return;
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    while (!ping(port)) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${proc.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s`);
      await sleep(50);
    }
  };

  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT'); // a frozen server must be able to die
    p.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async outage(ms) {
      await stop();
      await sleep(ms);
      await start();
    },
    async restartEmpty() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(join(tmpdir(), 'promote-bot-faults-redis-'));
      await start();
    },
    freeze: () => {
      proc?.kill('SIGSTOP');
    },
    resume: () => {
      proc?.kill('SIGCONT');
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
