// Signed requests in HTTP mode: Bolt refuses timestamps older than 5 minutes; the bot also refuses those more
// than 5 minutes ahead, and a replayed request (same body, timestamp and X-Slack-Signature) is acked again but
// does its work once, on one replica or spread over two sharing a Redis.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { logLines, SIGNING_SECRET } from '../support/bot.js';
import { CHANNEL, REQUESTER, type Scenario, startScenario, summaries } from '../support/scenario.js';
import { postSigned, sendBlockAction, sendSlashCommand, slashCommandFields } from '../support/slack-driver.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('signed requests', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  function promoteBody(s: Scenario, text: string, tag: string): string {
    return new URLSearchParams(
      slashCommandFields({
        command: '/promote',
        text,
        userId: REQUESTER,
        channelId: CHANNEL,
        responseUrl: s.slack.responseUrl(tag),
      }),
    ).toString();
  }

  it('refuses a request dated more than 5 minutes ahead like an old one, and plans nothing', async () => {
    s = await startScenario({});
    const ahead = await sendSlashCommand({
      url: s.bot.url,
      secret: SIGNING_SECRET,
      command: '/promote',
      text: 'api dev→prod',
      userId: REQUESTER,
      channelId: CHANNEL,
      responseUrl: s.slack.responseUrl('ahead'),
      timestamp: nowSeconds() + 6 * 60,
    });
    const old = await sendSlashCommand({
      url: s.bot.url,
      secret: SIGNING_SECRET,
      command: '/promote',
      text: 'api dev→prod',
      userId: REQUESTER,
      channelId: CHANNEL,
      responseUrl: s.slack.responseUrl('old'),
      timestamp: nowSeconds() - 6 * 60,
    });
    expect(ahead.status).toBe(401);
    expect(old.status).toBe(401);
    expect(ahead.body).toBe('');
    await settle(1_500);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(0);
    expect(summaries(s.slack)).toHaveLength(0);
    expect(s.slack.responses).toHaveLength(0);
    expect(s.bot.output()).toContain('refused a request dated in the future');

    // A clock a little ahead (inside the window) is still accepted.
    const slightly = await sendSlashCommand({
      url: s.bot.url,
      secret: SIGNING_SECRET,
      command: '/promote',
      text: 'api dev→prod',
      userId: REQUESTER,
      channelId: CHANNEL,
      responseUrl: s.slack.responseUrl('slightly-ahead'),
      timestamp: nowSeconds() + 4 * 60,
    });
    expect(slightly.status).toBe(200);
    await s.slack.waitFor(() => summaries(s!.slack)[0], 15_000);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(1);
  });

  it('acks a button and a command it has no handler for at once, and does nothing else', async () => {
    s = await startScenario({});
    const awsBefore = s.aws.calls.length;
    // A button of a message an older version posted, one named like an object's own key, a command of another app.
    const clicks = await Promise.all(
      ['promotion_retired_button', 'constructor'].map((actionId) =>
        sendBlockAction({
          url: s!.bot.url,
          secret: SIGNING_SECRET,
          userId: REQUESTER,
          actionId,
          value: 'p-1',
          channelId: CHANNEL,
          messageTs: '1700000000.000100',
          responseUrl: s!.slack.responseUrl(`unknown:${actionId}`),
        }),
      ),
    );
    const command = await sendSlashCommand({
      url: s.bot.url,
      secret: SIGNING_SECRET,
      command: '/deploy',
      text: 'api',
      userId: REQUESTER,
      channelId: CHANNEL,
      responseUrl: s.slack.responseUrl('unknown:/deploy'),
    });
    // Bolt alone would answer 404 after 3 s to what no listener acks.
    expect([...clicks, command].map((r) => [r.status, r.body])).toEqual([
      [200, ''],
      [200, ''],
      [200, ''],
    ]);
    await settle(500);
    const unrouted = logLines(s.bot.output()).filter(
      (l) => l.msg === 'acked a request no handler takes, and did nothing',
    );
    expect(unrouted.map((l) => [l.kind, l.id]).sort()).toEqual([
      ['block_actions', 'constructor'],
      ['block_actions', 'promotion_retired_button'],
      ['command', '/deploy'],
    ]);
    expect(s.slack.responses).toHaveLength(0);
    expect(s.aws.calls.slice(awsBefore)).toEqual([]);
  });

  it('acks the same /promote sent twice, and plans it once', async () => {
    s = await startScenario({});
    const rawBody = promoteBody(s, 'api dev→prod', 'twice');
    const timestamp = nowSeconds();
    const first = await postSigned({ url: s.bot.url, secret: SIGNING_SECRET, rawBody, timestamp });
    const again = await postSigned({ url: s.bot.url, secret: SIGNING_SECRET, rawBody, timestamp });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body).toBe(first.body);
    await s.slack.waitFor(() => summaries(s!.slack)[0], 15_000);
    await settle(1_500);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(1);
    expect(summaries(s.slack)).toHaveLength(1);
    // The copy says nothing either (not even "already being planned").
    expect(s.slack.responses.filter((r) => r.tag === 'twice')).toHaveLength(0);
    expect(s.bot.output()).toContain('ignored a replayed request');
    // Each request's work logs under its own ID: the plan's lines under one, the ignored copy's under another.
    const lines = logLines(s.bot.output());
    const replayed = lines.filter((l) => l.msg === 'ignored a replayed request');
    const planned = lines.filter((l) => l.msg === 'audit' && l.promotionId);
    expect(replayed).toHaveLength(1);
    expect(planned.length).toBeGreaterThanOrEqual(2);
    const planIds = new Set(planned.map((l) => l.requestId));
    expect(planIds.size).toBe(1);
    expect([...planIds][0]).toMatch(/^[0-9a-f]{12}$/);
    expect(replayed[0]!.requestId).toMatch(/^[0-9a-f]{12}$/);
    expect(replayed[0]!.requestId).not.toBe([...planIds][0]);
    // Lines of no request (start-up) carry none.
    expect(lines.find((l) => l.msg === 'promote-bot started')).not.toHaveProperty('requestId');
  });

  it('plans a /promote sent to two replicas on one Redis once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const second = await s.replica();
    const rawBody = promoteBody(s, 'api dev→prod', 'both');
    const timestamp = nowSeconds();
    const acks = await Promise.all(
      [s.bot.url, second.url, s.bot.url, second.url].map((url) =>
        postSigned({ url, secret: SIGNING_SECRET, rawBody, timestamp }),
      ),
    );
    expect(acks.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    await s.slack.waitFor(() => summaries(s!.slack)[0], 15_000);
    await settle(1_500);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(1);
    expect(summaries(s.slack)).toHaveLength(1);
    expect(s.slack.responses.filter((r) => r.tag === 'both')).toHaveLength(0);
  });
});
