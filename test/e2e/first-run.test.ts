// A first run that explains itself: the Slack tokens are checked before the bot says it started; a rejected one
// ends with one line naming the variable (exit 2, no stack trace); an unreachable Slack API is retried, logged
// with its URL, and given up after SLACK_STARTUP_TIMEOUT; a stop during start-up is a clean one.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { freePort, logLines, runBotExpectingExit, SIGNING_SECRET, startBot, writeConfig } from '../support/bot.js';
import { configYaml } from '../support/scenario.js';

const BASE_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
};

/** A stack trace line, as Node prints them. */
const STACK_LINE = /^\s+at .+[:(]/m;

/** Every line on stdout is one of our JSON log lines; the only plain text is the one-line verdict on stderr. */
function nonJsonLines(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('promote-bot '))
    .filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
}

/** A Slack Web API of our own for what the fake Slack does not speak: answers per method, records the calls. */
async function stubSlack(
  answer: (method: string) => Record<string, unknown>,
): Promise<{ url: string; calls: string[]; server: Server }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
    calls.push(method);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer(method)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/api/`, calls, server };
}

const AUTH_OK = { ok: true, user_id: 'U0BOT', bot_id: 'B0BOT', team_id: 'T0TEAM', team: 'Stub', user: 'promote-bot' };

describe('start-up checks the Slack tokens', () => {
  let slack: FakeSlack | undefined;
  let stub: Server | undefined;
  afterEach(async () => {
    await slack?.close();
    slack = undefined;
    stub?.close();
    stub = undefined;
  });

  it('a rejected bot token: one line naming SLACK_BOT_TOKEN and Slack’s error, exit 2, no stack trace', async () => {
    slack = await startFakeSlack();
    slack.failNext('auth.test', 'invalid_auth');
    const { code, output } = await runBotExpectingExit({
      ...BASE_ENV,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.url,
      PROMOTE_CONFIG: writeConfig(configYaml()),
    });
    expect(code).toBe(2);
    expect(output).toContain('SLACK_BOT_TOKEN rejected by Slack: invalid_auth');
    expect(output).not.toContain('promote-bot started');
    expect(output).not.toMatch(STACK_LINE);
    expect(nonJsonLines(output)).toEqual([]);
    expect(slack.calls.map((c) => c.method)).toEqual(['auth.test']);
  });

  it('a rejected app token (Socket Mode): one line naming SLACK_APP_TOKEN, exit 2', async () => {
    const s = await stubSlack((method) =>
      method === 'auth.test'
        ? AUTH_OK
        : { ok: false, error: method === 'apps.connections.open' ? 'invalid_auth' : 'x' },
    );
    stub = s.server;
    const { code, output } = await runBotExpectingExit({
      ...BASE_ENV,
      SLACK_BOT_TOKEN: 'xoxb-good',
      SLACK_APP_TOKEN: 'xapp-1-A0-revoked',
      SLACK_API_URL: s.url,
      PROMOTE_CONFIG: writeConfig(configYaml()),
    });
    expect(code).toBe(2);
    expect(output).toContain('SLACK_APP_TOKEN rejected by Slack: invalid_auth');
    expect(output).not.toContain('promote-bot started');
    expect(output).not.toMatch(STACK_LINE);
    expect(s.calls).toEqual(['auth.test', 'apps.connections.open']);
  });

  it('an unreachable Slack API: retried with backoff and logged with the URL, then a clear error', async () => {
    const port = await freePort(); // nothing listens there
    const url = `http://127.0.0.1:${port}/api/`;
    const { code, output } = await runBotExpectingExit({
      ...BASE_ENV,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: url,
      SLACK_STARTUP_TIMEOUT: '2500ms',
      PROMOTE_CONFIG: writeConfig(configYaml()),
    });
    expect(code).toBe(1);
    const retries = logLines(output).filter((l) => l.msg === 'Slack API unreachable; retrying');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatchObject({ level: 'warn', url: `${url}auth.test`, method: 'auth.test', attempt: 1 });
    // Backoff: each wait at least as long as the one before.
    const waits = retries.map((l) => l.retryInMs as number);
    expect(waits).toEqual([...waits].sort((a, b) => a - b));
    expect(waits.at(-1)).toBeGreaterThan(waits[0]!);
    expect(output).toContain(`could not reach the Slack API at ${url}auth.test within 3 s`);
    expect(output).not.toContain('promote-bot started');
    expect(output).not.toMatch(STACK_LINE);
  });

  it('a Slack API that fails for a moment: retried, then the bot starts', async () => {
    slack = await startFakeSlack();
    slack.failHttp('auth.test', 503, 2);
    const bot = await startBot({
      config: configYaml(),
      slackUrl: slack.url,
      slackToken: slack.token,
      awsUrl: BASE_ENV.AWS_ENDPOINT_URL,
    });
    try {
      await slack.waitFor(() => bot.output().includes('promote-bot started'), 10_000);
      const lines = logLines(bot.output());
      const retries = lines.filter((l) => l.msg === 'Slack API unreachable; retrying');
      expect(retries.map((l) => l.error)).toEqual(['http_503', 'http_503']);
      expect(retries[0]?.url).toBe(`${slack.url}auth.test`);
      const started = lines.findIndex((l) => l.msg === 'promote-bot started');
      expect(started).toBeGreaterThan(lines.indexOf(retries[1]!));
      expect(lines[started]).toMatchObject({ botUserId: slack.botUserId });
      // Bolt was given the identity: no auth.test of its own beyond the three of the check.
      expect(slack.calls.filter((c) => c.method === 'auth.test')).toHaveLength(3);
    } finally {
      await bot.kill();
    }
  });

  it('Socket Mode that cannot connect gives up after SLACK_STARTUP_TIMEOUT, Bolt’s lines in our JSON format', async () => {
    const closedPort = await freePort();
    const s = await stubSlack((method) =>
      method === 'auth.test'
        ? AUTH_OK
        : method === 'apps.connections.open'
          ? { ok: true, url: `ws://127.0.0.1:${closedPort}/link` }
          : { ok: false, error: 'unknown_method' },
    );
    stub = s.server;
    const { code, output } = await runBotExpectingExit(
      {
        ...BASE_ENV,
        SLACK_BOT_TOKEN: 'xoxb-good',
        SLACK_APP_TOKEN: 'xapp-1-A0-good',
        SLACK_API_URL: s.url,
        SLACK_STARTUP_TIMEOUT: '2s',
        PORT: String(await freePort()),
        PROMOTE_CONFIG: writeConfig(configYaml()),
      },
      20_000,
    );
    expect(code).toBe(1);
    expect(output).toContain('Socket Mode did not connect to Slack within 2 s');
    expect(output).not.toContain('promote-bot started');
    expect(output).not.toMatch(STACK_LINE);
    expect(nonJsonLines(output)).toEqual([]);
    expect(logLines(output).filter((l) => l.source === 'bolt').length).toBeGreaterThan(0);
    // The check's apps.connections.open, then Bolt's own.
    expect(s.calls.filter((m) => m === 'apps.connections.open').length).toBeGreaterThanOrEqual(2);
  });
});

describe('signals during start-up', () => {
  let slack: FakeSlack | undefined;
  let proc: ChildProcess | undefined;
  afterEach(async () => {
    proc?.kill('SIGKILL');
    await slack?.close();
  });

  it('SIGTERM while waiting for Slack stops cleanly (exit 0), the handlers being installed before connecting', async () => {
    slack = await startFakeSlack();
    slack.hang('auth.test');
    proc = spawn(process.execPath, ['dist/main.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...BASE_ENV,
        SLACK_BOT_TOKEN: slack.token,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slack.url,
        PROMOTE_CONFIG: writeConfig(configYaml()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout?.on('data', (d) => {
      out += d;
    });
    proc.stderr?.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => proc!.once('exit', (c) => r(c)));
    await slack.waitFor(() => slack!.calls.some((c) => c.method === 'auth.test'), 10_000);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logLines(out).map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(out).not.toContain('promote-bot started');
  });
});
