// The load generator of the "ack under load" row, in a worker thread: its own event loop (and its own pool of
// `concurrency` kept-alive connections), so the fakes' work in the main thread does not delay its clock. Sends the
// given slash commands, signed as Slack signs them, with at most `concurrency` in flight and answers each one's
// status and time to the ack. The warm-up requests, when given, go first over the same connections and are not
// measured; then the worker waits for the parent's go.
// It sends with undici's `request` rather than `fetch`: on this 2-core machine a fetch-based generator took
// 1.2-1.4 ms of CPU per request against 0.5 with `request` (20 in flight to a do-nothing server), CPU the servers
// under test then shared, so that the floor's p99 measured mostly the generator
// (https://undici.nodejs.org/#/docs/api/Dispatcher?id=dispatcherrequestoptions-callback).
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { signedHeaders, slashCommandFields } from '../test/support/slack-driver.js';

export interface LoadRequest {
  text: string;
  user: string;
  channel: string;
  responseUrl: string;
}

export interface LoadJob {
  url: string;
  secret: string;
  concurrency: number;
  requests: LoadRequest[];
  /** sent first, at the same concurrency; their samples are dropped */
  warmup?: LoadRequest[];
}

export interface LoadSample {
  status: number;
  elapsedMs: number;
  /** performance.timeOrigin-based wall time the request was sent (ms since the epoch) */
  sentAt: number;
  body: string;
  error?: string;
}

/**
 * Keeps `concurrency` connections to the server, reused by every request (as Slack's own keep-alive would). A
 * server that does not answer within 30 s fails the request (a sample with status 0) rather than holding the row.
 */
const agent = new Agent({
  connections: (workerData as LoadJob).concurrency,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
});

/** One slash command, signed now; its status, body and time from sending to the answer's headers (the ack). */
async function sendOne(job: LoadJob, r: LoadRequest): Promise<{ status: number; elapsedMs: number; body: string }> {
  const fields = slashCommandFields({
    command: '/promote',
    text: r.text,
    userId: r.user,
    channelId: r.channel,
    responseUrl: r.responseUrl,
  });
  const rawBody = new URLSearchParams(fields).toString();
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  const res = await request(job.url, {
    method: 'POST',
    dispatcher: agent,
    headers: signedHeaders(job.secret, timestamp, rawBody),
    body: rawBody,
  });
  const elapsedMs = performance.now() - started;
  return { status: res.statusCode, elapsedMs, body: await res.body.text() };
}

async function send(job: LoadJob, requests: LoadRequest[]): Promise<LoadSample[]> {
  const out: LoadSample[] = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < requests.length; i = next++) {
      const r = requests[i]!;
      const sentAt = performance.timeOrigin + performance.now();
      try {
        const res = await sendOne(job, r);
        out[i] = { status: res.status, elapsedMs: res.elapsedMs, sentAt, body: res.body.slice(0, 200) };
      } catch (err) {
        out[i] = { status: 0, elapsedMs: Number.NaN, sentAt, body: '', error: String((err as Error).cause ?? err) };
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  return out;
}

async function run(job: LoadJob): Promise<LoadSample[]> {
  if (job.warmup?.length) {
    await send(job, job.warmup);
    // The parent takes its "before" readings (the bot's CPU, its event-loop histogram) and then says go.
    const go = new Promise((resolve) => parentPort!.once('message', resolve));
    parentPort!.postMessage({ warm: true });
    await go;
  }
  return send(job, job.requests);
}

run(workerData as LoadJob).then(
  (samples) => parentPort!.postMessage({ samples }),
  (err) => parentPort!.postMessage({ error: String(err) }),
);
