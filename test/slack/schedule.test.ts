// How the Slack port schedules and retries, against the fake Slack Web API over HTTP: a 429 pauses only its
// method + channel, a key keeps its order, transient failures are retried and permanent ones are not, final
// replies are retried until delivered, updateLatest renders when the request really goes out, and a hung Slack
// ends in a timeout. Waits run on a virtual clock: the test sees every wait and decides when it ends.
import { LogLevel } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  classifySlackError,
  createSlackClient,
  createSlackPort,
  SlackGaveUpError,
  type SlackPort,
  type SlackPortOptions,
  slackErrorCode,
} from '../../src/slack/port.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';

let fake: FakeSlack;

beforeEach(async () => {
  fake = await startFakeSlack();
});

afterEach(async () => {
  await fake.close();
});

/**
 * A clock that moves only when the port waits. Waits end at once unless held; held waits end on release().
 * `waits` lists every wait the port asked for, in ms.
 */
function virtualTime() {
  const clock = { t: 1_700_000_000_000 };
  const waits: number[] = [];
  let held: Array<() => void> | undefined;
  return {
    waits,
    now: () => clock.t,
    elapsed: (since: number) => clock.t - since,
    sleep: (ms: number) => {
      waits.push(ms);
      const done = () => {
        clock.t += ms;
      };
      if (!held) {
        done();
        return Promise.resolve();
      }
      const queue = held;
      return new Promise<void>((resolve) => {
        queue.push(() => {
          done();
          resolve();
        });
      });
    },
    hold: () => {
      held = [];
    },
    release: () => {
      const queue = held ?? [];
      held = undefined;
      for (const end of queue) end();
    },
  };
}

type Time = ReturnType<typeof virtualTime>;

function makePort(time: Time, opts: SlackPortOptions = {}, timeoutMs?: number): SlackPort {
  const client = createSlackClient(fake.token, {
    slackApiUrl: fake.url,
    logLevel: LogLevel.ERROR,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  return createSlackPort(client, { now: time.now, sleep: time.sleep, random: () => 1, ...opts });
}

async function rejection(p: Promise<unknown>): Promise<Error & { cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const trace = (from = 0) => fake.calls.slice(from).map((c) => `${c.method} ${String(c.args.channel)} ${c.status}`);
const textOf = (ts: string) => fake.messages.find((m) => m.ts === ts)?.text;

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

describe('rate limits are per method and channel', () => {
  it('a 429 on chat.update in one channel delays neither posts nor updates in another', async () => {
    const time = virtualTime();
    const port = makePort(time);
    const a = await port.post({ channel: 'CA', text: 'a1' });
    const b = await port.post({ channel: 'CB', text: 'b1' });
    fake.rateLimit('chat.update', 1, 8, { channel: 'CA' });

    time.hold();
    const updateA = port.update({ channel: 'CA', ts: a.ts, text: 'a2' });
    await fake.waitFor(() => time.waits.length > 0); // CA got its 429 and waits out Retry-After
    await port.post({ channel: 'CB', text: 'incident reply', thread_ts: b.ts });
    await port.update({ channel: 'CB', ts: b.ts, text: 'b2' });
    expect(textOf(b.ts)).toBe('b2');
    expect(textOf(a.ts)).toBe('a1');
    expect(time.waits).toEqual([8_000]);

    time.release();
    await updateA;
    expect(textOf(a.ts)).toBe('a2');
    expect(trace(2)).toEqual([
      'chat.update CA 429',
      'chat.postMessage CB 200',
      'chat.update CB 200',
      'chat.update CA 200',
    ]);
  });

  it('a 429 pauses later calls of the same key, even when the limited call gave up', async () => {
    const time = virtualTime();
    const port = makePort(time, { retry: { attempts: 1 } });
    const a = await port.post({ channel: 'CA', text: 'a1' });
    fake.rateLimit('chat.update', 1, 5, { channel: 'CA' });
    const err = await rejection(port.update({ channel: 'CA', ts: a.ts, text: 'a2' }));
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'ratelimited', retryAfterMs: 5_000 });
    expect(time.waits).toEqual([]);

    const started = time.now();
    await port.update({ channel: 'CA', ts: a.ts, text: 'a3' });
    expect(time.elapsed(started)).toBe(5_000);
    await port.update({ channel: 'CB', ts: 'x', text: 'b' }).catch(() => undefined); // another key: no wait
    expect(time.waits).toEqual([5_000]);
  });
});

describe('order within a key', () => {
  it('keeps the order of updates to one message across a 429 pause', async () => {
    const time = virtualTime();
    const port = makePort(time);
    const { ts } = await port.post({ channel: 'CA', text: 'v0' });
    fake.rateLimit('chat.update', 1, 2, { channel: 'CA' });

    time.hold();
    const updates = ['v1', 'v2', 'v3'].map((text) => port.update({ channel: 'CA', ts, text }));
    await fake.waitFor(() => time.waits.length > 0);
    expect(trace(1)).toEqual(['chat.update CA 429']); // v2 and v3 wait behind v1
    time.release();
    await Promise.all(updates);

    expect(fake.messages[0]!.history.map((v) => v.text)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(fake.calls.slice(1).map((c) => c.args.text)).toEqual(['v1', 'v1', 'v2', 'v3']);
  });

  it('posts made together land in the order they were made, a retried one included', async () => {
    const time = virtualTime();
    const port = makePort(time);
    fake.failNext('chat.postMessage', 'internal_error');
    const texts = ['one', 'two', 'three', 'four', 'five'];
    await Promise.all(texts.map((text) => port.post({ channel: 'CA', text })));
    expect(fake.messages.map((m) => m.text)).toEqual(texts);
    expect(fake.calls.map((c) => c.args.text)).toEqual(['one', ...texts]);
  });
});

describe('retries', () => {
  it('retries transient failures (internal_error, HTTP 500 and 503) with growing backoff, then succeeds', async () => {
    const time = virtualTime();
    const port = makePort(time, { retry: { baseDelayMs: 100, maxDelayMs: 150 } });
    fake.failNext('chat.postMessage', 'internal_error');
    const { ts } = await port.post({ channel: 'CA', text: 'hello' });
    fake.failHttp('chat.update', 500);
    fake.failHttp('chat.update', 503);
    await port.update({ channel: 'CA', ts, text: 'hello again' });

    expect(trace()).toEqual([
      'chat.postMessage CA 200',
      'chat.postMessage CA 200',
      'chat.update CA 500',
      'chat.update CA 503',
      'chat.update CA 200',
    ]);
    expect(fake.calls[0]).toMatchObject({ ok: false, error: 'internal_error' });
    expect(fake.messages).toHaveLength(1);
    expect(textOf(ts)).toBe('hello again');
    expect(time.waits).toEqual([100, 100, 150]); // base, base, then doubled and capped
  });

  it.each([
    {
      what: 'an ephemeral message',
      method: 'chat.postEphemeral',
      run: (p: SlackPort) => p.ephemeral({ channel: 'CA', user: 'U1', text: 'x' }),
      done: () => fake.ephemerals.length === 1,
    },
    {
      what: 'a user group',
      method: 'usergroups.users.list',
      run: async (p: SlackPort) => expect(await p.groupMembers('S1')).toEqual(['U1']),
      done: () => true,
    },
    {
      what: 'a file upload (the whole v2 flow again)',
      method: 'files.completeUploadExternal',
      run: (p: SlackPort) => p.upload({ channel: 'CA', filename: 'c.txt', title: 'Changes', content: 'x' }),
      done: () => fake.files.length === 1,
    },
    {
      what: 'a delete',
      method: 'chat.delete',
      run: async (p: SlackPort) => p.delete({ channel: 'CA', ts: (await p.post({ channel: 'CA', text: 'x' })).ts }),
      done: () => fake.messages[0]?.deleted === true,
    },
  ])('retries $what after service_unavailable', async ({ method, run, done }) => {
    fake.userGroups.set('S1', ['U1']);
    fake.failNext(method, 'service_unavailable');
    await run(makePort(virtualTime()));
    expect(fake.calls.filter((c) => c.method === method).map((c) => c.error ?? 'ok')).toEqual([
      'service_unavailable',
      'ok',
    ]);
    expect(done()).toBe(true);
  });

  it.each(['not_in_channel', 'channel_not_found', 'invalid_auth', 'invalid_blocks', 'msg_too_long'])(
    'fails at once on %s, without retrying',
    async (code) => {
      const time = virtualTime();
      const port = makePort(time);
      fake.failNext('chat.postMessage', code);
      const err = await rejection(port.post({ channel: 'CA', text: 'x' }));
      expect(err.message).toBe('posting a message in CA');
      expect(slackErrorCode(err)).toBe(code);
      expect(classifySlackError(err)).toEqual({ transient: false, code });
      expect(fake.calls).toHaveLength(1);
      expect(time.waits).toEqual([]);
    },
  );

  it('fails at once on an HTTP 400', async () => {
    const time = virtualTime();
    fake.failHttp('chat.update', 400);
    const err = await rejection(makePort(time).update({ channel: 'CA', ts: '1.2', text: 'x' }));
    expect(classifySlackError(err)).toEqual({ transient: false, code: 'http_400' });
    expect(fake.calls).toHaveLength(1);
  });

  it('gives up after its attempts, telling the last failure, and the key goes on', async () => {
    const time = virtualTime();
    const port = makePort(time, { retry: { attempts: 3 } });
    for (let i = 0; i < 3; i++) fake.failNext('chat.postMessage', 'internal_error');
    const err = await rejection(port.post({ channel: 'CA', text: 'x' }));
    expect(err.message).toBe('posting a message in CA');
    const gaveUp = causes(err).find((e) => e instanceof SlackGaveUpError) as SlackGaveUpError;
    expect(gaveUp.attempts).toBe(3);
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'internal_error' });
    expect(fake.calls).toHaveLength(3);
    await port.post({ channel: 'CA', text: 'y' });
    expect(fake.messages.map((m) => m.text)).toEqual(['y']);
  });

  it('reports every retry', async () => {
    const events: Array<{ key: string; attempt: number; delayMs: number; rateLimited: boolean }> = [];
    const port = makePort(virtualTime(), {
      retry: { baseDelayMs: 10 },
      onRetry: ({ key, attempt, delayMs, rateLimited }) => events.push({ key, attempt, delayMs, rateLimited }),
    });
    fake.rateLimit('chat.postMessage', 1, 3);
    fake.failHttp('chat.postMessage', 502);
    await port.post({ channel: 'CA', text: 'x' });
    expect(events).toEqual([
      { key: 'chat.postMessage:CA', attempt: 1, delayMs: 3_000, rateLimited: true },
      { key: 'chat.postMessage:CA', attempt: 2, delayMs: 20, rateLimited: false },
    ]);
  });
});

describe('until delivered', () => {
  it('keeps trying a final reply through more failures than an ordinary call may have', async () => {
    const time = virtualTime();
    const port = makePort(time, { retry: { attempts: 2 } });
    fake.rateLimit('chat.postMessage', 1, 4);
    fake.failHttp('chat.postMessage', 500, 2);
    fake.failNext('chat.postMessage', 'fatal_error');
    fake.failNext('chat.postMessage', 'internal_error');
    const { ts } = await port.post({ channel: 'CA', text: 'Promoted', thread_ts: '1.2' }, { untilDelivered: true });
    expect(fake.calls.map((c) => c.error ?? c.status)).toEqual([
      'ratelimited',
      'http_500',
      'http_500',
      'fatal_error',
      'internal_error',
      200,
    ]);
    expect(fake.thread('1.2')).toEqual([expect.objectContaining({ ts, text: 'Promoted' })]);
    expect(time.waits[0]).toBe(4_000);
  });

  it('an ordinary call queued behind it gives up after its own deadline, never sent', async () => {
    const time = virtualTime();
    const port = makePort(time); // ordinary calls: 60 s deadline
    fake.failHttp('chat.postMessage', 503, 8); // waits 1+2+4+8+16+30+30+30 s = 121 s
    const final = port.post({ channel: 'CA', text: 'Promoted' }, { untilDelivered: true });
    const late = rejection(port.post({ channel: 'CA', text: 'progress' }));
    await final;
    const err = await late;
    expect(err.message).toBe('posting a message in CA');
    const gaveUp = causes(err).find((e) => e instanceof SlackGaveUpError) as SlackGaveUpError;
    expect(gaveUp).toMatchObject({
      attempts: 0,
      message: expect.stringContaining('waited 121 s behind earlier calls'),
    });
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'timeout' });
    expect(fake.messages.map((m) => m.text)).toEqual(['Promoted']);
  });

  it('caps its backoff at 30 s and gives up after 30 min by default', async () => {
    const time = virtualTime();
    const port = makePort(time);
    fake.failHttp('chat.postMessage', 503, 1_000);
    const started = time.now();
    const err = await rejection(port.post({ channel: 'CA', text: 'Promoted' }, { untilDelivered: true }));
    expect(causes(err).some((e) => e instanceof SlackGaveUpError)).toBe(true);
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'http_503' });
    expect(Math.max(...time.waits)).toBe(30_000);
    expect(time.waits.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(time.elapsed(started)).toBeLessThanOrEqual(30 * 60_000);
    expect(time.elapsed(started)).toBeGreaterThan(29 * 60_000);
    expect(fake.calls).toHaveLength(time.waits.length + 1);
  });

  it('takes its deadline and cap from the options', async () => {
    const time = virtualTime();
    const port = makePort(time, { delivery: { baseDelayMs: 1_000, maxDelayMs: 2_000, deadlineMs: 10_000 } });
    fake.failNext('chat.update', 'internal_error');
    fake.failHttp('chat.update', 500, 100);
    const started = time.now();
    await rejection(port.update({ channel: 'CA', ts: '1.2', text: 'x' }, { untilDelivered: true }));
    expect(time.waits).toEqual([1_000, 2_000, 2_000, 2_000, 2_000]);
    expect(time.elapsed(started)).toBe(9_000);
  });
});

describe('updateLatest', () => {
  it('renders when the request goes out: after a 429 pause, and not while waiting behind an earlier update', async () => {
    const time = virtualTime();
    const port = makePort(time);
    const { ts } = await port.post({ channel: 'CA', text: 'v1' });
    fake.rateLimit('chat.update', 1, 2, { channel: 'CA' });
    let state = 'v2';
    const renders: string[] = [];
    const render = async () => {
      renders.push(state);
      return { text: state };
    };

    time.hold();
    const first = port.updateLatest({ channel: 'CA', ts }, render);
    await fake.waitFor(() => time.waits.length > 0);
    const second = port.updateLatest({ channel: 'CA', ts }, render);
    state = 'v3';
    expect(renders).toEqual(['v2']); // the second waits its turn without rendering
    time.release();
    expect(await first).toEqual({ updated: true });
    expect(await second).toEqual({ updated: true });
    expect(renders).toEqual(['v2', 'v3', 'v3']);
    expect(fake.messages[0]!.history.map((v) => v.text)).toEqual(['v1', 'v3', 'v3']);
  });

  it('skips the update when, after the pause, render says the state moved on', async () => {
    const time = virtualTime();
    const port = makePort(time);
    const { ts } = await port.post({ channel: 'CA', text: 'Approve?' });
    fake.rateLimit('chat.update', 1, 8, { channel: 'CA' });
    let version = 1;
    const shown = 1;

    time.hold();
    const stale = port.updateLatest({ channel: 'CA', ts }, async () =>
      version === shown ? { text: 'Approved by U1' } : undefined,
    );
    await fake.waitFor(() => time.waits.length > 0);
    version = 2; // another replica finished the promotion meanwhile
    time.release();
    expect(await stale).toEqual({ updated: false });
    expect(trace(1)).toEqual(['chat.update CA 429']);
    expect(fake.messages[0]!.history.map((v) => v.text)).toEqual(['Approve?']);
  });
});

describe('timeouts', () => {
  it('ends a call to a Slack that never answers with a timeout, without holding up other channels', async () => {
    const port = makePort(virtualTime(), { retry: { attempts: 2 } }, 1_000);
    fake.hang('chat.postMessage', 2, { channel: 'CA' });
    let settled = false;
    const lost = rejection(port.post({ channel: 'CA', text: 'lost' })).finally(() => {
      settled = true;
    });
    await fake.waitFor(() => fake.calls.length > 0);
    await port.post({ channel: 'CB', text: 'fine' });
    expect(settled).toBe(false);

    const err = await lost;
    expect(err.message).toBe('posting a message in CA');
    expect(classifySlackError(err)).toEqual({ transient: true, code: 'timeout' });
    expect(trace()).toEqual(['chat.postMessage CA 0', 'chat.postMessage CB 200', 'chat.postMessage CA 0']);
    expect(fake.messages.map((m) => m.text)).toEqual(['fine']);
  });
});
