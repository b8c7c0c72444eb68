// classifySlackError on the errors the real WebClient throws (provoked through the fake Slack Web API, a closed
// port and a hung call), bare and wrapped in our own context errors, and on errors that are not Slack's.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogLevel } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classifySlackError, createSlackClient, SlackGaveUpError } from '../../src/slack/port.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';

let fake: FakeSlack;

beforeEach(async () => {
  fake = await startFakeSlack();
});

afterEach(async () => {
  await fake.close();
});

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const client = (url = fake.url, timeoutMs?: number) =>
  createSlackClient(fake.token, {
    slackApiUrl: url,
    logLevel: LogLevel.ERROR,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });

const post = (url?: string, timeoutMs?: number) =>
  thrown(client(url, timeoutMs).chat.postMessage({ channel: 'C1', text: 'x' }));

/** A port on this machine nobody listens on. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/api/`;
}

describe('classifySlackError on WebClient errors', () => {
  it('reads a rejected 429 as transient with Retry-After in ms', async () => {
    fake.rateLimit('chat.postMessage', 1, 7);
    expect(classifySlackError(await post())).toEqual({ transient: true, code: 'ratelimited', retryAfterMs: 7_000 });
  });

  it.each(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited'])(
    'reads %s as transient',
    async (code) => {
      fake.failNext('chat.postMessage', code);
      expect(classifySlackError(await post())).toEqual({ transient: true, code });
    },
  );

  it.each(['not_in_channel', 'channel_not_found', 'invalid_auth', 'invalid_blocks', 'msg_too_long', 'is_archived'])(
    'reads %s as permanent',
    async (code) => {
      fake.failNext('chat.postMessage', code);
      expect(classifySlackError(await post())).toEqual({ transient: false, code });
    },
  );

  it.each([
    { status: 500, transient: true },
    { status: 502, transient: true },
    { status: 503, transient: true },
    { status: 504, transient: true },
    { status: 400, transient: false },
    { status: 403, transient: false },
    { status: 404, transient: false },
  ])('reads HTTP $status as transient: $transient', async ({ status, transient }) => {
    fake.failHttp('chat.postMessage', status);
    expect(classifySlackError(await post())).toEqual({ transient, code: `http_${status}` });
  });

  it('reads a refused connection as transient, with its system code', async () => {
    expect(classifySlackError(await post(await closedPortUrl()))).toEqual({ transient: true, code: 'ECONNREFUSED' });
  });

  it('reads a request that got no answer in time as a transient timeout', async () => {
    fake.hang('chat.postMessage');
    expect(classifySlackError(await post(fake.url, 200))).toEqual({ transient: true, code: 'timeout' });
  });

  it('looks through our context errors and a give-up to the failure underneath', async () => {
    fake.failNext('chat.postMessage', 'internal_error');
    const slackError = await post();
    const gaveUp = new SlackGaveUpError('gave up after 4 attempts', 4, { cause: slackError });
    const wrapped = new Error('posting a message in C1', { cause: gaveUp });
    expect(classifySlackError(wrapped)).toEqual({ transient: true, code: 'internal_error' });
    fake.failNext('chat.postMessage', 'not_in_channel');
    const permanent = new Error('posting the summary', { cause: new Error('posting', { cause: await post() }) });
    expect(classifySlackError(permanent)).toEqual({ transient: false, code: 'not_in_channel' });
  });
});

describe('classifySlackError on other errors', () => {
  it.each([
    { what: 'a plain error', err: new Error('boom'), want: { transient: false } },
    { what: 'a string', err: 'boom', want: { transient: false } },
    { what: 'undefined', err: undefined, want: { transient: false } },
    {
      what: 'a bare connection reset',
      err: new Error('write', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }),
      want: { transient: true, code: 'ECONNRESET' },
    },
    {
      what: 'an abort by timeout',
      err: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      want: { transient: true, code: 'timeout' },
    },
    {
      what: 'a file-upload argument error',
      err: Object.assign(new Error('bad file'), { code: 'slack_webapi_file_upload_invalid_args_error' }),
      want: { transient: false },
    },
  ])('reads $what', ({ err, want }) => {
    expect(classifySlackError(err)).toEqual(want);
  });
});
