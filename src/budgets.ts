// Request budgets shared by everything the bot does, and by every replica: one token bucket per budget in the
// store (Store.takeToken; on Redis every replica draws from the same bucket). A call waits here for a token
// before it goes out. Waiters of one replica are served by priority, then in the order they came (so nobody
// starves: a follower that was served queues again behind the others). A "slow down" answer from the service
// (AWS Throttling, Slack HTTP 429) empties the bucket and halves its rate, which then recovers (AIMD).
//
// When the store cannot be reached the budget falls back to a bucket of this replica alone (in memory): the bot
// keeps working with Redis down, inside the budget per replica instead of in total.
import { createMemoryStore } from './store/memory-store.js';
import type { Store, TokenBucketSpec } from './store/types.js';

/** Lower goes first. */
export const PRIORITY = {
  /** state changes, final progress, planning and recovery calls */
  urgent: 0,
  /** a failure to report */
  failure: 1,
  /** the last state of a progress message, once the outcome is told elsewhere (final reply, summary) */
  final: 1,
  /** intermediate progress: may wait (and be coalesced) */
  progress: 2,
} as const;

export type Priority = number | (() => number);

/**
 * CloudFormation's request budget per account and region. AWS publishes no figure for its API rate: it throttles
 * per account and region ("Rate exceeded") and advises backing off and spreading calls
 * (repost.aws/knowledge-center/cloudformation-rate-exceeded-error). A few calls a second, with a burst for
 * planning's handful of calls, stays clear of it; `settings.awsCallsPerSecond` changes the rate.
 */
export const DEFAULT_AWS_CALLS_PER_SECOND = 4;

export function cloudFormationBudgetSpec(callsPerSecond = DEFAULT_AWS_CALLS_PER_SECOND): TokenBucketSpec {
  return { ratePerSec: callsPerSecond, burst: Math.max(2, Math.ceil(callsPerSecond * 2)) };
}

export interface Budget {
  /** e.g. 'cloudformation:123456789012/eu-west-1', 'slack:chat.update' (a metrics label) */
  readonly label: string;
  /**
   * Waits until the budget has a token for this call. `priority` may be a function: it is read each time the
   * next waiter is chosen (a queued update whose content became more important moves up). A call of `progress`
   * priority, or one not yet due, also leaves a token in the shared bucket for other replicas' more urgent calls
   * (reserveFor).
   * Waiters of one priority go earliest due first: `dueInMs`, also read each time, says how long until this call
   * is due (negative: overdue); without it a call is due when it is made. Resolves with the milliseconds waited.
   */
  take(priority?: Priority, dueInMs?: () => number): Promise<number>;
  /** The service answered "slow down" (throttled, rate limited). */
  throttled(): void;
  /** Takers waiting now, on this replica. */
  waiting(): number;
}

/** Told about every grant, wait and throttle, for metrics (src/metrics.ts). */
export interface BudgetObserver {
  granted(label: string, waitedMs: number): void;
  throttled(label: string): void;
  /** the bucket's current rate factor (1 = full rate) */
  factor(label: string, factor: number): void;
}

export interface BudgetsOptions {
  store: Store;
  sleep?: (ms: number) => Promise<void>;
  observer?: BudgetObserver;
  /** The store failed: the budget goes on with this replica's own bucket. */
  onStoreError?: (err: unknown, label: string) => void;
  /** Longest single wait before asking the bucket again; default 1 s */
  maxWaitMs?: number;
  /** Clock for measuring waits (ms); default performance.now */
  now?: () => number;
}

export interface Budgets {
  /** The budget under `key` (created on first use; later calls with the same key return the same one). */
  get(label: string, key: string, spec: TokenBucketSpec): Budget;
}

interface Waiter {
  priority: Priority;
  dueInMs: (() => number) | undefined;
  seq: number;
  since: number;
  resolve: (waitedMs: number) => void;
}

/**
 * Tokens a call leaves in the shared bucket (src/store/types.ts takeToken): one that may wait (intermediate
 * progress, a background read, or a call whose due time is still ahead) leaves one, so that every replica's urgent
 * calls, and calls already due, find it.
 */
function reserveFor(priority: number, dueInMs: number | undefined): number {
  return priority >= PRIORITY.progress || (dueInMs !== undefined && dueInMs > 0) ? 1 : 0;
}

/**
 * A take from a Redis bucket is three commands (the script, its GET and its SET), and the budgets run on every API
 * call. Each take asks for one token more, which this replica spends on its next call if that comes within
 * PREPAID_TOKEN_MS, without asking the bucket; one not spent by then is dropped (it was taken from the bucket: the
 * budget counts it as spent). The bucket grants it only while it keeps half its burst (bucketStep), so a short
 * budget is still shared call by call across replicas; a throttle drops it.
 */
export const PREPAID_TOKEN_MS = 3_000;
const EXTRA_PER_TAKE = 1;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Budgets kept at most (the least recently used idle ones are forgotten; the bucket stays in the store). */
const MAX_BUDGETS = 1_000;

export function createBudgets(opts: BudgetsOptions): Budgets {
  const sleep = opts.sleep ?? realSleep;
  const maxWaitMs = opts.maxWaitMs ?? 1_000;
  const now = opts.now ?? (() => performance.now());
  let local: Store | undefined;
  const budgets = new Map<string, Budget & { idle(): boolean }>();
  let seq = 0;

  const prio = (w: Waiter) => (typeof w.priority === 'function' ? w.priority() : w.priority);

  function make(label: string, key: string, spec: TokenBucketSpec): Budget & { idle(): boolean } {
    const queue: Waiter[] = [];
    let pumping = false;
    /** While the loop sleeps: the tokens it asked to be left, and how to wake it for a call that needs fewer. */
    let asleep: { reserve: number; wake: () => void } | undefined;
    /** Tokens this replica took ahead (PREPAID_TOKEN_MS), and until when (now()) it may spend them. */
    let prepaid = { count: 0, until: 0 };

    async function ask(op: 'take' | 'slow', reserve = 0) {
      const extra = op === 'take' ? EXTRA_PER_TAKE : 0;
      try {
        return op === 'take'
          ? await opts.store.takeToken(key, spec, reserve, extra)
          : await opts.store.slowDown(key, spec);
      } catch (err) {
        opts.onStoreError?.(err, label);
        local ??= createMemoryStore();
        return op === 'take' ? local.takeToken(key, spec, reserve, extra) : local.slowDown(key, spec);
      }
    }

    function serve(): void {
      const [w] = queue.splice(next(), 1);
      const waited = now() - w!.since;
      opts.observer?.granted(label, waited);
      w!.resolve(waited);
    }

    /** The waiter served next: the lowest priority number, then the earliest due, then the one that came first. */
    function next(): number {
      const t = now();
      const dueAt = (w: Waiter) => (w.dueInMs ? t + w.dueInMs() : w.since);
      let best = 0;
      let bestPrio = prio(queue[0]!);
      let bestDue = dueAt(queue[0]!);
      for (let i = 1; i < queue.length; i++) {
        const a = queue[i]!;
        const pa = prio(a);
        if (pa > bestPrio) continue;
        const da = dueAt(a);
        if (pa < bestPrio || da < bestDue || (da === bestDue && a.seq < queue[best]!.seq)) {
          best = i;
          bestPrio = pa;
          bestDue = da;
        }
      }
      return best;
    }

    // One loop per budget and replica asks the bucket for the waiter at the head, sleeping as long as the bucket
    // says when it is empty. Every replica's loop draws from the same bucket.
    async function pump(): Promise<void> {
      if (pumping) return;
      pumping = true;
      try {
        while (queue.length > 0) {
          // The bucket is shared with other replicas, whose waiters this one cannot see: a call that may wait
          // leaves a token for the calls that may not (a final reply on another replica goes before a note here).
          if (prepaid.count > 0 && now() < prepaid.until) {
            prepaid.count--;
            serve();
            continue;
          }
          const head = queue[next()]!;
          const reserve = reserveFor(prio(head), head.dueInMs?.());
          const grant = await ask('take', reserve);
          opts.observer?.factor(label, grant.factor);
          if (grant.granted) {
            prepaid = { count: grant.extra, until: now() + PREPAID_TOKEN_MS };
            serve();
          } else {
            await new Promise<void>((resolve) => {
              asleep = { reserve, wake: resolve };
              sleep(Math.min(maxWaitMs, grant.waitMs)).then(resolve, resolve);
            });
            asleep = undefined;
          }
        }
      } finally {
        pumping = false;
      }
    }

    return {
      label,
      take(priority = PRIORITY.urgent, dueInMs) {
        return new Promise<number>((resolve) => {
          const w = { priority, dueInMs, seq: seq++, since: now(), resolve };
          queue.push(w);
          // The loop waits for tokens kept back from calls that may wait: one that may not asks again now.
          if (asleep && reserveFor(prio(w), dueInMs?.()) < asleep.reserve) asleep.wake();
          pump().catch((err) => {
            // A bug, not a busy budget (a bad spec, say): no call is held back by the budget itself.
            opts.onStoreError?.(err, label);
            for (const w of queue.splice(0)) w.resolve(0);
          });
        });
      },
      throttled() {
        prepaid = { count: 0, until: 0 };
        opts.observer?.throttled(label);
        ask('slow').then(
          (g) => opts.observer?.factor(label, g.factor),
          (err) => opts.onStoreError?.(err, label),
        );
      },
      waiting: () => queue.length,
      idle: () => queue.length === 0 && !pumping,
    };
  }

  return {
    get(label, key, spec) {
      const hit = budgets.get(key);
      if (hit) return hit;
      if (budgets.size >= MAX_BUDGETS) {
        for (const [k, b] of budgets) {
          if (b.idle()) {
            budgets.delete(k);
            break;
          }
        }
      }
      const budget = make(label, key, spec);
      budgets.set(key, budget);
      return budget;
    },
  };
}
