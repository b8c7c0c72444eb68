// Slack calls queued per key. Slack rate-limits each Web API method separately, and chat.postMessage also per
// channel (platform-facts §1.7; api.slack.com/docs/rate-limits), so the port keys calls by method + channel
// ('chat.update:C1'). A key runs one call at a time, in the order the calls were made, so two updates of one
// message land in order (a call made with `yields` lets later calls that do not yield go first); an HTTP 429
// pauses only its key for Retry-After, and every other key goes on.
// Transient failures are retried with capped exponential backoff while the key waits (it keeps its order);
// permanent ones fail at once. A call made "until delivered" keeps trying until a long deadline instead.

export interface RetryPolicy {
  /** tries per call, the first one included */
  attempts: number;
  /** backoff before the first retry; doubles on each further one (with jitter) up to maxDelayMs */
  baseDelayMs: number;
  maxDelayMs: number;
  /** a call not done this long after it was made gives up (time waiting behind its key included) */
  deadlineMs: number;
}

/** For calls that must arrive (the final reply of an operation): no attempt limit, only a deadline. */
export interface DeliveryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  deadlineMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 5_000, deadlineMs: 60_000 };
export const DEFAULT_DELIVERY: DeliveryPolicy = { baseDelayMs: 1_000, maxDelayMs: 30_000, deadlineMs: 30 * 60_000 };

/** How the scheduler should treat a failure: retry it (after `retryAfterMs` when Slack said so) or not. */
export interface Verdict {
  transient: boolean;
  retryAfterMs?: number;
}

export interface RetryEvent {
  key: string;
  /** the attempt that just failed (1 = the first) */
  attempt: number;
  /** how long the key now waits before the next attempt */
  delayMs: number;
  /** true for a 429: the wait is Slack's Retry-After */
  rateLimited: boolean;
  error: unknown;
}

export interface SchedulerOptions {
  classify: (err: unknown) => Verdict;
  retry?: Partial<RetryPolicy>;
  delivery?: Partial<DeliveryPolicy>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** [0, 1); the jitter source */
  random?: () => number;
  /** called before each retry wait (for logs and metrics) */
  onRetry?: (e: RetryEvent) => void;
}

export interface CallOptions {
  /** retry transient failures until delivered (DeliveryPolicy) instead of a few times (RetryPolicy) */
  untilDelivered?: boolean;
  /**
   * The call lets calls made after it under the same key go first unless they yield too (calls that yield keep
   * their order among themselves): for messages that may wait, such as progress notes.
   */
  yields?: boolean;
}

export interface Scheduler {
  /** Runs `call` under `key` after the calls made before it under the same key; retries per the policy. */
  run<T>(key: string, call: () => Promise<T>, opts?: CallOptions): Promise<T>;
  /** calls queued or running, under `key` or under every key */
  pending(key?: string): number;
}

/** A call that did not succeed before its policy ran out; `cause` is the last failure (if it was tried). */
export class SlackGaveUpError extends Error {
  override name = 'SlackGaveUpError';
  constructor(
    message: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Task {
  call: () => Promise<unknown>;
  yields: boolean;
  policy: RetryPolicy;
  madeAt: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  queue: Task[];
  /** no attempt under this key starts before this time (a 429's Retry-After, or a backoff) */
  pausedUntil: number;
}

const MAX_IDLE_LANES = 1_000;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  const bounded: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const delivery = { ...DEFAULT_DELIVERY, ...opts.delivery };
  const untilDelivered: RetryPolicy = { ...delivery, attempts: Number.POSITIVE_INFINITY };
  const lanes = new Map<string, Lane>();

  // Capped exponential backoff with "equal jitter": half fixed, half random, so retries of many keys spread out.
  const backoff = (p: RetryPolicy, attempt: number) => {
    const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  };

  async function settle(key: string, lane: Lane, task: Task): Promise<void> {
    const { policy } = task;
    const deadline = task.madeAt + policy.deadlineMs;
    let attempt = 0;
    let last: unknown;
    for (;;) {
      const wait = lane.pausedUntil - now();
      if (wait > 0) await sleep(wait);
      if (now() > deadline) {
        const s = Math.round((now() - task.madeAt) / 1000);
        const why = attempt === 0 ? `waited ${s} s behind earlier calls` : `tried ${attempt} times in ${s} s`;
        task.reject(
          new SlackGaveUpError(`gave up: ${why} (deadline ${policy.deadlineMs} ms)`, attempt, {
            // Never tried: the cause says it timed out (a DOMException TimeoutError, like AbortSignal.timeout()).
            cause: last ?? new DOMException(`no attempt within ${policy.deadlineMs} ms`, 'TimeoutError'),
          }),
        );
        return;
      }
      attempt += 1;
      try {
        task.resolve(await task.call());
        return;
      } catch (err) {
        last = err;
        const verdict = opts.classify(err);
        if (!verdict.transient) {
          task.reject(err);
          return;
        }
        const rateLimited = verdict.retryAfterMs !== undefined;
        const delayMs = verdict.retryAfterMs ?? backoff(policy, attempt);
        // Slack's Retry-After holds for the key whether or not this call tries again.
        if (rateLimited) lane.pausedUntil = Math.max(lane.pausedUntil, now() + delayMs);
        if (attempt >= policy.attempts || now() + delayMs > deadline) {
          task.reject(new SlackGaveUpError(`gave up after ${attempt} attempts`, attempt, { cause: err }));
          return;
        }
        lane.pausedUntil = Math.max(lane.pausedUntil, now() + delayMs);
        opts.onRetry?.({ key, attempt, delayMs, rateLimited, error: err });
      }
    }
  }

  /** Forgets idle lanes whose pause is over (keys such as 'views.open:<trigger>' are used once). */
  function prune(): void {
    for (const [key, lane] of lanes) if (lane.queue.length === 0 && lane.pausedUntil <= now()) lanes.delete(key);
  }

  async function drain(key: string, lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) {
        // The first call that does not yield, else the first one.
        const task = lane.queue.find((t) => !t.yields) ?? (lane.queue[0] as Task);
        try {
          await settle(key, lane, task);
        } catch (err) {
          task.reject(err); // only if sleep/now/classify themselves threw
        }
        lane.queue.splice(lane.queue.indexOf(task), 1);
      }
    } finally {
      // A pause outlives the queue: the next call under this key still waits for Retry-After.
      if (lane.queue.length === 0 && lane.pausedUntil <= now()) lanes.delete(key);
    }
  }

  return {
    run<T>(key: string, call: () => Promise<T>, callOpts: CallOptions = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (lanes.size > MAX_IDLE_LANES) prune();
        let lane = lanes.get(key);
        if (!lane) {
          lane = { queue: [], pausedUntil: 0 };
          lanes.set(key, lane);
        }
        lane.queue.push({
          call,
          yields: callOpts.yields === true,
          policy: callOpts.untilDelivered ? untilDelivered : bounded,
          madeAt: now(),
          resolve: resolve as (v: unknown) => void,
          reject,
        });
        if (lane.queue.length === 1) void drain(key, lane);
      });
    },
    pending(key?: string) {
      if (key !== undefined) return lanes.get(key)?.queue.length ?? 0;
      let n = 0;
      for (const lane of lanes.values()) n += lane.queue.length;
      return n;
    },
  };
}
