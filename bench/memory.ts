// Memory: the bot's RSS while it runs 1,000 complete promotions (plan, two approvals, execution, final reply),
// `lanes` services at a time, each promotion of a new dev template. Sampled every 100 promotions.
import { ACTION } from '../src/slack/ids.js';
import type { FakeMessage } from '../test/fakes/slack.js';
import { DEV_ACCOUNT, promotionIdOf, type Scenario } from '../test/support/scenario.js';
import { type Budget, sleep, until } from './support.js';
import { clickIn, REVIEWERS, rssMb, scrapeMetric, serviceName } from './world.js';

export interface MemoryResult {
  promotions: number;
  failed: number;
  /** [completed promotions, RSS MB] */
  samples: Array<[number, number]>;
  /** [completed promotions, V8 heap in use MB] (the bot's /metrics), beside each RSS sample */
  heapSamples: Array<[number, number]>;
  /** RSS MB after the bot then had nothing to do for `settleMs` (V8 collects a grown heap once allocation slows) */
  settledMb: number;
  settleMs: number;
  wallMs: number;
}

function findFrom(s: Scenario, from: number, pred: (m: FakeMessage) => boolean): FakeMessage | undefined {
  const list = s.slack.messages;
  for (let i = from; i < list.length; i++) if (pred(list[i]!)) return list[i];
  return undefined;
}

export const tinyTemplate = (version: number) =>
  JSON.stringify({
    Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `jobs-v${version}` } } },
  });

export async function measureMemory(
  s: Scenario,
  budget: Budget,
  o: { total: number; lanes: number; channelOf: (i: number) => string; sampleEvery: number; settleMs: number },
): Promise<MemoryResult> {
  const started = Date.now();
  const samples: Array<[number, number]> = [[0, rssMb(s.bot.proc.pid)]];
  const heapSamples: Array<[number, number]> = [];
  let done = 0;
  let failed = 0;
  let next = 0;
  let version = 10;
  const lane = async (svc: number) => {
    const channel = o.channelOf(svc);
    while (next < o.total) {
      next++;
      s.aws.putStack({ name: `${serviceName(svc)}-dev`, account: DEV_ACCOUNT, template: tinyTemplate(version++) });
      // Scans from where the fake's append-only message list stood, not the whole list, so that the bench's own
      // polling stays small next to the bot's work as the list grows.
      const before = s.slack.messages.length;
      await s.promote(`${serviceName(svc)} dev→prod`, 'U0REQ', channel);
      const summary = await until(
        budget,
        `a summary of ${serviceName(svc)}`,
        () => findFrom(s, before, (m) => m.channel === channel && !m.thread_ts && !!promotionIdOf(m.blocks)),
        30_000,
        20,
      );
      const at = s.slack.messages.indexOf(summary);
      const id = promotionIdOf(summary.blocks)!;
      for (const user of REVIEWERS) await clickIn(s, channel, ACTION.approve, id, user, summary.ts);
      const final = await until(
        budget,
        `the final reply of ${serviceName(svc)}`,
        () => findFrom(s, at, (m) => m.thread_ts === summary.ts && !!m.reply_broadcast),
        60_000,
        20,
      );
      if (!/Promoted/i.test(final.text ?? '')) failed++;
      done++;
      if (done % o.sampleEvery === 0) {
        samples.push([done, rssMb(s.bot.proc.pid)]);
        const at = done;
        void scrapeMetric(s.bot.base, 'nodejs_heap_size_used_bytes')
          .then((b) => heapSamples.push([at, b / 1_048_576]))
          .catch(() => undefined);
      }
    }
  };
  await Promise.all(Array.from({ length: o.lanes }, (_, i) => lane(i)));
  const wallMs = Date.now() - started;
  await sleep(o.settleMs);
  return {
    promotions: done,
    failed,
    samples,
    heapSamples,
    settledMb: rssMb(s.bot.proc.pid),
    settleMs: o.settleMs,
    wallMs,
  };
}
