// Starts the bot as the README does (the compiled `node dist/main.js` that `npm start` runs) in HTTP
// mode (or Socket Mode with `appToken`), pointed at the fake Slack and fake AWS endpoints, and a real Redis.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SIGNING_SECRET = 'test-signing-secret';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface BotOptions {
  config: string; // promote.yml text
  slackUrl: string;
  slackToken: string;
  awsUrl: string;
  redisUrl?: string; // omitted: the in-memory store
  redisPrefix?: string;
  port?: number;
  extraEnv?: Record<string, string>;
  /** Socket Mode: SLACK_APP_TOKEN set (and no SLACK_SIGNING_SECRET); omitted: HTTP mode */
  appToken?: string;
}

export interface BotProcess {
  url: string; // http://127.0.0.1:PORT/slack/events
  base: string;
  port: number;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  proc: ChildProcess;
}

/** The bot's JSON log lines in its output (other output, such as Node's warnings, left out). */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'promote-bot-cfg-'));
  const path = join(dir, 'promote.yml');
  writeFileSync(path, text);
  return path;
}

/** The Node flags of `npm start` (package.json: `node <flags> dist/main.js`), so the bot runs as it does there. */
export function startFlags(): string[] {
  const start: string = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start;
  const m = /^node\s+(.*?)\s*dist\/main\.js$/.exec(start);
  if (!m) throw new Error(`package.json's start script is not "node [flags] dist/main.js": ${start}`);
  return m[1] ? m[1].split(/\s+/) : [];
}

/** Runs `node dist/main.js` (with the flags of `npm start`) and waits until GET /healthz answers 200. */
export async function startBot(o: BotOptions): Promise<BotProcess> {
  const port = o.port ?? (await freePort());
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    SLACK_BOT_TOKEN: o.slackToken,
    ...(o.appToken ? { SLACK_APP_TOKEN: o.appToken } : { SLACK_SIGNING_SECRET: SIGNING_SECRET }),
    SLACK_API_URL: o.slackUrl,
    PORT: String(port),
    PROMOTE_CONFIG: writeConfig(o.config),
    AWS_ENDPOINT_URL: o.awsUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(o.redisUrl ? { REDIS_URL: o.redisUrl } : {}),
    ...(o.redisPrefix ? { PROMOTE_REDIS_PREFIX: o.redisPrefix } : {}),
    ...o.extraEnv,
  };
  // BOT_CPU_PROF=<dir>: each bot writes a V8 CPU profile there when it exits (not when killed with SIGKILL).
  const profile = process.env.BOT_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BOT_CPU_PROF}`] : [];
  const flags = process.env.BOT_NODE_FLAGS ? process.env.BOT_NODE_FLAGS.split(' ') : startFlags();
  const proc = spawn(process.execPath, [...flags, ...profile, 'dist/main.js'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // BOT_OUT_DIR=<dir>: each bot's stdout and stderr also go to <dir>/bot-<pid>.log (e.g. with BOT_NODE_FLAGS=--trace-gc).
  const copy = process.env.BOT_OUT_DIR
    ? createWriteStream(`${process.env.BOT_OUT_DIR}/bot-${proc.pid}.log`)
    : undefined;
  proc.stdout?.on('data', (d) => {
    out += d;
    copy?.write(d);
  });
  proc.stderr?.on('data', (d) => {
    out += d;
    copy?.write(d);
  });
  if (copy) proc.once('close', () => copy.end());
  const base = `http://127.0.0.1:${port}`;
  // Generous: the fault suite starts many bots on a loaded 2-core machine.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`bot exited with ${proc.exitCode}:\n${out}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`bot did not answer /healthz within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `${base}/slack/events`,
    base,
    port,
    proc,
    output: () => out,
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await done;
    },
  };
}

/** Runs the bot expecting it to refuse to start; resolves with its exit code and output. */
export async function runBotExpectingExit(
  env: Record<string, string>,
  timeoutMs = 10_000,
): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, ['dist/main.js'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    out += d;
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearTimeout(timer);
  return { code, output: out };
}
