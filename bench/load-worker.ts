// The load generator of the "ack under load" row, in a worker thread: its own event loop (and fetch's own
// connection pool, kept alive), so the fakes' work in the main thread does not delay its clock. Sends the given
// slash commands with at most `concurrency` in flight and answers each one's status and time to the ack. The
// warm-up requests, when given, go first over the same connections and are not measured; then the worker waits
// for the parent's go.
import { parentPort, workerData } from 'node:worker_threads';
import { sendSlashCommand } from '../test/support/slack-driver.js';

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

async function send(job: LoadJob, requests: LoadRequest[]): Promise<LoadSample[]> {
  const out: LoadSample[] = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < requests.length; i = next++) {
      const r = requests[i]!;
      const sentAt = performance.timeOrigin + performance.now();
      try {
        const res = await sendSlashCommand({
          url: job.url,
          secret: job.secret,
          command: '/promote',
          text: r.text,
          userId: r.user,
          channelId: r.channel,
          responseUrl: r.responseUrl,
        });
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
