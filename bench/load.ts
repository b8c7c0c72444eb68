// Ack under load: 500 /promote over kept-alive connections with 20 in flight, half of them really planning
// against the fake CloudFormation (per-call latency on), the other half the same command for a service whose
// plan is under way (refused by its lock after the ack). Beside it, in the same run, the same requests to a
// do-nothing HTTP server (the floor) and to Bolt alone (a Bolt app whose listeners only ack: what the required
// framework takes before any work of the bot's). The load comes from a worker thread; the bot's event-loop delay is read
// from its own /metrics (prom-client's monitorEventLoopDelay gauges, reset at each scrape). Each target first
// gets the same number of warm-up requests (for services of their own, not measured): a freshly started process
// compiles its code on the first requests it serves, and a bot in service has served many.
import { readFileSync } from 'node:fs';
import { EVENT_LOOP_RESOLUTION_MS } from '../src/metrics.js';
import { SIGNING_SECRET } from '../test/support/bot.js';
import { type Scenario, summaries } from '../test/support/scenario.js';
import type { LoadJob, LoadRequest, LoadSample } from './load-worker.js';
import { type Budget, type Stats, sleep, stats } from './support.js';
import { type ReferenceServer, runLoad, scrapeMetric, serviceName } from './world.js';

export interface AckLoadResult {
  requests: number;
  concurrency: number;
  /** all acks, and the planning ones alone */
  ack: Stats;
  ackPlanning: Stats;
  /** answers other than HTTP 200, or requests that failed */
  failed: number;
  failedExample?: string;
  /** event-loop delay in the bot over the load: prom-client's nodejs_eventloop_lag_* less its sampling interval */
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  /** the p99 as the gauge reads, sampling interval included */
  eventLoopP99RecordedMs: number;
  /** summaries posted by the end of the load, and within the wait after it */
  summariesDuringLoad: number;
  summariesAfter: number;
  /** CPU time of the bot (user + system) from the start of the load to the end of the wait, per plan posted */
  botCpuMs: number;
  /** CPU time of the bot during the measured load alone */
  botCpuLoadMs: number;
  cpuMsPerPlan: number;
  wallMs: number;
  /** share of the machine's CPU time in use during the measured load (all processes; Linux /proc/stat) */
  machineBusyPct?: number;
}

/** The channel of the warm-up services: their summaries are not counted. */
export const WARMUP_CHANNEL = 'C0WARM';

/** Summaries posted for the measured services. */
function measuredSummaries(s: Scenario): number {
  return summaries(s.slack).filter((m) => m.channel !== WARMUP_CHANNEL).length;
}

interface MeasuredLoad {
  samples: LoadSample[];
  machineBusyPct?: number;
}

/** Busy and total CPU time of the whole machine so far (jiffies, from /proc/stat's first line), on Linux. */
function machineTimes(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - f[4]!, total }; // idle and iowait
  } catch {
    return undefined;
  }
}

/**
 * Runs `job` (warm-up first) and answers its measured samples with the share of the machine's CPU busy while they
 * ran; `onWarm` runs between the warm-up and the measured requests.
 */
async function measuredLoad(job: LoadJob, onWarm: () => Promise<void> = async () => undefined): Promise<MeasuredLoad> {
  let before: ReturnType<typeof machineTimes>;
  const samples = await runLoad(job, async () => {
    await onWarm();
    before = machineTimes();
  });
  const after = machineTimes();
  const pct =
    before && after && after.total > before.total
      ? (100 * (after.busy - before.busy)) / (after.total - before.total)
      : undefined;
  return { samples, ...(pct !== undefined ? { machineBusyPct: pct } : {}) };
}

/**
 * Request i: service `firstService` + ⌊i/2⌋; the even one plans, the odd one finds the stage locked (or takes the
 * lock first).
 */
export function ackLoadRequests(
  s: Scenario,
  n: number,
  channelOf: (i: number) => string,
  firstService = 0,
): LoadRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const svc = firstService + Math.floor(i / 2);
    return {
      text: `${serviceName(svc)} dev→prod`,
      user: i % 2 ? 'U0OTHER' : 'U0REQ',
      channel: channelOf(svc),
      responseUrl: s.slack.responseUrl(`load:${firstService}:${i}`),
    };
  });
}

export interface EventLoopDelay {
  p99Ms: number;
  maxMs: number;
  p99RecordedMs: number;
}

/**
 * The event-loop delay of a histogram of monitorEventLoopDelay: it records the interval between the ticks of its
 * timer, the sampling interval included (an idle process records about 10 ms at a 10 ms resolution), so the delay
 * is the part beyond the interval, as Elastic's APM agent reports it
 * (github.com/open-telemetry/opentelemetry-js-contrib/issues/2794, github.com/nodejs/node/issues/34661).
 */
export function delayOf(recorded: { p99Ms: number; maxMs: number }): EventLoopDelay {
  const less = (ms: number) => Math.max(0, ms - EVENT_LOOP_RESOLUTION_MS);
  return { p99Ms: less(recorded.p99Ms), maxMs: less(recorded.maxMs), p99RecordedMs: recorded.p99Ms };
}

/** A reference server's figures under the same load as the bot's (the floor, Bolt alone: bench/world.ts). */
export interface ReferenceResult {
  stats: Stats;
  /** answers other than HTTP 200 (a reference that refused the requests would look fast) */
  failed: number;
  machineBusyPct?: number;
  /** its own event-loop delay over the measured load (less the sampling interval; the p99 recorded as well) */
  eventLoop: EventLoopDelay;
  /** its CPU time (user + system) over the measured load per request, ms (10 ms clock ticks summed over it) */
  cpuMsPerRequest: number;
}

/** The same requests (warm-up first) to a reference server. */
export async function measureReference(
  server: ReferenceServer,
  requests: LoadRequest[],
  concurrency: number,
  warmup: LoadRequest[],
): Promise<ReferenceResult> {
  let cpuBefore = 0;
  const { samples, machineBusyPct } = await measuredLoad(
    { url: server.url, secret: SIGNING_SECRET, concurrency, requests, warmup },
    async () => {
      await server.eventLoopDelay(); // resets it
      cpuBefore = server.cpuMs();
    },
  );
  const cpuMsPerRequest = (server.cpuMs() - cpuBefore) / requests.length;
  return {
    stats: stats(samples.filter((x) => x.status === 200).map((x) => x.elapsedMs)),
    failed: samples.filter((x) => x.status !== 200).length,
    ...(machineBusyPct !== undefined ? { machineBusyPct } : {}),
    eventLoop: delayOf(await server.eventLoopDelay()),
    cpuMsPerRequest,
  };
}

export async function measureAckLoad(
  s: Scenario,
  budget: Budget,
  requests: LoadRequest[],
  concurrency: number,
  o: { waitForPlansMs: number; warmup: LoadRequest[] },
): Promise<AckLoadResult> {
  let before = 0;
  let allBefore = 0;
  let cpuBefore = 0;
  let started = 0;
  const { samples, machineBusyPct } = await measuredLoad(
    { url: s.bot.url, secret: SIGNING_SECRET, concurrency, requests, warmup: o.warmup },
    async () => {
      before = measuredSummaries(s);
      allBefore = summaries(s.slack).length;
      // This scrape also resets the bot's event-loop histogram (prom-client resets it at every collect).
      cpuBefore = await scrapeMetric(s.bot.base, 'process_cpu_seconds_total');
      started = Date.now();
    },
  );
  const wallMs = Date.now() - started;
  const text = await (await fetch(`${s.bot.base}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]) * 1000;
  const botCpuLoadMs = (gauge('process_cpu_seconds_total') / 1000 - cpuBefore) * 1000;
  const eventLoop = delayOf({
    p99Ms: gauge('nodejs_eventloop_lag_p99_seconds'),
    maxMs: gauge('nodejs_eventloop_lag_max_seconds'),
  });
  const summariesDuringLoad = measuredSummaries(s) - before;
  const planners = requests.length / 2;
  const deadline = Math.min(Date.now() + o.waitForPlansMs, budget.endsAt);
  while (Date.now() < deadline && measuredSummaries(s) - before < planners) await sleep(100);
  const botCpuMs = ((await scrapeMetric(s.bot.base, 'process_cpu_seconds_total')) - cpuBefore) * 1000;
  const bad = samples.filter((x) => x.status !== 200);
  const ok = samples.filter((x) => x.status === 200);
  return {
    requests: requests.length,
    concurrency,
    ack: stats(ok.map((x) => x.elapsedMs)),
    ackPlanning: stats(samples.filter((x, i) => i % 2 === 0 && x.status === 200).map((x) => x.elapsedMs)),
    failed: bad.length,
    failedExample: bad[0] ? `HTTP ${bad[0].status} ${bad[0].error ?? bad[0].body}` : undefined,
    eventLoopP99Ms: eventLoop.p99Ms,
    eventLoopMaxMs: eventLoop.maxMs,
    eventLoopP99RecordedMs: eventLoop.p99RecordedMs,
    summariesDuringLoad,
    summariesAfter: measuredSummaries(s) - before,
    botCpuMs,
    botCpuLoadMs,
    cpuMsPerPlan: botCpuMs / Math.max(1, summaries(s.slack).length - allBefore),
    wallMs,
    ...(machineBusyPct !== undefined ? { machineBusyPct } : {}),
  };
}
