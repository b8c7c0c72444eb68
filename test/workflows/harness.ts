// The use cases in-process: a real `Deps` (as src/main.ts builds it) over the in-memory store, the fake Slack
// and the fake AWS, talked to over HTTP by the real adapters (createSlackClient/createSlackPort,
// createAwsClients pointed at the fake through AWS_ENDPOINT_URL, as the bot process is). Several replicas
// (one Deps each, its own replicaId) can share one store. Time is a real clock plus an offset the test can
// advance (deps.now and the store's TTLs both read it), so deadlines and lease expiry need no waiting.
import { randomBytes } from 'node:crypto';
import { webApi } from '@slack/bolt';
import { createAwsClients } from '../../src/aws/clients.js';
import { realSleep } from '../../src/aws/cloudformation.js';
import { parsePromoteConfig, type StageConfig } from '../../src/config.js';
import type { ClickPlace } from '../../src/domain/promotion.js';
import { isTerminal } from '../../src/domain/promotion.js';
import type { Promotion } from '../../src/domain/types.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { createReviewerDirectory } from '../../src/reviewers.js';
import { createSlackClient, createSlackPort } from '../../src/slack/port.js';
import { KEYS } from '../../src/store/keys.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/types.js';
import type { Deps, Reply, Timing } from '../../src/workflows/deps.js';
import { lockKey } from '../../src/workflows/deps.js';
import { drivingNow } from '../../src/workflows/execute.js';
import { releaseAllLeases } from '../../src/workflows/lease.js';
import { type PromoteRequest, planPromotion } from '../../src/workflows/plan.js';
import { approve, cancel, reject } from '../../src/workflows/review.js';
import { type RollbackRequest, runRollback } from '../../src/workflows/rollback.js';
import { sweepOnce } from '../../src/workflows/sweeper.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import {
  CHANNEL,
  configYaml,
  DEV_ACCOUNT,
  DEV_TEMPLATE,
  PROD_ACCOUNT,
  PROD_TEMPLATE,
  REQUESTER,
} from '../support/scenario.js';

export { CHANNEL, DEV_ACCOUNT, PROD_ACCOUNT, REQUESTER };
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';

/** Short enough for fast tests, long enough that a live step never looks stalled. */
export const TEST_TIMING: Timing = {
  leaseMs: 1_500,
  stallMs: 1_000,
  sweepEveryMs: 100,
  progressEveryMs: 50,
  progressNoteAfterMs: 1_000,
  pollMinMs: 10,
  pollMaxMs: 40,
  planningTimeoutMs: 60_000,
  retentionMs: 86_400_000,
};

export interface Clock {
  now(): Date;
  ms(): number;
  /** Moves time forward for deps.now and the store's TTLs (real time keeps running too). */
  advance(ms: number): void;
}

function createClock(): Clock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    ms: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

type StoreMethod = Exclude<keyof Store, 'durable'>;
// biome-ignore lint/suspicious/noExplicitAny: a predicate over any store method's arguments
type ArgsMatch = (...args: any[]) => boolean;

/** Faults injected into one replica's view of the shared store. */
export interface StoreFaults {
  /** Every call this replica made, in order. */
  calls: Array<{ method: StoreMethod; args: unknown[] }>;
  /** The next `times` (default 1) calls of `method` matching `when` reject as if Redis were unreachable. */
  fail(method: StoreMethod, o?: { times?: number; when?: ArgsMatch }): void;
  /**
   * The replica "dies" right after the first call of `method` matching `when` took effect: every later store
   * call of this replica rejects (so it does nothing more). Resolves when that happened.
   */
  killAfter(method: StoreMethod, when?: ArgsMatch): Promise<void>;
  readonly killed: boolean;
}

function faultyStore(inner: Store): { store: Store; faults: StoreFaults } {
  const failures: Array<{ method: StoreMethod; left: number; when?: ArgsMatch }> = [];
  let kill: { method: StoreMethod; when?: ArgsMatch; done: () => void } | undefined;
  let killed = false;
  const calls: StoreFaults['calls'] = [];
  const down = (method: string) => new Error(`store ${method}: Connection is closed (injected)`);
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const method = prop as StoreMethod;
      return async (...args: unknown[]) => {
        calls.push({ method, args });
        if (killed) throw down(method);
        const f = failures.find((x) => x.method === method && x.left > 0 && (!x.when || x.when(...args)));
        if (f) {
          f.left--;
          throw down(method);
        }
        const result = await value.apply(target, args);
        if (kill && kill.method === method && (!kill.when || kill.when(...args))) {
          killed = true;
          kill.done();
          kill = undefined;
        }
        return result;
      };
    },
  });
  const faults: StoreFaults = {
    calls,
    fail(method, o = {}) {
      failures.push({ method, left: o.times ?? 1, when: o.when });
    },
    killAfter(method, when) {
      return new Promise<void>((done) => {
        kill = { method, when, done };
      });
    },
    get killed() {
      return killed;
    },
  };
  return { store, faults };
}

export interface Replica {
  deps: Deps;
  faults: StoreFaults;
  logs: string[];
  /** deps.stopping() answers this */
  stopping: boolean;
}

export interface ReplicaOptions {
  timing?: Partial<Timing>;
  /** AWS SDK request timeout (default 5 s) */
  awsRequestTimeoutMs?: number;
  /** SDK attempts per call (default 1: the bot's own retries are what is tested) */
  awsMaxAttempts?: number;
}

export interface Replies {
  texts: string[];
  reply: Reply;
}

export function replies(): Replies {
  const texts: string[] = [];
  return {
    texts,
    reply: async (t) => {
      texts.push(t);
    },
  };
}

export interface World {
  aws: FakeAws;
  slack: FakeSlack;
  /** The shared store, without faults */
  store: Store;
  clock: Clock;
  prod: StageConfig;
  /** A replica: a Deps of its own (own replicaId, own Slack port and AWS clients) on the shared store. */
  replica(o?: ReplicaOptions): Replica;
  /** /promote api dev→prod by REQUESTER; the promotion as stored when planning returned. */
  promote(r: Replica, req?: Partial<PromoteRequest>): Promise<{ p: Promotion | undefined; replies: string[] }>;
  rollback(r: Replica, req?: Partial<RollbackRequest>): Promise<{ p: Promotion | undefined; replies: string[] }>;
  approve(r: Replica, id: string, user?: string, opts?: { skipStuck?: boolean }): Promise<string[]>;
  reject(r: Replica, id: string, user?: string): Promise<string[]>;
  cancel(r: Replica, id: string, user?: string): Promise<string[]>;
  sweep(r: Replica): Promise<void>;
  get(id: string): Promise<Promotion>;
  /** Polls (20 ms) until `fn` returns something truthy; throws after `timeoutMs` (default 10 s). */
  waitFor<T>(
    fn: () => Promise<T | undefined | false | null> | T | undefined | false | null,
    timeoutMs?: number,
  ): Promise<T>;
  /** Waits until the operation has ended and every end effect is done. */
  settled(id: string, timeoutMs?: number): Promise<Promotion>;
  /** Waits until no replica holds the operation's lease (whoever drove it has let go). */
  idle(id: string): Promise<void>;
  /** The stage lock's holder (a promotion ID), if any. */
  lockHolder(): Promise<string | undefined>;
  /** Broadcast replies (the final word) in the thread under `ts`. */
  finalReplies(ts: string): FakeMessage[];
  /** Promotes api to prod with one approval and waits for it to succeed (to build release history). */
  release(r: Replica, devTemplate?: string): Promise<Promotion>;
  close(): Promise<void>;
}

const AWS_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** A dev template differing from prod and from DEV_TEMPLATE by one function's code. */
export function devTemplate(code: string): string {
  const t = JSON.parse(DEV_TEMPLATE);
  t.Resources.Fn.Properties.Code.ZipFile = code;
  return JSON.stringify(t);
}

export async function startWorld(
  o: {
    config?: string;
    required?: number;
    rollbackRequired?: number;
    eventIntervalMs?: number;
    /** the fake AWS's answer time per call, by action (none by default) */
    awsLatencyMs?: (action: string) => number;
  } = {},
): Promise<World> {
  const aws = await startFakeAws({
    changeSetStepMs: 5,
    eventIntervalMs: o.eventIntervalMs ?? 3,
    ...(o.awsLatencyMs ? { latencyMs: o.awsLatencyMs } : {}),
  });
  const slack = await startFakeSlack();
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries({ ...AWS_ENV, AWS_ENDPOINT_URL: aws.url })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  aws.putStack({
    name: 'api-dev',
    account: DEV_ACCOUNT,
    template: DEV_TEMPLATE,
    parameters: { Env: 'dev', MemorySize: '256' },
    outputs: { Version: 'v1.4.2' },
  });
  aws.putStack({
    name: 'api-prod',
    account: PROD_ACCOUNT,
    template: PROD_TEMPLATE,
    parameters: { Env: 'prod', MemorySize: '1024' },
  });
  const parsed = parsePromoteConfig(
    o.config ??
      configYaml({ required: o.required ?? 1, reviewers: [ALICE, BOB], rollbackRequired: o.rollbackRequired ?? 1 }),
    'us-east-1',
  );
  if (!parsed.ok) throw new Error(`test config: ${parsed.problems.join('; ')}`);
  const config = parsed.value;
  const prod = config.services.api!.stages.find((s) => s.name === 'prod')!;
  const clock = createClock();
  const shared = createMemoryStore({ now: clock.ms });
  const replicas: Replica[] = [];

  /** Where the button of operation `id` is: its summary message, as Slack's payload would say. */
  const placeOf = async (id: string): Promise<ClickPlace> => {
    const p = await shared.getPromotion(id);
    return { channel: p?.channel ?? CHANNEL, messageTs: p?.messageTs };
  };
  const world: World = {
    aws,
    slack,
    store: shared,
    clock,
    prod,
    replica(ro = {}) {
      const { store, faults } = faultyStore(shared);
      const logs: string[] = [];
      const log = createLogger('debug', (line) => {
        logs.push(line);
      });
      const port = createSlackPort(
        createSlackClient(slack.token, {
          slackApiUrl: slack.url,
          timeoutMs: 2_000,
          logLevel: webApi.LogLevel.ERROR,
        }),
        {
          retry: { baseDelayMs: 10, maxDelayMs: 50, deadlineMs: 5_000 },
          delivery: { baseDelayMs: 10, maxDelayMs: 50, deadlineMs: 10_000 },
        },
      );
      const replica: Replica = { deps: undefined as unknown as Deps, faults, logs, stopping: false };
      replica.deps = {
        config,
        store,
        metrics: createMetrics({ defaultMetrics: false }),
        aws: createAwsClients({
          forcePathStyle: true,
          maxAttempts: ro.awsMaxAttempts ?? 1,
          requestTimeoutMs: ro.awsRequestTimeoutMs ?? 5_000,
        }),
        slack: port,
        reviewers: createReviewerDirectory(port),
        log,
        now: clock.now,
        newId: () => randomBytes(6).toString('hex'),
        // Backoffs are capped so tests stay fast; deadlines are driven by the clock, not by sleeping.
        sleep: (ms) => realSleep(Math.min(ms, 25)),
        replicaId: `test-${randomBytes(4).toString('hex')}`,
        timing: { ...TEST_TIMING, ...ro.timing },
        stopping: () => replica.stopping,
      };
      replicas.push(replica);
      return replica;
    },
    async promote(r, req = {}) {
      const rep = replies();
      const p = await planPromotion(
        r.deps,
        { service: 'api', from: 'dev', to: 'prod', requester: REQUESTER, channel: CHANNEL, ...req },
        rep.reply,
      );
      return { p, replies: rep.texts };
    },
    async rollback(r, req = {}) {
      const rep = replies();
      const p = await runRollback(
        r.deps,
        { service: 'api', stage: 'prod', requester: REQUESTER, channel: CHANNEL, ...req },
        rep.reply,
      );
      return { p, replies: rep.texts };
    },
    async approve(r, id, user = ALICE, opts) {
      const rep = replies();
      await approve(r.deps, id, user, await placeOf(id), rep.reply, opts);
      return rep.texts;
    },
    async reject(r, id, user = ALICE) {
      const rep = replies();
      await reject(r.deps, id, user, await placeOf(id), rep.reply);
      return rep.texts;
    },
    async cancel(r, id, user = REQUESTER) {
      const rep = replies();
      await cancel(r.deps, id, user, await placeOf(id), rep.reply);
      return rep.texts;
    },
    sweep: (r) => sweepOnce(r.deps),
    async get(id) {
      const p = await shared.getPromotion(id);
      if (!p) throw new Error(`no promotion ${id}`);
      return p;
    },
    async waitFor(fn, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) {
          const tail = replicas.flatMap((r) => r.logs.slice(-15)).join('');
          throw new Error(`waitFor timed out after ${timeoutMs} ms; last log lines:\n${tail}`);
        }
        await realSleep(20);
      }
    },
    settled(id, timeoutMs) {
      return world.waitFor(async () => {
        const p = await shared.getPromotion(id);
        return p && isTerminal(p.state) && !p.pendingEffects?.length ? p : undefined;
      }, timeoutMs);
    },
    async idle(id) {
      await world.waitFor(async () => (await shared.holder(KEYS.lease(id))) === undefined);
    },
    async lockHolder() {
      const raw = await shared.holder(lockKey(prod));
      return raw ? (JSON.parse(raw) as { promotionId: string }).promotionId : undefined;
    },
    finalReplies: (ts) => slack.thread(ts).filter((m) => m.reply_broadcast),
    async release(r, template) {
      if (template)
        aws.putStack({
          name: 'api-dev',
          account: DEV_ACCOUNT,
          template,
          parameters: { Env: 'dev', MemorySize: '256' },
        });
      const { p, replies: said } = await world.promote(r);
      if (p?.state !== 'awaiting_approval' || !p) throw new Error(`planning failed: ${said.join(' | ')}`);
      await world.approve(r, p.id, ALICE);
      const done = await world.settled(p.id);
      if (done.state !== 'succeeded') throw new Error(`promotion ended ${done.state}: ${done.stateReason}`);
      return done;
    },
    async close() {
      for (const r of replicas) {
        r.stopping = true;
        await releaseAllLeases(r.deps);
      }
      // Work in flight sees its lease gone at its next step; give it a moment before the fakes go away.
      const until = Date.now() + 1_000;
      while (replicas.some((r) => drivingNow(r.deps) > 0) && Date.now() < until) await realSleep(20);
      await slack.close();
      await aws.close();
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
  return world;
}
