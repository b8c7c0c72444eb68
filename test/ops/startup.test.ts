// The start-up token check against the fake Slack Web API through the real WebClient.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { checkSlackTokens, describeRejection, SlackUnreachableError } from '../../src/slack/startup.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';

let fake: FakeSlack;
let lines: Array<Record<string, unknown>>;
const log = () => createLogger('debug', (l) => lines.push(JSON.parse(l)));

beforeEach(async () => {
  fake = await startFakeSlack();
  lines = [];
});
afterEach(async () => {
  await fake.close();
});

describe('checkSlackTokens', () => {
  it('returns the bot’s identity when auth.test accepts the token', async () => {
    const r = await checkSlackTokens({ botToken: fake.token, slackApiUrl: fake.url, giveUpAfterMs: 5_000, log: log() });
    expect(r).toEqual({ ok: true, botUserId: fake.botUserId, botId: fake.botId, teamId: fake.teamId });
  });

  it.each(['invalid_auth', 'token_revoked', 'account_inactive'])(
    'a token Slack rejects (%s) is a refusal',
    async (error) => {
      fake.failNext('auth.test', error);
      const r = await checkSlackTokens({
        botToken: fake.token,
        slackApiUrl: fake.url,
        giveUpAfterMs: 5_000,
        log: log(),
      });
      expect(r).toEqual({ ok: false, variable: 'SLACK_BOT_TOKEN', method: 'auth.test', error });
      if (!r.ok) expect(describeRejection(r, fake.url)).toBe(`SLACK_BOT_TOKEN rejected by Slack: ${error}`);
    },
  );

  it('a URL that is not Slack’s Web API (HTTP 404) names SLACK_API_URL', async () => {
    fake.failHttp('auth.test', 404);
    const r = await checkSlackTokens({ botToken: fake.token, slackApiUrl: fake.url, giveUpAfterMs: 5_000, log: log() });
    expect(r).toMatchObject({ ok: false, variable: 'SLACK_API_URL', error: 'http_404' });
    if (!r.ok) expect(describeRejection(r, fake.url)).toContain(`SLACK_API_URL ${fake.url} does not answer`);
  });

  it('retries rate limits and outages with growing waits, logging the URL', async () => {
    fake.rateLimit('auth.test', 1, 2);
    fake.failHttp('auth.test', 503, 2);
    const waits: number[] = [];
    const r = await checkSlackTokens({
      botToken: fake.token,
      slackApiUrl: fake.url,
      giveUpAfterMs: 60_000,
      log: log(),
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    expect(r.ok).toBe(true);
    expect(waits[0]).toBe(2_000); // Slack's Retry-After
    expect(waits.slice(1)).toEqual([1_000, 2_000]);
    expect(lines.map((l) => [l.msg, l.url, l.error])).toEqual([
      ['Slack API unreachable; retrying', `${fake.url}auth.test`, 'ratelimited'],
      ['Slack API unreachable; retrying', `${fake.url}auth.test`, 'http_503'],
      ['Slack API unreachable; retrying', `${fake.url}auth.test`, 'http_503'],
    ]);
  });

  it('gives up after giveUpAfterMs with an error naming the URL', async () => {
    let clock = 0;
    fake.failHttp('auth.test', 502, 100);
    const err = await checkSlackTokens({
      botToken: fake.token,
      slackApiUrl: fake.url,
      giveUpAfterMs: 10_000,
      log: log(),
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackUnreachableError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^could not reach the Slack API at ${fake.url}auth.test within 10 s \\(\\d+ attempts, last: http_502\\)$`,
      ),
    );
  });

  it('checks the app-level token with apps.connections.open in Socket Mode', async () => {
    // The fake knows only the bot token: the app token is refused as Slack refuses an unknown token.
    const r = await checkSlackTokens({
      botToken: fake.token,
      appToken: 'xapp-1-A0-unknown',
      slackApiUrl: fake.url,
      giveUpAfterMs: 5_000,
      log: log(),
    });
    expect(r).toMatchObject({ ok: false, variable: 'SLACK_APP_TOKEN', method: 'apps.connections.open' });
  });
});
