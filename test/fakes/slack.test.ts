import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { App, LogLevel } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  sendBlockAction,
  sendEvent,
  sendHomeBlockAction,
  sendSlashCommand,
  slackSignature,
} from '../support/slack-driver.js';
import { type FakeSlack, imChannel, startFakeSlack, validateBlocks } from './slack.js';

let fake: FakeSlack;
let client: WebClient;

beforeEach(async () => {
  fake = await startFakeSlack();
  client = new WebClient(fake.token, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
});

afterEach(async () => {
  await fake.close();
});

// The Slack error code a WebClient call failed with (WebAPIPlatformError carries `data`).
async function slackError(call: Promise<unknown>): Promise<{ error?: string; errors?: string[] }> {
  try {
    await call;
  } catch (err) {
    const data = (err as { data?: { error?: string; errors?: string[] } }).data;
    if (data) return data;
    throw err;
  }
  throw new Error('expected the Slack call to fail');
}

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const button = (extra: Record<string, unknown> = {}) => ({
  type: 'button',
  action_id: 'a1',
  text: { type: 'plain_text', text: 'Approve' },
  value: 'v',
  ...extra,
});
const confirm = (extra: Record<string, unknown> = {}) => ({
  title: { type: 'plain_text', text: 'Sure?' },
  text: { type: 'mrkdwn', text: 'Really?' },
  confirm: { type: 'plain_text', text: 'Yes' },
  deny: { type: 'plain_text', text: 'No' },
  ...extra,
});
const plain = (text: string) => ({ type: 'plain_text', text });
const x = (n: number) => 'x'.repeat(n);

describe('fake Slack Web API', () => {
  it('answers auth.test with the bot identity', async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({ ok: true, user_id: fake.botUserId, team_id: fake.teamId, bot_id: fake.botId });
  });

  it('records posts, updates and thread replies', async () => {
    const blocks = [section('*promote* api')];
    const parent = await client.chat.postMessage({ channel: 'C1', text: 'promote api', blocks });
    const reply = await client.chat.postMessage({ channel: 'C1', text: 'step 1', thread_ts: parent.ts! });
    await client.chat.postMessage({ channel: 'C1', text: 'visible', thread_ts: parent.ts!, reply_broadcast: true });
    await client.chat.update({ channel: 'C1', ts: parent.ts!, text: 'promote api: approved' });

    expect(parent.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(reply.ts! > parent.ts!).toBe(true);
    expect(fake.messages).toHaveLength(3);
    const [first] = fake.messages;
    // omitting blocks keeps the old ones
    expect(first).toMatchObject({ channel: 'C1', ts: parent.ts, text: 'promote api: approved', blocks });
    expect(first?.user).toBe(fake.botUserId);
    expect(first?.history.map((h) => h.text)).toEqual(['promote api', 'promote api: approved']);
    expect(fake.thread(parent.ts!).map((m) => m.text)).toEqual(['step 1', 'visible']);
    expect(fake.thread(parent.ts!)[1]?.reply_broadcast).toBe(true);

    await client.chat.update({ channel: 'C1', ts: parent.ts!, text: 'cleared', blocks: [] });
    expect(fake.messages[0]?.blocks).toBeUndefined();
    expect(fake.calls.map((c) => c.method)).toEqual([
      'chat.postMessage',
      'chat.postMessage',
      'chat.postMessage',
      'chat.update',
      'chat.update',
    ]);
    expect(fake.calls[0]?.args.blocks).toEqual(blocks); // JSON-string form argument parsed back
  });

  it('rejects chat.update of an unknown message, and deletes', async () => {
    expect((await slackError(client.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' }))).error).toBe(
      'message_not_found',
    );
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'temp' });
    await client.chat.delete({ channel: 'C1', ts: posted.ts! });
    expect(fake.messages[0]?.deleted).toBe(true);
    expect((await slackError(client.chat.update({ channel: 'C1', ts: posted.ts!, text: 'x' }))).error).toBe(
      'message_not_found',
    );
  });

  it('records ephemeral messages', async () => {
    await client.chat.postEphemeral({ channel: 'C1', user: 'U1', text: 'only you', thread_ts: '1.2' });
    expect(fake.ephemerals).toEqual([{ channel: 'C1', user: 'U1', text: 'only you', thread_ts: '1.2' }]);
  });

  it('answers invalid_auth, unknown_method, channel_not_found and no_text', async () => {
    const wrong = new WebClient('xoxb-wrong', { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    expect((await slackError(wrong.chat.postMessage({ channel: 'C1', text: 'hi' }))).error).toBe('invalid_auth');
    const none = new WebClient(undefined, { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    expect((await slackError(none.auth.test())).error).toBe('invalid_auth');
    expect((await slackError(client.apiCall('reactions.add', { name: 'x' }))).error).toBe('unknown_method');
    expect((await slackError(client.apiCall('chat.postMessage', { text: 'hi' }))).error).toBe('channel_not_found');
    expect((await slackError(client.apiCall('chat.postMessage', { channel: 'C1' }))).error).toBe('no_text');
    expect(fake.messages).toHaveLength(0);
    expect(fake.calls.every((c) => !c.ok && c.status === 200)).toBe(true);
  });

  it('accepts JSON bodies with a bearer token', async () => {
    const res = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${fake.token}` },
      body: JSON.stringify({ channel: 'C2', text: 'json', blocks: [section('hi')] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, channel: 'C2' });
    expect(fake.messages[0]).toMatchObject({ channel: 'C2', text: 'json', blocks: [section('hi')] });
  });

  const rejected: Array<[string, unknown[], string]> = [
    ['more than 50 blocks', Array.from({ length: 51 }, () => ({ type: 'divider' })), '/blocks'],
    ['section text over 3000', [section(x(3001))], '/blocks/0/text/text'],
    ['empty section text', [section('')], '/blocks/0/text/text'],
    [
      'more than 10 fields',
      [{ type: 'section', fields: Array.from({ length: 11 }, () => plain('f')) }],
      '/blocks/0/fields',
    ],
    ['a field over 2000', [{ type: 'section', fields: [plain(x(2001))] }], '/blocks/0/fields/0/text'],
    ['mrkdwn header', [{ type: 'header', text: { type: 'mrkdwn', text: 'h' } }], '/blocks/0/text/type'],
    ['header over 150', [{ type: 'header', text: plain(x(151)) }], '/blocks/0/text/text'],
    [
      'more than 10 context elements',
      [{ type: 'context', elements: Array.from({ length: 11 }, () => plain('c')) }],
      '/blocks/0/elements',
    ],
    [
      'more than 25 actions elements',
      [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button({ action_id: `a${i}` })) }],
      '/blocks/0/elements',
    ],
    ['block_id over 255', [{ type: 'divider', block_id: x(256) }], '/blocks/0/block_id'],
    [
      'duplicate block_id',
      [
        { type: 'divider', block_id: 'b' },
        { type: 'divider', block_id: 'b' },
      ],
      '/blocks/1/block_id',
    ],
    ['action_id over 255', [{ type: 'actions', elements: [button({ action_id: x(256) })] }], 'action_id'],
    [
      'duplicate action_id',
      [
        { type: 'actions', elements: [button()] },
        { type: 'actions', elements: [button()] },
      ],
      '/blocks/1/elements/0/action_id',
    ],
    ['button text over 75', [{ type: 'actions', elements: [button({ text: plain(x(76)) })] }], 'elements/0/text/text'],
    ['button value over 2000', [{ type: 'actions', elements: [button({ value: x(2001) })] }], 'elements/0/value'],
    ['button url over 3000', [{ type: 'actions', elements: [button({ url: x(3001) })] }], 'elements/0/url'],
    [
      'confirm title over 100',
      [{ type: 'actions', elements: [button({ confirm: confirm({ title: plain(x(101)) }) })] }],
      'confirm/title/text',
    ],
    [
      'confirm text over 300',
      [{ type: 'actions', elements: [button({ confirm: confirm({ text: plain(x(301)) }) })] }],
      'confirm/text/text',
    ],
    [
      'confirm button over 30',
      [{ type: 'actions', elements: [button({ confirm: confirm({ confirm: plain(x(31)) }) })] }],
      'confirm/confirm/text',
    ],
    [
      'deny button over 30',
      [{ type: 'actions', elements: [button({ confirm: confirm({ deny: plain(x(31)) }) })] }],
      'confirm/deny/text',
    ],
    ['unknown block type', [{ type: 'carousel' }], '/blocks/0/type'],
    ['empty plain_text', [{ type: 'context', elements: [plain('')] }], '/blocks/0/elements/0/text'],
  ];

  it.each(rejected)('rejects %s with invalid_blocks naming the path', async (_name, blocks, path) => {
    const data = await slackError(
      client.chat.postMessage({ channel: 'C1', text: 'fallback', blocks: blocks as never }),
    );
    expect(data.error).toBe('invalid_blocks');
    expect(data.errors?.some((e) => e.includes(path))).toBe(true);
    expect(fake.messages).toHaveLength(0);
  });

  it('accepts blocks right at every limit', async () => {
    const blocks = [
      { type: 'header', text: plain(x(150)) },
      section(x(3000)),
      { type: 'section', fields: Array.from({ length: 10 }, () => plain('f')) },
      { type: 'context', elements: Array.from({ length: 10 }, () => plain('c')) },
      {
        type: 'actions',
        block_id: x(255),
        elements: [
          button({ action_id: x(255), text: plain(x(75)), value: x(2000), url: x(3000), style: 'danger' }),
          button({
            action_id: 'a2',
            confirm: confirm({ title: plain(x(100)), text: plain(x(300)), confirm: plain(x(30)), deny: plain(x(30)) }),
          }),
        ],
      },
      ...Array.from({ length: 45 }, () => ({ type: 'divider' })),
    ];
    expect(blocks).toHaveLength(50);
    expect(validateBlocks(blocks)).toEqual([]);
    await client.chat.postMessage({ channel: 'C1', text: 'ok', blocks: blocks as never });
    expect(fake.messages).toHaveLength(1);
  });

  it('applies the same validation to chat.update and chat.postEphemeral', async () => {
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'ok' });
    const bad = [section(x(3001))];
    expect((await slackError(client.chat.update({ channel: 'C1', ts: posted.ts!, blocks: bad as never }))).error).toBe(
      'invalid_blocks',
    );
    expect(
      (await slackError(client.chat.postEphemeral({ channel: 'C1', user: 'U1', blocks: bad as never }))).error,
    ).toBe('invalid_blocks');
    expect(fake.messages[0]?.history).toHaveLength(1);
  });

  it('answers msg_blocks_too_long above 12,000 characters of block text', async () => {
    const blocks = Array.from({ length: 5 }, () => section(x(2500))); // each valid, 12,500 in total
    expect(validateBlocks(blocks)).toEqual([]);
    expect((await slackError(client.chat.postMessage({ channel: 'C1', text: 't', blocks }))).error).toBe(
      'msg_blocks_too_long',
    );
  });

  it('truncates message text above 40,000 characters with a warning', async () => {
    const res = await client.chat.postMessage({ channel: 'C1', text: x(40_001) });
    expect(res.warning).toBe('message_truncated');
    expect(fake.messages[0]?.text).toHaveLength(40_000);
  });

  it('rate-limits with HTTP 429 and Retry-After, then recovers', async () => {
    fake.rateLimit('chat.postMessage', 1, 7);
    const raw = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'channel=C1&text=hi',
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('7');

    fake.rateLimit('chat.postMessage', 1, 3);
    const rejecting = new WebClient(fake.token, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
    await expect(rejecting.chat.postMessage({ channel: 'C1', text: 'hi' })).rejects.toMatchObject({
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 3,
    });
    await rejecting.chat.postMessage({ channel: 'C1', text: 'hi' });
    expect(fake.calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(fake.messages).toHaveLength(1);
  });

  it('enforces per-method tiers on its clock: a burst, then 429 with Retry-After until the bucket refills', async () => {
    let clock = 0;
    const tiered = await startFakeSlack({
      tiers: { 'chat.postMessage': { perMinute: 60, burst: 2, perChannel: true } },
      now: () => clock,
    });
    try {
      const rejecting = new WebClient(tiered.token, {
        slackApiUrl: tiered.url,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logLevel: LogLevel.ERROR,
      });
      await rejecting.chat.postMessage({ channel: 'C1', text: '1' });
      await rejecting.chat.postMessage({ channel: 'C1', text: '2' });
      await expect(rejecting.chat.postMessage({ channel: 'C1', text: '3' })).rejects.toMatchObject({ retryAfter: 1 });
      await rejecting.chat.postMessage({ channel: 'C2', text: 'other channel' }); // per channel
      await rejecting.chat.update({ channel: 'C1', ts: tiered.messages[0]!.ts, text: 'no tier' });
      clock += 1_000; // one message a second
      await rejecting.chat.postMessage({ channel: 'C1', text: '3 again' });
      expect(tiered.calls.map((c) => `${c.method}:${c.args.channel}:${c.status}`)).toEqual([
        'chat.postMessage:C1:200',
        'chat.postMessage:C1:200',
        'chat.postMessage:C1:429',
        'chat.postMessage:C2:200',
        'chat.update:C1:200',
        'chat.postMessage:C1:200',
      ]);
    } finally {
      await tiered.close();
    }
  });

  it('rate-limits one channel only when asked, in the order the limits were set', async () => {
    fake.rateLimit('chat.update', 2, 5, { channel: 'C1' });
    const rejecting = new WebClient(fake.token, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
    const a = await rejecting.chat.postMessage({ channel: 'C1', text: 'a' });
    const b = await rejecting.chat.postMessage({ channel: 'C2', text: 'b' });
    await rejecting.chat.update({ channel: 'C2', ts: b.ts!, text: 'b2' });
    await expect(rejecting.chat.update({ channel: 'C1', ts: a.ts!, text: 'a2' })).rejects.toMatchObject({
      retryAfter: 5,
    });
    await expect(rejecting.chat.update({ channel: 'C1', ts: a.ts!, text: 'a2' })).rejects.toMatchObject({
      retryAfter: 5,
    });
    await rejecting.chat.update({ channel: 'C1', ts: a.ts!, text: 'a2' });
    expect(fake.calls.map((c) => `${c.method}:${c.args.channel}:${c.status}`)).toEqual([
      'chat.postMessage:C1:200',
      'chat.postMessage:C2:200',
      'chat.update:C2:200',
      'chat.update:C1:429',
      'chat.update:C1:429',
      'chat.update:C1:200',
    ]);
    expect(fake.messages.map((m) => m.text)).toEqual(['a2', 'b2']);
  });

  it("with `limits`, holds chat.update to its tier and chat.postMessage to its channel's budget", async () => {
    const limited = await startFakeSlack({ limits: true });
    try {
      const post = (method: string, body: string) =>
        fetch(`${limited.url}${method}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${limited.token}`, 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      // Five messages at once in C1 pass (the burst), the sixth is refused; another channel has its own budget.
      const inC1 = [];
      for (let i = 0; i < 6; i++) inC1.push((await post('chat.postMessage', 'channel=C1&text=hi')).status);
      expect(inC1).toEqual([200, 200, 200, 200, 200, 429]);
      expect((await post('chat.postMessage', 'channel=C2&text=hi')).status).toBe(200);
      // chat.update is Tier 3: 50 in a minute, then 429 with the seconds until the window has room.
      const ts = limited.messages[0]!.ts;
      const updates = [];
      for (let i = 0; i < 51; i++) updates.push(await post('chat.update', `channel=C1&ts=${ts}&text=v${i}`));
      expect(updates.slice(0, 50).every((r) => r.status === 200)).toBe(true);
      expect(updates[50]!.status).toBe(429);
      expect(Number(updates[50]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited.calls.filter((c) => c.status === 429).map((c) => c.method)).toEqual([
        'chat.postMessage',
        'chat.update',
      ]);
    } finally {
      await limited.close();
    }
  });

  it('answers HTTP 5xx on request, then recovers', async () => {
    fake.failHttp('chat.postMessage', 503, 2);
    for (let i = 0; i < 2; i++) {
      await expect(client.chat.postMessage({ channel: 'C1', text: 'hi' })).rejects.toMatchObject({
        code: 'slack_webapi_http_error',
        statusCode: 503,
      });
    }
    await client.chat.postMessage({ channel: 'C1', text: 'hi' });
    expect(fake.calls.map((c) => c.status)).toEqual([503, 503, 200]);
    expect(fake.messages).toHaveLength(1);
  });

  it('never answers a hung call (in one channel when asked), and the next one goes through', async () => {
    fake.hang('chat.postMessage', 1, { channel: 'C1' });
    const timing = new WebClient(fake.token, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      timeout: 200,
      logLevel: LogLevel.ERROR,
    });
    await timing.chat.postMessage({ channel: 'C2', text: 'elsewhere' });
    await expect(timing.chat.postMessage({ channel: 'C1', text: 'lost' })).rejects.toMatchObject({
      code: 'slack_webapi_request_error',
    });
    await timing.chat.postMessage({ channel: 'C1', text: 'next' });
    expect(fake.calls.map((c) => `${c.args.channel}:${c.status}`)).toEqual(['C2:200', 'C1:0', 'C1:200']);
    expect(fake.messages.map((m) => m.text)).toEqual(['elsewhere', 'next']);
  });

  it('fails the next call on request', async () => {
    fake.failNext('chat.update', 'cant_update_message');
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'a' });
    expect((await slackError(client.chat.update({ channel: 'C1', ts: posted.ts!, text: 'b' }))).error).toBe(
      'cant_update_message',
    );
    await client.chat.update({ channel: 'C1', ts: posted.ts!, text: 'b' });
    expect(fake.messages[0]?.text).toBe('b');
  });

  it('posts to a user ID in the direct conversation with them (a D channel); a deactivated user has none', async () => {
    const res = await client.chat.postMessage({ channel: 'U0ALICE', text: 'please review' });
    expect(res.channel).toBe(imChannel('U0ALICE'));
    expect(imChannel('U0ALICE')).toMatch(/^D/);
    expect(fake.dm('U0ALICE').map((m) => m.text)).toEqual(['please review']);
    expect(fake.dm('U0BOB')).toEqual([]);
    fake.users.set('U0GONE', { deleted: true });
    expect((await slackError(client.chat.postMessage({ channel: 'U0GONE', text: 'x' }))).error).toBe(
      'channel_not_found',
    );
  });

  it('publishes a Home tab per person with views.publish, validated like a view (100 blocks, IDs per block)', async () => {
    // The same action_id in two blocks is fine in a view (Slack needs it unique within its block only).
    const blocks = [
      { type: 'actions', block_id: 'b1', elements: [button({ value: 'p1' })] },
      { type: 'actions', block_id: 'b2', elements: [button({ value: 'p2' })] },
      ...Array.from({ length: 98 }, (_, i) => section(`line ${i}`)),
    ];
    const res = await client.views.publish({ user_id: 'U0ALICE', view: { type: 'home', blocks } as never });
    expect(res.ok).toBe(true);
    expect(fake.homes.get('U0ALICE')).toMatchObject({ type: 'home', blocks });
    expect(fake.published.map((p) => p.user)).toEqual(['U0ALICE']);

    const bad = async (view: unknown, user = 'U0ALICE') =>
      slackError(client.views.publish({ user_id: user, view: view as never }));
    expect((await bad({ type: 'home', blocks: [...blocks, section('101st')] })).error).toBe('invalid_arguments');
    expect((await bad({ type: 'modal', blocks: [section('x')] })).error).toBe('invalid_arguments');
    const dup = { type: 'actions', elements: [button(), button()] };
    expect((await bad({ type: 'home', blocks: [dup] })).error).toBe('invalid_arguments');
    expect((await bad({ type: 'home', blocks: [section(x(3001))] })).error).toBe('invalid_arguments');
    expect((await bad({ type: 'home', blocks: [] }, 'C0NOTAUSER')).error).toBe('user_not_found');
    expect(fake.published).toHaveLength(1);
  });

  it('builds the app_home_opened event Slack sends, with the Home tab once one was published', async () => {
    const first = fake.appHomeOpened('U0ALICE') as { type: string; event: Record<string, unknown> };
    expect(first).toMatchObject({ type: 'event_callback', team_id: fake.teamId });
    expect(first.event).toMatchObject({ type: 'app_home_opened', user: 'U0ALICE', tab: 'home' });
    expect(first.event.channel).toBe(imChannel('U0ALICE'));
    expect(first.event.view).toBeUndefined();
    await client.views.publish({ user_id: 'U0ALICE', view: { type: 'home', blocks: [section('hi')] } as never });
    const again = fake.appHomeOpened('U0ALICE') as { event: { view?: Record<string, unknown> } };
    expect(again.event.view).toMatchObject({ type: 'home', blocks: [section('hi')] });
    expect((fake.appHomeOpened('U0ALICE', 'messages') as { event: { view?: unknown } }).event.view).toBeUndefined();
  });

  it('lists user-group members and rejects unknown groups', async () => {
    fake.userGroups.set('S0REVIEWERS', ['U1', 'U2']);
    expect((await client.usergroups.users.list({ usergroup: 'S0REVIEWERS' })).users).toEqual(['U1', 'U2']);
    expect((await slackError(client.usergroups.users.list({ usergroup: 'S0NOPE' }))).error).toBe('no_such_subteam');
  });

  it('answers users.info and conversations.info', async () => {
    fake.users.set('U1', { real_name: 'Ada Lovelace', tz: 'Europe/London' });
    expect((await client.users.info({ user: 'U1' })).user).toMatchObject({ id: 'U1', real_name: 'Ada Lovelace' });
    expect((await client.conversations.info({ channel: 'C9' })).channel).toMatchObject({ id: 'C9', is_member: true });
  });

  it('runs the files upload v2 flow', async () => {
    const res = await client.filesUploadV2({
      channel_id: 'C1',
      thread_ts: '1700000000.000100',
      initial_comment: 'full diff',
      filename: 'changes.txt',
      title: 'Change set',
      content: 'Modify Lambda::Function api\n',
    });
    expect(res.ok).toBe(true);
    expect(fake.files).toEqual([
      expect.objectContaining({
        filename: 'changes.txt',
        title: 'Change set',
        content: 'Modify Lambda::Function api\n',
        channel_id: 'C1',
        thread_ts: '1700000000.000100',
        initial_comment: 'full diff',
      }),
    ]);
    expect(fake.calls.map((c) => c.method)).toEqual(['files.getUploadURLExternal', 'files.completeUploadExternal']);
  });

  it('captures response_url posts and validates them', async () => {
    const url = fake.responseUrl('cmd');
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', text: 'working on it' }),
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 't', blocks: [section('')] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('invalid_blocks');
    expect(fake.responses).toMatchObject([
      { url, tag: 'cmd', status: 200, body: { response_type: 'ephemeral', text: 'working on it' } },
      { url, tag: 'cmd', status: 400, error: 'invalid_blocks' },
    ]);
  });

  it('allows 5 uses of a response_url', async () => {
    const url = fake.responseUrl();
    const post = () => fetch(url, { method: 'POST', body: JSON.stringify({ text: 'r' }) }).then((r) => r.status);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await post());
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
  });

  it('applies replace_original and delete_original to the source message', async () => {
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'approve?', blocks: [section('approve?')] });
    const url = fake.responseUrl('click', { channel: 'C1', ts: posted.ts! });
    await fetch(url, { method: 'POST', body: JSON.stringify({ replace_original: true, text: 'approved' }) });
    expect(fake.messages[0]?.text).toBe('approved');
    expect(fake.messages[0]?.blocks).toBeUndefined(); // replace_original replaces the whole message
    expect(fake.messages[0]?.history).toHaveLength(2);
    await fetch(url, { method: 'POST', body: JSON.stringify({ delete_original: true }) });
    expect(fake.messages[0]?.deleted).toBe(true);
  });

  it('waitFor resolves when the condition holds and dumps calls on timeout', async () => {
    setTimeout(() => void client.chat.postMessage({ channel: 'C1', text: 'later' }), 50);
    const message = await fake.waitFor(() => fake.messages.find((m) => m.text === 'later'));
    expect(message.channel).toBe('C1');
    await expect(fake.waitFor(() => fake.messages.find((m) => m.text === 'never'), 100)).rejects.toThrow(
      /chat\.postMessage → 200 ok/,
    );
  });
});

describe('slack driver', () => {
  it('signs like Slack: v0= + hex HMAC-SHA256 of v0:timestamp:body', () => {
    const secret = '8f742231b10e8888abcd99yyyzzz85a5';
    const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070';
    const expected = `v0=${createHmac('sha256', secret).update(`v0:1531420618:${body}`).digest('hex')}`;
    expect(slackSignature(secret, 1531420618, body)).toBe(expected);
    expect(expected).toMatch(/^v0=[0-9a-f]{64}$/);
  });

  it('drives a real Bolt app: signed slash command, block action, respond() into the fake', async () => {
    const secret = 'test-signing-secret';
    const seen: {
      command?: Record<string, unknown>;
      action?: Record<string, unknown>;
      event?: Record<string, unknown>;
      respond?: boolean;
    } = {};
    const app = new App({
      token: fake.token,
      signingSecret: secret,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 } },
    });
    app.command('/promote', async ({ ack, command, respond, say }) => {
      await ack();
      seen.command = command as unknown as Record<string, unknown>;
      await respond({ response_type: 'ephemeral', text: `promoting ${command.text}` });
      await say({ text: 'summary', blocks: [section('summary')] });
    });
    app.action('promotion_approve', async ({ ack, body, respond }) => {
      await ack();
      seen.action = body as unknown as Record<string, unknown>;
      seen.respond = respond !== undefined;
    });
    app.event('app_home_opened', async ({ event }) => {
      seen.event = event as unknown as Record<string, unknown>;
    });
    const server = await app.start(0);
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      const base = { url, secret, userId: 'U1', channelId: 'C1' };
      const res = await sendSlashCommand({
        ...base,
        command: '/promote',
        text: 'api dev→prod',
        responseUrl: fake.responseUrl('cmd'),
      });
      expect(res.status).toBe(200);
      expect(res.elapsedMs).toBeGreaterThan(0);
      const summary = await fake.waitFor(() => fake.messages.find((m) => m.text === 'summary'));
      await fake.waitFor(() => fake.responses.length === 1);
      expect(fake.responses[0]).toMatchObject({ tag: 'cmd', body: { text: 'promoting api dev→prod' } });
      expect(seen.command).toMatchObject({
        command: '/promote',
        text: 'api dev→prod',
        user_id: 'U1',
        channel_id: 'C1',
        is_enterprise_install: 'false',
      });

      const click = await sendBlockAction({
        ...base,
        actionId: 'promotion_approve',
        value: 'promo-1',
        messageTs: summary.ts,
        responseUrl: fake.responseUrl('click'),
      });
      expect(click.status).toBe(200);
      await fake.waitFor(() => seen.action);
      expect(seen.action).toMatchObject({
        type: 'block_actions',
        user: { id: 'U1' },
        container: { type: 'message', message_ts: summary.ts, channel_id: 'C1', is_ephemeral: false },
        actions: [{ type: 'button', action_id: 'promotion_approve', value: 'promo-1' }],
      });

      const forged = await sendSlashCommand({
        ...base,
        command: '/promote',
        text: 'x',
        responseUrl: 'u',
        badSignature: true,
      });
      expect(forged.status).toBe(401);
      const stale = Math.floor(Date.now() / 1000) - 6 * 60;
      const replay = await sendSlashCommand({
        ...base,
        command: '/promote',
        text: 'x',
        responseUrl: 'u',
        timestamp: stale,
      });
      expect(replay.status).toBe(401);
      expect(fake.responses).toHaveLength(1);

      // The Events API: a signed JSON body; Bolt acks it and runs the event listener.
      const opened = await sendEvent({ url, secret, body: fake.appHomeOpened('U1') });
      expect(opened.status).toBe(200);
      await fake.waitFor(() => seen.event);
      expect(seen.event).toMatchObject({ type: 'app_home_opened', user: 'U1', tab: 'home' });

      // A click in the Home tab: the container is the view, and there is no response_url (no respond()).
      seen.action = undefined;
      const view = { id: 'V1', type: 'home', blocks: [] };
      const homeClick = await sendHomeBlockAction({
        url,
        secret,
        userId: 'U1',
        actionId: 'promotion_approve',
        value: 'p',
        view,
      });
      expect(homeClick.status).toBe(200);
      await fake.waitFor(() => seen.action);
      expect(seen.action).toMatchObject({ container: { type: 'view', view_id: 'V1' }, view: { type: 'home' } });
      expect(seen.action).not.toHaveProperty('channel');
      expect(seen.respond).toBe(false);
    } finally {
      await app.stop();
    }
  });
});
