// Work after an ack yields to a burst of requests. The bot acks every request before its work starts, but that
// work (Redis, AWS SDK calls, Slack posts) shares the one event loop with the acks of the requests that come next:
// during a burst (hundreds of commands or clicks a second) it would delay them (bench row 1, "ack under load").
// So while requests arrive faster than `burst` in `windowMs`, the work they ask for waits until the rate drops,
// and never longer than `maxDeferMs`. Outside a burst work starts as before: in the check phase of the event loop
// turn its request was acked in.

export interface BurstGate {
  /** Runs `job` (the work of a request that just arrived) now-ish, or after the burst it is part of. */
  run(job: () => void): void;
  /** Runs every job still waiting, now, in the order they came (shutdown: each is told, or done, before exit). */
  flush(): void;
  /** jobs waiting for a burst to end */
  readonly waiting: number;
}

export interface BurstGateOptions {
  /** arrivals within `windowMs` that make a burst; default 8 */
  burst?: number;
  windowMs?: number;
  maxDeferMs?: number;
  now?: () => number;
}

export const BURST_ARRIVALS = 8;
export const BURST_WINDOW_MS = 100;
export const BURST_MAX_DEFER_MS = 1_000;

export function createBurstGate(o: BurstGateOptions = {}): BurstGate {
  const burst = o.burst ?? BURST_ARRIVALS;
  const windowMs = o.windowMs ?? BURST_WINDOW_MS;
  const maxDeferMs = o.maxDeferMs ?? BURST_MAX_DEFER_MS;
  const now = o.now ?? (() => performance.now());
  /** the last `burst` arrival times, oldest first */
  const arrivals: number[] = [];
  const queue: Array<{ since: number; job: () => void }> = [];
  let timer: NodeJS.Timeout | undefined;
  let immediate = false;

  /** When the current burst ends if nothing more arrives (≤ t: not in a burst). */
  const burstEnds = () => (arrivals.length < burst ? Number.NEGATIVE_INFINITY : arrivals[0]! + windowMs);

  function release(): void {
    timer = undefined;
    immediate = false;
    const t = now();
    const calm = burstEnds() <= t;
    while (queue.length > 0 && (calm || t - queue[0]!.since >= maxDeferMs)) queue.shift()!.job();
    schedule();
  }

  function schedule(): void {
    if (timer || immediate || queue.length === 0) return;
    const t = now();
    const at = Math.min(burstEnds(), queue[0]!.since + maxDeferMs);
    if (at <= t) {
      immediate = true;
      setImmediate(release);
    } else {
      timer = setTimeout(release, Math.ceil(at - t));
    }
  }

  return {
    run(job) {
      const t = now();
      arrivals.push(t);
      if (arrivals.length > burst) arrivals.shift();
      queue.push({ since: t, job });
      schedule();
    },
    flush() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      while (queue.length > 0) queue.shift()!.job();
    },
    get waiting() {
      return queue.length;
    },
  };
}
