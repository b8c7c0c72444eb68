// Composition root: the only place that reads the environment. Validates everything before
// connecting anywhere, then builds the adapters and starts the bot.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type App, LogLevel } from '@slack/bolt';
import { Redis } from 'ioredis';
import { createApp } from './app.js';
import { createAwsClients } from './aws/clients.js';
import { realSleep } from './aws/cloudformation.js';
import { runCheckConfig } from './check-config.js';
import { loadSettings } from './config.js';
import { armCrashPoint } from './faults.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { createReviewerDirectory } from './reviewers.js';
import { slackLibraryLogger } from './slack/library-logger.js';
import { createSlackClient, createSlackPort } from './slack/port.js';
import { checkSlackTokens, describeRejection, SlackUnreachableError } from './slack/startup.js';
import { createMemoryStore } from './store/memory-store.js';
import { createRedisStore } from './store/redis-store.js';
import type { Store } from './store/types.js';
import { VERSION } from './version.js';
import { DEFAULT_TIMING, type Deps, type Timing } from './workflows/deps.js';
import { drivingNow } from './workflows/execute.js';
import { leasesHeld, releaseAllLeases } from './workflows/lease.js';
import { startSweeper } from './workflows/sweeper.js';

function timingFrom(settings: Record<string, number | undefined>): Timing {
  const pick = (key: string, fallback: number) => settings[key] ?? fallback;
  return {
    leaseMs: pick('leaseTtl', DEFAULT_TIMING.leaseMs),
    stallMs: pick('stallAfter', DEFAULT_TIMING.stallMs),
    sweepEveryMs: pick('sweepEvery', DEFAULT_TIMING.sweepEveryMs),
    progressEveryMs: pick('progressEvery', DEFAULT_TIMING.progressEveryMs),
    pollMinMs: pick('pollMin', DEFAULT_TIMING.pollMinMs),
    pollMaxMs: pick('pollMax', DEFAULT_TIMING.pollMaxMs),
    planningTimeoutMs: pick('planningTimeout', DEFAULT_TIMING.planningTimeoutMs),
    retentionMs: pick('retention', DEFAULT_TIMING.retentionMs),
  };
}

/** Short, URL- and token-safe promotion IDs. */
function newId(): string {
  return randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
}

async function connectStore(
  url: string | undefined,
  prefix: string,
  log: ReturnType<typeof createLogger>,
): Promise<Store> {
  if (!url) {
    log.warn(
      'REDIS_URL is not set: using the embedded in-memory store. State is NOT durable and this must be the only replica.',
    );
    return createMemoryStore();
  }
  // Fail fast on commands while Redis is down instead of queueing them for ~10 s.
  // commandTimeout: a hung Redis fails the command (and the operation retries later) instead of freezing it.
  // enableAutoPipelining: the commands of one event-loop iteration go out in one write (ioredis README, "Auto
  // pipelining"), so many operations at once cost few socket writes.
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    enableAutoPipelining: true,
  });
  redis.on('error', (err) => log.warn('redis connection error', { err }));
  try {
    await redis.connect();
  } catch (cause) {
    throw new Error(`connecting to Redis at ${url.replace(/\/\/[^@]*@/, '//***@')}`, { cause });
  }
  return createRedisStore(redis, { prefix });
}

/** In-flight steps get this long to finish after SIGTERM before the leases are given back anyway. */
const SHUTDOWN_GRACE_MS = 20_000;

let stopping = false;

/** What start-up has built so far: a signal may come at any point of it. */
const running: { deps?: Deps; store?: Store; app?: App; stopSweeper?: () => void } = {};

// SIGTERM: take no new work, let steps in flight finish (up to SHUTDOWN_GRACE_MS), give the leases back so
// another replica resumes at once, then exit 0. During start-up: close what is open and exit 0.
async function shutdown(log: Logger, signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const { deps, store, app, stopSweeper } = running;
  log.info('shutting down', { signal, ...(deps ? { inFlight: drivingNow(deps), leases: leasesHeld(deps) } : {}) });
  stopSweeper?.();
  if (deps) {
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while ((drivingNow(deps) > 0 || leasesHeld(deps) > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const interrupted = await releaseAllLeases(deps);
    if (interrupted.length) {
      if (deps.store.durable) log.info('gave back the leases of operations in flight', { operations: interrupted });
      else
        log.warn('interrupted operations are lost with the in-memory store', {
          operations: interrupted,
        });
    }
  }
  await app?.stop().catch(() => undefined);
  await store?.close().catch(() => undefined);
  log.info('stopped', { signal });
  process.exit(0);
}

/** app.start(), bounded: Socket Mode retries an unreachable Slack forever on its own. */
async function startWithin(app: App, ms: number, socketMode: boolean): Promise<void> {
  if (!socketMode) {
    await app.start();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SlackUnreachableError(`Socket Mode did not connect to Slack within ${Math.round(ms / 1000)} s`)),
      ms,
    );
  });
  try {
    await Promise.race([app.start(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  // `--check` (npm run check-config): validate, ask AWS and Slack about what the config names, report, exit 0 or 2.
  if (process.argv.slice(2).includes('--check')) {
    const code = await runCheckConfig(process.env, {
      readText: (p) => readFileSync(p, 'utf8'),
      write: (t) => process.stdout.write(t),
    });
    process.stdout.write('', () => process.exit(code));
    return;
  }
  const settings = loadSettings(process.env, (p) => readFileSync(p, 'utf8'));
  if (!settings.ok) {
    process.stderr.write(`promote-bot cannot start:\n${settings.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  const { env, config } = settings.value;
  // Test-only (the fault suite): no effect when unset. See src/faults.ts.
  armCrashPoint(process.env.PROMOTE_CRASH_AT);
  const log = createLogger(env.logLevel);
  // Before connecting anywhere, so a stop during start-up is a clean one.
  process.once('SIGTERM', () => void shutdown(log, 'SIGTERM'));
  process.once('SIGINT', () => void shutdown(log, 'SIGINT'));
  const socketMode = !!env.slackAppToken;
  const slackLog = slackLibraryLogger(log, env.logLevel === 'debug' ? LogLevel.DEBUG : LogLevel.WARN, 'slack-web-api');

  // The tokens first: a rejected one ends start-up with one line naming it (exit 2), before anything else.
  const tokens = await checkSlackTokens({
    botToken: env.slackBotToken,
    appToken: env.slackAppToken,
    slackApiUrl: env.slackApiUrl,
    giveUpAfterMs: env.slackStartupTimeoutMs,
    log,
    clientLogger: slackLog,
  });
  if (!tokens.ok) {
    process.stderr.write(`promote-bot cannot start: ${describeRejection(tokens, env.slackApiUrl)}\n`);
    process.exit(2);
  }
  if (stopping) return;

  const metrics = createMetrics();
  const store = await connectStore(env.redisUrl, env.redisPrefix, log);
  running.store = store;
  const endpointOverride = !!(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3);
  const aws = createAwsClients({
    forcePathStyle: endpointOverride,
    requestTimeoutMs: config.settings.awsRequestTimeout,
    onCall: (c) => {
      metrics.awsCalls.inc({ service: c.service, operation: c.operation, result: c.result });
      metrics.awsCallDuration.observe({ service: c.service, operation: c.operation }, c.durationMs / 1000);
    },
  });

  // Our own WebClient for the bot's calls (Bolt keeps its own for acks and respond()).
  const slack = createSlackPort(
    createSlackClient(env.slackBotToken, { slackApiUrl: env.slackApiUrl, logger: slackLog }),
    {
      onCall: (c) => {
        metrics.slackCalls.inc({ method: c.method, result: c.result });
        metrics.slackCallDuration.observe({ method: c.method }, c.durationMs / 1000);
      },
    },
  );
  const deps: Deps = {
    config,
    store,
    aws,
    slack,
    reviewers: createReviewerDirectory(slack, {
      onError: (group, err) => log.warn('reading user group', { group, err }),
    }),
    log,
    now: () => new Date(),
    newId,
    sleep: realSleep,
    replicaId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    timing: timingFrom(config.settings),
    stopping: () => stopping,
    metrics,
  };
  metrics.watch({ operationsInFlight: () => drivingNow(deps), leasesHeld: () => leasesHeld(deps) });
  running.deps = deps;
  const app = createApp(env, deps, { botId: tokens.botId, botUserId: tokens.botUserId });
  running.app = app;

  await startWithin(app, env.slackStartupTimeoutMs, socketMode);
  if (stopping) return;
  running.stopSweeper = startSweeper(deps);
  log.info('promote-bot started', {
    version: VERSION,
    mode: socketMode ? 'socket' : 'http',
    port: env.port,
    store: store.durable ? 'redis' : 'memory',
    services: Object.keys(config.services),
    replicaId: deps.replicaId,
    botUserId: tokens.botUserId,
    team: tokens.teamId,
  });
}

main().catch((err) => {
  const chain: string[] = [];
  for (let e: unknown = err, i = 0; e && i < 6; e = (e as { cause?: unknown }).cause, i++) {
    chain.push(e instanceof Error ? e.message : String(e));
  }
  process.stderr.write(`promote-bot failed to start: ${chain.join(': ')}\n`);
  process.exit(1);
});
