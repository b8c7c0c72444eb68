// Composition root: the only place that reads the environment. Validates everything before
// connecting anywhere, then builds the adapters and starts the bot.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type App, LogLevel } from '@slack/bolt';
import type { Redis } from 'ioredis';
import { createApp } from './app.js';
import { createAwsClients, warmUpAwsSdk } from './aws/clients.js';
import { realSleep } from './aws/cloudformation.js';
import { cloudFormationBudgetSpec, createBudgets } from './budgets.js';
import { runCheckConfig } from './check-config.js';
import { loadSettings } from './config.js';
import { armCrashPoint } from './faults.js';
import { createLogger, type Logger, logProcessWarnings } from './log.js';
import { budgetObserver, createMetrics } from './metrics.js';
import { shortId } from './random.js';
import { createReviewerDirectory } from './reviewers.js';
import { slackBudgets } from './slack/budgets.js';
import { slackLibraryLogger } from './slack/library-logger.js';
import { createSlackClient, createSlackPort } from './slack/port.js';
import { checkSlackTokens, describeRejection, SlackUnreachableError } from './slack/startup.js';
import { KEYS } from './store/keys.js';
import { createMemoryStore } from './store/memory-store.js';
import { connectWithin, createRedisClient } from './store/redis-connect.js';
import { createRedisStore, migrateKeyLayout } from './store/redis-store.js';
import { describeRedisTarget, type RedisTarget } from './store/redis-target.js';
import type { Store } from './store/types.js';
import { VERSION } from './version.js';
import { type BurstGate, createBurstGate } from './workflows/burst-gate.js';
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
    progressNoteAfterMs: pick('progressNoteAfter', DEFAULT_TIMING.progressNoteAfterMs),
    pollMinMs: pick('pollMin', DEFAULT_TIMING.pollMinMs),
    pollMaxMs: pick('pollMax', DEFAULT_TIMING.pollMaxMs),
    planningTimeoutMs: pick('planningTimeout', DEFAULT_TIMING.planningTimeoutMs),
    retentionMs: pick('retention', DEFAULT_TIMING.retentionMs),
  };
}

/** Start-up gives up on a Redis (or its Sentinels, or its Cluster nodes) that does not answer in this time. */
const REDIS_CONNECT_WITHIN_MS = 15_000;

async function connectStore(
  target: RedisTarget | undefined,
  prefix: string,
  log: ReturnType<typeof createLogger>,
): Promise<Store> {
  if (!target) {
    log.warn(
      'REDIS_URL is not set: using the embedded in-memory store. State is NOT durable and this must be the only replica.',
    );
    return createMemoryStore();
  }
  // Single, Sentinel or Cluster, with the same timeouts: fail fast on commands while Redis is down instead of
  // queueing them, and fail a command a hung Redis does not answer (the operation retries later).
  const redis = createRedisClient(target);
  redis.on('error', (err) => log.warn('redis connection error', { err }));
  try {
    await connectWithin(redis, REDIS_CONNECT_WITHIN_MS);
  } catch (cause) {
    throw new Error(`connecting to Redis at ${describeRedisTarget(target)}`, { cause });
  }
  // 0.1.0 kept the promotion records under untagged keys, on a single Redis only.
  if (target.mode !== 'cluster') {
    const moved = await migrateKeyLayout(redis as Redis, { prefix });
    if (moved) log.info('moved promotion records to the Cluster-ready key layout', { moved });
  }
  return createRedisStore(redis, { prefix });
}

/** In-flight steps get this long to finish after SIGTERM before the leases are given back anyway. */
const SHUTDOWN_GRACE_MS = 20_000;

let stopping = false;

/** What start-up has built so far: a signal may come at any point of it. */
const running: { deps?: Deps; store?: Store; app?: App; gate?: BurstGate; stopSweeper?: () => void } = {};

// SIGTERM: take no new work, let steps in flight finish (up to SHUTDOWN_GRACE_MS), give the leases back so
// another replica resumes at once, then exit 0. During start-up: close what is open and exit 0.
async function shutdown(log: Logger, signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const { deps, store, app, stopSweeper } = running;
  log.info('shutting down', { signal, ...(deps ? { inFlight: drivingNow(deps), leases: leasesHeld(deps) } : {}) });
  stopSweeper?.();
  // Work held back by a burst of requests starts now: it sees `stopping` (a plan not begun says to ask again).
  running.gate?.flush();
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
  logProcessWarnings(log);
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
  const store = await connectStore(env.redis, env.redisPrefix, log);
  running.store = store;
  const endpointOverride = !!(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3);
  // Request budgets shared by every replica through the store (src/budgets.ts): CloudFormation per account and
  // region, Slack per method (and channel, for posting).
  const budgets = createBudgets({
    store,
    observer: budgetObserver(metrics),
    onStoreError: (err, budget) =>
      log.warn('request budget: the store failed, using this replica’s own', { err, budget }),
  });
  // Before the first Slack request can arrive: the SDK's lazily loaded STS client is loaded now (src/aws/clients.ts).
  await warmUpAwsSdk();
  const awsSpec = cloudFormationBudgetSpec(config.settings.awsCallsPerSecond);
  const aws = createAwsClients({
    forcePathStyle: endpointOverride,
    requestTimeoutMs: config.settings.awsRequestTimeout,
    budget: ({ account, region }) =>
      budgets.get(`cloudformation:${account ?? 'default'}/${region}`, KEYS.awsBudget(account, region), awsSpec),
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
      budgets: slackBudgets(budgets, { updatesPerMinute: config.settings.slackUpdatesPerMinute }),
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
    newId: shortId,
    sleep: realSleep,
    replicaId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    timing: timingFrom(config.settings),
    stopping: () => stopping,
    metrics,
  };
  metrics.watch({ operationsInFlight: () => drivingNow(deps), leasesHeld: () => leasesHeld(deps) });
  running.deps = deps;
  running.gate = createBurstGate();
  const app = createApp(env, deps, { botId: tokens.botId, botUserId: tokens.botUserId }, running.gate);
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
