// Watching the bot run: /readyz (the store answers, Slack verified or connected), /healthz (liveness only),
// /metrics (Prometheus text format) after a real promotion, and the promotion ID on its log lines.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { ACTION } from '../../src/slack/ids.js';
import { type BotProcess, freePort, logLines, startBot } from '../support/bot.js';
import { configYaml, type Scenario, startScenario } from '../support/scenario.js';

/** A redis-server of this test's own, to stop and start again. */
class OwnRedis {
  private proc?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'promote-bot-readyz-'));
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { stdio: 'pipe' });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
  cleanup() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ready(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('/readyz follows the store', () => {
  let redis: OwnRedis;
  let s: Scenario;
  beforeAll(async () => {
    redis = new OwnRedis(await freePort());
    await redis.start();
    s = await startScenario({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await s?.close();
    await redis?.stop();
    redis?.cleanup();
  });

  it('200 while Redis answers, 503 naming the store while it is stopped (liveness stays 200), 200 again after', async () => {
    expect(await ready(s.bot.base)).toEqual({ status: 200, body: { ready: true, store: 'ok', slack: 'ok' } });

    await redis.stop();
    const down = await until('/readyz 503', async () => {
      const r = await ready(s.bot.base);
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).toMatchObject({ ready: false, slack: 'ok' });
    expect(down.body.store).toMatch(/^not answering: /);
    expect((await fetch(`${s.bot.base}/healthz`)).status).toBe(200);

    await redis.start();
    const up = await until('/readyz 200', async () => {
      const r = await ready(s.bot.base);
      return r.status === 200 ? r : undefined;
    });
    expect(up.body).toEqual({ ready: true, store: 'ok', slack: 'ok' });
  });
});

/** Prometheus text format: `name{a="x",b="y"} value` lines; '#' lines are help and type. */
function parseMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function sample(
  samples: ReturnType<typeof parseMetrics>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((n, s) => n + s.value, 0) : undefined;
}

async function scrape(base: string) {
  const r = await fetch(`${base}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await r.text());
}

describe('/metrics after a promotion', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('counts the promotion, its waits and durations, the Slack and AWS calls (429s and throttling included)', async () => {
    const before = await scrape(s.bot.base);
    expect(sample(before, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(before, 'promote_bot_promotions_total')).toBeUndefined();

    s.aws.throttle('DescribeChangeSet', 1);
    const { id, ts } = await s.plan();
    s.slack.rateLimit('chat.update', 1, 1);
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    // While it runs, the gauges show it: scraped back to back until the final reply.
    let done = false;
    const seen = { inFlight: 0, leases: 0 };
    const watching = (async () => {
      while (!done) {
        const m = await scrape(s.bot.base);
        seen.inFlight = Math.max(seen.inFlight, sample(m, 'promote_bot_operations_in_flight') ?? 0);
        seen.leases = Math.max(seen.leases, sample(m, 'promote_bot_leases_held') ?? 0);
      }
    })();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.finalReply(ts);
    done = true;
    await watching;
    expect(seen).toEqual({ inFlight: 1, leases: 1 });

    // After the 429 the chat.update budget is emptied and slowed; an update that may wait (the summary's, due in a
    // minute) then waits for a token to spare, so it may land after the final reply.
    const after = await until('the promotion counted and a chat.update through', async () => {
      const m = await scrape(s.bot.base);
      const counted = sample(m, 'promote_bot_promotions_total', { outcome: 'succeeded' });
      const updated = sample(m, 'promote_bot_slack_api_calls_total', { method: 'chat.update', result: 'ok' });
      return counted && updated ? m : undefined;
    });
    expect(sample(after, 'promote_bot_promotions_total', { outcome: 'succeeded' })).toBe(1);
    expect(sample(after, 'promote_bot_rollbacks_total')).toBeUndefined();
    expect(sample(after, 'promote_bot_approval_wait_seconds_count', { kind: 'promote' })).toBe(1);
    expect(
      sample(after, 'promote_bot_execution_duration_seconds_count', { kind: 'promote', outcome: 'succeeded' }),
    ).toBe(1);
    expect(sample(after, 'promote_bot_execution_duration_seconds_sum', { kind: 'promote' })).toBeGreaterThan(0);
    expect(sample(after, 'promote_bot_change_set_creation_seconds_count', { kind: 'promote' })).toBe(1);

    const slack = (method: string, result: string) =>
      sample(after, 'promote_bot_slack_api_calls_total', { method, result }) ?? 0;
    const posts = s.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.ok).length;
    expect(slack('chat.postMessage', 'ok')).toBe(posts);
    expect(slack('chat.update', 'ratelimited')).toBe(1);
    expect(slack('chat.update', 'ok')).toBeGreaterThan(0);

    const aws = (operation: string, result: string) =>
      sample(after, 'promote_bot_aws_api_calls_total', { operation, result }) ?? 0;
    expect(aws('ExecuteChangeSet', 'ok')).toBe(1);
    expect(aws('DescribeChangeSet', 'throttled')).toBe(1);
    expect(aws('DescribeChangeSet', 'ok')).toBeGreaterThan(0);
    expect(
      sample(after, 'promote_bot_aws_api_calls_total', { service: 'sts', operation: 'AssumeRole' }),
    ).toBeGreaterThan(0);

    // The final reply comes before the last end effect (the summary): the operation lets go just after.
    const settled = await until('nothing in flight', async () => {
      const m = await scrape(s.bot.base);
      return sample(m, 'promote_bot_operations_in_flight') === 0 ? m : undefined;
    });
    expect(sample(settled, 'promote_bot_leases_held')).toBe(0);
  });

  it('puts the promotion ID on every log line of the operation, and a request ID on the request’s lines', async () => {
    const lines = logLines(s.bot.output());
    const ids = new Set(lines.map((l) => l.promotionId).filter(Boolean));
    expect(ids.size).toBe(1);
    const audits = lines.filter((l) => l.msg === 'audit');
    expect(audits.length).toBeGreaterThan(3);
    for (const a of audits) expect(a.promotionId).toBe((a.audit as { promotionId: string }).promotionId);
    // The plan's lines carry the /promote request's ID too.
    const requested = audits.find((a) => (a.audit as { action: string }).action === 'requested');
    expect(requested?.requestId).toMatch(/^[0-9a-f]{12}$/);
  });
});

/**
 * Just enough of Slack for a Socket Mode connection: auth.test, apps.connections.open answering with a WebSocket
 * URL on the same server, and a `hello` on each connection (docs.slack.dev/apis/events-api/using-socket-mode).
 */
async function socketModeStub() {
  const sockets: WebSocket[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0];
    req.resume();
    const { port } = server.address() as { port: number };
    const body =
      method === 'auth.test'
        ? { ok: true, user_id: 'U0BOT', bot_id: 'B0BOT', team_id: 'T0TEAM' }
        : method === 'apps.connections.open'
          ? { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=t${connections}` }
          : { ok: false, error: 'unknown_method' };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    connections++;
    sockets.push(ws);
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0APP' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/api/`,
    connections: () => connections,
    /** Drops every open connection without a close handshake, as a network failure does. */
    drop: () => {
      for (const ws of sockets.splice(0)) ws.terminate();
    },
    close: async () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('/readyz follows the Socket Mode connection', () => {
  let stub: Awaited<ReturnType<typeof socketModeStub>>;
  let bot: BotProcess;
  beforeAll(async () => {
    stub = await socketModeStub();
    bot = await startBot({
      config: configYaml(),
      slackUrl: stub.url,
      slackToken: 'xoxb-stub',
      awsUrl: 'http://127.0.0.1:9',
      extraEnv: { SLACK_APP_TOKEN: 'xapp-1-A0APP-stub' },
    });
  });
  afterAll(async () => {
    await bot?.kill();
    await stub?.close();
  });

  it('200 while connected, 503 once the connection drops, 200 again after the reconnect', async () => {
    // In Socket Mode the HTTP routes listen while the WebSocket connects: started is logged once connected.
    await until('the started line', async () => (/"mode":"socket"/.test(bot.output()) ? true : undefined));
    expect(await ready(bot.base)).toEqual({ status: 200, body: { ready: true, store: 'ok', slack: 'ok' } });

    stub.drop();
    const down = await until('/readyz 503', async () => {
      const r = await ready(bot.base);
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).toMatchObject({ ready: false, store: 'ok' });
    expect(down.body.slack).toMatch(/^Socket Mode (connection dropped|is (reconnecting|connecting|disconnected))/);

    await until(
      '/readyz 200 after the reconnect',
      async () => ((await ready(bot.base)).status === 200 ? true : undefined),
      30_000,
    );
    expect(stub.connections()).toBe(2);
  });
});
