// The load generator of the "ack under load" row, in a worker thread: its own event loop (and fetch's own
// connection pool, kept alive), so the fakes' work in the main thread does not delay its clock. Sends the given
// slash commands with at most `concurrency` in flight and answers each one's status and time to the ack.
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
}

export interface LoadSample {
  status: number;
  elapsedMs: number;
  /** performance.timeOrigin-based wall time the request was sent (ms since the epoch) */
  sentAt: number;
  body: string;
  error?: string;
}

async function run(job: LoadJob): Promise<LoadSample[]> {
  const out: LoadSample[] = new Array(job.requests.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < job.requests.length; i = next++) {
      const r = job.requests[i]!;
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

run(workerData as LoadJob).then(
  (samples) => parentPort!.postMessage({ samples }),
  (err) => parentPort!.postMessage({ error: String(err) }),
);
