// Throwaway redis-server processes for the tests: a plain one, one with a password or TLS, a 3-node Redis
// Cluster and a Sentinel. Each lives in its own temporary directory on free loopback ports; stop() kills the
// processes and removes the directories.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './bot.js';

const run = promisify(execFile);

export interface RedisServer {
  port: number;
  dir: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on `port` (a fresh, empty redis-server is then serving). */
async function waitForPort(port: number, proc: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} on port ${port} did not listen within 10 s`);
}

function stopper(proc: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * `redis-server` on a free port with no persistence, plus `args`. With `listenPort` the caller picks which
 * port to wait for (e.g. the TLS port when the plain one is off).
 */
export async function startRedisServer(
  args: string[] = [],
  o: { port?: number; listenPort?: number; sentinel?: string } = {},
): Promise<RedisServer> {
  const port = o.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'promote-bot-redis-'));
  const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  let argv: string[];
  if (o.sentinel !== undefined) {
    // Sentinel rewrites its config file, so it needs one on disk.
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, o.sentinel);
    argv = [conf, '--sentinel', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...args];
  } else {
    argv = ['--port', String(port), ...base, ...args];
  }
  const proc = spawn('redis-server', argv, { stdio: 'ignore' });
  const stop = stopper(proc, dir);
  try {
    await waitForPort(o.listenPort ?? port, proc, 'redis-server');
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, proc, stop };
}

export interface RedisCluster {
  nodes: Array<{ host: string; port: number }>;
  /** REDIS_CLUSTER_NODES for these nodes */
  nodesEnv: string;
  stop(): Promise<void>;
}

/** Three masters (no replicas) sharing the 16384 slots, ready when every node reports cluster_state:ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startRedisServer([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '5000',
        ]),
      );
    }
    const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    const deadline = Date.now() + 20_000;
    for (const s of servers) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(s.port), 'cluster', 'info']);
        if (/cluster_state:ok/.test(stdout) && /cluster_known_nodes:3/.test(stdout)) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${s.port} not ready: ${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
    return { nodes, nodesEnv: addrs.join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
