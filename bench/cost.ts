// Cost per promotion: the Slack calls, AWS calls and Redis commands of one promotion (plan, two approvals, a
// 60-resource execution followed to its end), on a Redis server of its own so INFO commandstats counts only
// this bot. The same bot idle for a while gives the background rate (sweeper, lease renewals) for comparison.
import { Redis } from 'ioredis';
import type { Scenario } from '../test/support/scenario.js';
import { measureProgress, type ProgressResult } from './progress.js';
import { type Budget, sleep } from './support.js';

export interface CostResult {
  progress: ProgressResult;
  wallMs: number;
  slackCalls: number;
  slackByMethod: Record<string, number>;
  awsCalls: number;
  awsByAction: Record<string, number>;
  redisCommands: number;
  redisByCommand: Record<string, number>;
  /** commands per second of the same bot with nothing to do (measured after), and over the promotion's time */
  idleRedisPerSecond: number;
}

/** Calls per command since the last CONFIG RESETSTAT, without the bench's own INFO/CONFIG. */
async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] === 'info' || m[1] === 'config') continue;
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

export async function measureCost(
  s: Scenario,
  redisUrl: string,
  budget: Budget,
  o: { eventIntervalMs: number; idleMs: number },
): Promise<CostResult> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const slackFrom = s.slack.calls.length;
    const awsFrom = s.aws.calls.length;
    await redis.config('RESETSTAT');
    const monitorLines: string[] = [];
    const monitor = process.env.BENCH_REDIS_MONITOR ? await redis.duplicate().monitor() : undefined;
    monitor?.on('monitor', (time: string, args: string[]) => monitorLines.push(`${time} ${args.join(' ')}`));
    const started = Date.now();
    const progress = await measureProgress(s, budget, o.eventIntervalMs);
    const wallMs = Date.now() - started;
    const redisByCommand = await commandStats(redis);
    if (monitor) {
      monitor.disconnect();
      const { writeFileSync } = await import('node:fs');
      writeFileSync(process.env.BENCH_REDIS_MONITOR!, monitorLines.join('\n'));
    }
    const slack = s.slack.calls.slice(slackFrom);
    const aws = s.aws.calls.slice(awsFrom);
    await redis.config('RESETSTAT');
    await sleep(o.idleMs);
    const idle = sum(await commandStats(redis));
    return {
      progress,
      wallMs,
      slackCalls: slack.length,
      slackByMethod: countBy(slack, (c) => c.method),
      awsCalls: aws.length,
      awsByAction: countBy(aws, (c) => `${c.service}:${c.action}`),
      redisCommands: sum(redisByCommand),
      redisByCommand,
      idleRedisPerSecond: idle / (o.idleMs / 1000),
    };
  } finally {
    redis.disconnect();
  }
}
