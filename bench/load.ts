// Ack under load: 500 /promote over kept-alive connections with 20 in flight, half of them really planning
// against the fake CloudFormation (per-call latency on), the other half the same command for a service whose
// plan is under way (refused by its lock after the ack). Beside it, in the same run, the same requests to a
// do-nothing HTTP server (the floor). The load comes from a worker thread; the bot's event-loop delay is read
// from its own /metrics (prom-client's monitorEventLoopDelay gauges, reset at each scrape).
import { SIGNING_SECRET } from '../test/support/bot.js';
import { type Scenario, summaries } from '../test/support/scenario.js';
import type { LoadRequest, LoadSample } from './load-worker.js';
import { type Budget, type Stats, sleep, stats } from './support.js';
import { runLoad, scrapeMetric, serviceName } from './world.js';

export interface AckLoadResult {
  requests: number;
  concurrency: number;
  /** all acks, and the planning ones alone */
  ack: Stats;
  ackPlanning: Stats;
  /** answers other than HTTP 200, or requests that failed */
  failed: number;
  failedExample?: string;
  /** event-loop delay in the bot over the load (prom-client nodejs_eventloop_lag_*; includes its 10 ms resolution) */
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  /** summaries posted by the end of the load, and within the wait after it */
  summariesDuringLoad: number;
  summariesAfter: number;
  /** CPU time of the bot (user + system) from the start of the load to the end of the wait, per plan posted */
  botCpuMs: number;
  cpuMsPerPlan: number;
  wallMs: number;
}

/** Request i: service ⌊i/2⌋; the even one plans, the odd one finds the stage locked (or takes the lock first). */
export function ackLoadRequests(s: Scenario, n: number, channelOf: (i: number) => string): LoadRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const svc = Math.floor(i / 2);
    return {
      text: `${serviceName(svc)} dev→prod`,
      user: i % 2 ? 'U0OTHER' : 'U0REQ',
      channel: channelOf(svc),
      responseUrl: s.slack.responseUrl(`load:${i}`),
    };
  });
}

export async function measureFloor(url: string, requests: LoadRequest[], concurrency: number): Promise<LoadSample[]> {
  return runLoad({ url, secret: SIGNING_SECRET, concurrency, requests });
}

export async function measureAckLoad(
  s: Scenario,
  budget: Budget,
  requests: LoadRequest[],
  concurrency: number,
  o: { waitForPlansMs: number },
): Promise<AckLoadResult> {
  const before = summaries(s.slack).length;
  // The first scrape also resets the bot's event-loop histogram (prom-client resets it at every collect).
  const cpuBefore = await scrapeMetric(s.bot.base, 'process_cpu_seconds_total');
  const started = Date.now();
  const samples = await runLoad({ url: s.bot.url, secret: SIGNING_SECRET, concurrency, requests });
  const wallMs = Date.now() - started;
  const text = await (await fetch(`${s.bot.base}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]) * 1000;
  const summariesDuringLoad = summaries(s.slack).length - before;
  const planners = requests.length / 2;
  const deadline = Math.min(Date.now() + o.waitForPlansMs, budget.endsAt);
  while (Date.now() < deadline && summaries(s.slack).length - before < planners) await sleep(100);
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
    eventLoopP99Ms: gauge('nodejs_eventloop_lag_p99_seconds'),
    eventLoopMaxMs: gauge('nodejs_eventloop_lag_max_seconds'),
    summariesDuringLoad,
    summariesAfter: summaries(s.slack).length - before,
    botCpuMs,
    cpuMsPerPlan: botCpuMs / Math.max(1, summaries(s.slack).length - before),
    wallMs,
  };
}
