// The Slack port against the fake Slack Web API through the real WebClient: what reaches Slack, what never
// does (link_names, parse), how errors carry context and Slack's code, and files through the v2 upload flow.
import { LogLevel } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSlackClient,
  createSlackPort,
  type OutgoingMessage,
  type SlackPort,
  slackErrorCode,
} from '../../src/slack/port.js';
import type { KnownBlock } from '../../src/slack/views/blocks.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';

let fake: FakeSlack;
let port: SlackPort;

beforeEach(async () => {
  fake = await startFakeSlack();
  const client = createSlackClient(fake.token, { slackApiUrl: fake.url, logLevel: LogLevel.ERROR });
  port = createSlackPort(client, { retry: { baseDelayMs: 1, maxDelayMs: 5 } });
});

afterEach(async () => {
  await fake.close();
});

const section = (text: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });

/** The error `p` rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('createSlackPort', () => {
  it('posts a message with its blocks and returns its ts', async () => {
    const blocks = [section('*promote* api dev → prod')];
    const { ts } = await port.post({ channel: 'C1', text: 'promote api', blocks });
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0]).toMatchObject({ channel: 'C1', ts, text: 'promote api', blocks });
    const args = fake.calls.find((c) => c.method === 'chat.postMessage')?.args;
    // Unfurls off: a link to the console in a summary must not grow a preview.
    expect(args).toMatchObject({ unfurl_links: false, unfurl_media: false });
  });

  it('posts a thread reply, broadcast to the channel when asked', async () => {
    const parent = await port.post({ channel: 'C1', text: 'parent' });
    const reply = await port.post({ channel: 'C1', text: 'done', thread_ts: parent.ts, reply_broadcast: true });
    expect(fake.thread(parent.ts)).toEqual([
      expect.objectContaining({ ts: reply.ts, thread_ts: parent.ts, text: 'done', reply_broadcast: true }),
    ]);
  });

  it('posts an optional message after the posts made meanwhile in its channel, as rendered then, or not at all', async () => {
    // The first post of C1 is answered 429 (Retry-After 1 s) and lands when retried: meanwhile C1 is busy.
    fake.rateLimit('chat.postMessage', 1, 1, { channel: 'C1' });
    const first = port.post({ channel: 'C1', text: 'summary' });
    let progress = 1;
    const note = port.postOptional('C1', () => ({ channel: 'C1', text: `note ${progress}` }));
    const skipped = port.postOptional('C1', () => undefined);
    const final = port.post({ channel: 'C1', text: 'final reply' }); // made after the note, goes before it
    const elsewhere = port.postOptional('C2', () => ({ channel: 'C2', text: 'note elsewhere' }));
    progress = 2;
    expect((await elsewhere)?.ts).toBeDefined();
    await Promise.all([first, final]);
    expect((await note)?.ts).toBeDefined();
    expect(await skipped).toBeUndefined();
    expect(fake.messages.map((m) => `${m.channel} ${m.text}`)).toEqual([
      'C2 note elsewhere',
      'C1 summary',
      'C1 final reply',
      'C1 note 2',
    ]);
  });

  it('updates a message in place', async () => {
    const { ts } = await port.post({ channel: 'C1', text: 'running', blocks: [section('running')] });
    await port.update({ channel: 'C1', ts, text: 'finished', blocks: [section('finished')] });
    const msg = fake.messages[0]!;
    expect(msg).toMatchObject({ text: 'finished', blocks: [section('finished')] });
    expect(msg.history.map((v) => v.text)).toEqual(['running', 'finished']);
  });

  it('tells one user privately, in a thread when given', async () => {
    await port.ephemeral({
      channel: 'C1',
      user: 'U1',
      text: 'you cannot approve your own promotion',
      thread_ts: '1.2',
    });
    expect(fake.ephemerals).toEqual([
      expect.objectContaining({
        channel: 'C1',
        user: 'U1',
        text: 'you cannot approve your own promotion',
        thread_ts: '1.2',
      }),
    ]);
  });

  it('lists the members of a user group', async () => {
    fake.userGroups.set('S1', ['U1', 'U2']);
    expect(await port.groupMembers('S1')).toEqual(['U1', 'U2']);
    expect(fake.calls.find((c) => c.method === 'usergroups.users.list')?.args).toMatchObject({ usergroup: 'S1' });
  });

  it('never sends link_names or parse, even when the message object carries them', async () => {
    // A caller's object may hold more than the port's type names (TypeScript allows it from a variable).
    const sneaky = { channel: 'C1', text: '@channel <!here>', link_names: true, parse: 'full' };
    const { ts } = await port.post(sneaky as OutgoingMessage);
    await port.update({ ...sneaky, ts } as Parameters<SlackPort['update']>[0]);
    await port.ephemeral({ ...sneaky, user: 'U1' } as Parameters<SlackPort['ephemeral']>[0]);
    const methods = fake.calls.map((c) => c.method);
    expect(methods).toEqual(['chat.postMessage', 'chat.update', 'chat.postEphemeral']);
    for (const call of fake.calls) {
      expect(call.args).not.toHaveProperty('link_names');
      expect(call.args).not.toHaveProperty('parse');
    }
  });

  it.each([
    {
      method: 'chat.postMessage',
      code: 'not_in_channel',
      run: (p: SlackPort) => p.post({ channel: 'C1', text: 'x' }),
      context: 'posting a message in C1',
    },
    {
      method: 'chat.update',
      code: 'message_not_found',
      run: (p: SlackPort) => p.update({ channel: 'C1', ts: '1.2', text: 'x' }),
      context: 'updating message 1.2 in C1',
    },
    {
      method: 'chat.postEphemeral',
      code: 'user_not_in_channel',
      run: (p: SlackPort) => p.ephemeral({ channel: 'C1', user: 'U1', text: 'x' }),
      context: 'telling U1 in C1',
    },
    {
      method: 'usergroups.users.list',
      code: 'plan_upgrade_required',
      run: (p: SlackPort) => p.groupMembers('S1'),
      context: 'listing the members of user group S1',
    },
    {
      method: 'files.completeUploadExternal',
      code: 'not_in_channel',
      run: (p: SlackPort) => p.upload({ channel: 'C1', filename: 'c.txt', title: 'Changes', content: 'x' }),
      context: 'uploading c.txt to C1',
    },
  ])('fails a $method with context and Slack’s code ($code)', async ({ method, code, run, context }) => {
    fake.failNext(method, code);
    const err = await rejection(run(port));
    expect(err.message).toContain(context);
    expect(err.cause).toBeInstanceOf(Error);
    expect(slackErrorCode(err)).toBe(code);
  });

  it('deletes a message it posted, and says message_not_found for one that is gone', async () => {
    const { ts } = await port.post({ channel: 'C1', text: 'summary' });
    await port.delete({ channel: 'C1', ts });
    expect(fake.messages[0]).toMatchObject({ ts, deleted: true });
    const err = await rejection(port.delete({ channel: 'C1', ts }));
    expect(err.message).toContain(`deleting message ${ts} in C1`);
    expect(slackErrorCode(err)).toBe('message_not_found');
    expect(fake.calls.filter((c) => c.method === 'chat.delete')).toHaveLength(2);
  });

  it('updateLatest sends what render returns, keeping blocks when it returns none', async () => {
    const { ts } = await port.post({ channel: 'C1', text: 'v1', blocks: [section('v1')] });
    expect(await port.updateLatest({ channel: 'C1', ts }, async () => ({ text: 'v2' }))).toEqual({ updated: true });
    expect(fake.messages[0]).toMatchObject({ text: 'v2', blocks: [section('v1')] });
    await port.updateLatest({ channel: 'C1', ts }, async () => ({ text: 'v3', blocks: [section('v3')] }));
    expect(fake.messages[0]!.history.map((v) => v.text)).toEqual(['v1', 'v2', 'v3']);
  });

  it('updateLatest skips the update when render returns undefined', async () => {
    const { ts } = await port.post({ channel: 'C1', text: 'v1' });
    expect(await port.updateLatest({ channel: 'C1', ts }, async () => undefined)).toEqual({ updated: false });
    expect(fake.calls.map((c) => c.method)).toEqual(['chat.postMessage']);
    expect(fake.messages[0]!.history).toHaveLength(1);
  });

  it('updateLatest fails at once, with context, when render throws', async () => {
    const { ts } = await port.post({ channel: 'C1', text: 'v1' });
    let renders = 0;
    const err = await rejection(
      port.updateLatest({ channel: 'C1', ts }, async () => {
        renders += 1;
        throw Object.assign(new Error('reading promotion p1'), { code: 'ECONNREFUSED' });
      }),
    );
    expect(err.message).toContain(`updating message ${ts} in C1`);
    expect((err.cause as Error).message).toBe('rendering the update');
    expect(renders).toBe(1);
    expect(fake.calls.map((c) => c.method)).toEqual(['chat.postMessage']);
  });

  it('reports no_such_subteam for an unknown user group', async () => {
    const err = await rejection(port.groupMembers('S404'));
    expect(slackErrorCode(err)).toBe('no_such_subteam');
  });

  it('uploads a file through the files v2 flow into the thread, with its comment', async () => {
    const content = 'Queue01  Modify  VisibilityTimeout 30 → 60\n'.repeat(50);
    await port.upload({
      channel: 'C1',
      thread_ts: '1700000000.000100',
      filename: 'changes.txt',
      title: 'All changes',
      content,
      comment: 'The full list',
    });
    expect(fake.files).toEqual([
      expect.objectContaining({
        filename: 'changes.txt',
        title: 'All changes',
        content,
        channel_id: 'C1',
        thread_ts: '1700000000.000100',
        initial_comment: 'The full list',
      }),
    ]);
    const methods = fake.calls.map((c) => c.method);
    expect(methods).toEqual(['files.getUploadURLExternal', 'files.completeUploadExternal']);
  });

  it('uploads a file to the channel itself without a thread', async () => {
    await port.upload({ channel: 'C1', filename: 'c.txt', title: 'Changes', content: 'x' });
    expect(fake.files).toHaveLength(1);
    expect(fake.files[0]!.thread_ts).toBeUndefined();
    expect(fake.files[0]!.initial_comment).toBeUndefined();
  });
});

describe('slackErrorCode', () => {
  const platformError = Object.assign(new Error('An API error occurred: not_in_channel'), {
    data: { ok: false, error: 'not_in_channel' },
  });
  it.each([
    { what: 'a WebClient platform error', err: platformError, want: 'not_in_channel' },
    { what: 'the same error as cause', err: new Error('posting', { cause: platformError }), want: 'not_in_channel' },
    {
      what: 'a cause two levels down',
      err: new Error('a', { cause: new Error('b', { cause: platformError }) }),
      want: 'not_in_channel',
    },
    { what: 'a plain error', err: new Error('boom'), want: undefined },
    { what: 'a non-error', err: 'boom', want: undefined },
    { what: 'undefined', err: undefined, want: undefined },
  ])('reads $what', ({ err, want }) => {
    expect(slackErrorCode(err)).toBe(want);
  });
});

describe('onCall', () => {
  it('reports every attempt of a Web API call with its result: a 429, then the success', async () => {
    const calls: Array<{ method: string; result: string }> = [];
    const client = createSlackClient(fake.token, { slackApiUrl: fake.url, logLevel: LogLevel.ERROR });
    const counted = createSlackPort(client, {
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      onCall: ({ method, result }) => calls.push({ method, result }),
    });
    fake.rateLimit('chat.postMessage', 1, 0);
    const { ts } = await counted.post({ channel: 'C1', text: 'hello' });
    fake.failNext('chat.update', 'message_not_found');
    await expect(counted.update({ channel: 'C1', ts, text: 'edited' })).rejects.toThrow();
    expect(calls).toEqual([
      { method: 'chat.postMessage', result: 'ratelimited' },
      { method: 'chat.postMessage', result: 'ok' },
      { method: 'chat.update', result: 'message_not_found' },
    ]);
  });
});
