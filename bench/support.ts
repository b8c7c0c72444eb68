// Small helpers the benchmarks share: bounded waiting, cleanup on any exit, and statistics.

/** Everything the run must undo, newest first; run once whatever the way out (done, error, signal, timeout). */
const cleanups: Array<{ what: string; fn: () => Promise<void> | void }> = [];
let cleaning: Promise<void> | undefined;

export function onCleanup(what: string, fn: () => Promise<void> | void): void {
  cleanups.push({ what, fn });
}

export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const c = cleanups.pop()!;
      try {
        await c.fn();
      } catch (err) {
        console.error(`bench: cleaning up ${c.what} failed:`, err);
      }
    }
  })();
  return cleaning;
}

/** The whole run's time budget: every wait gives up when it runs out. */
export class Budget {
  readonly endsAt: number;
  constructor(totalMs: number) {
    this.endsAt = Date.now() + totalMs;
  }
  leftMs(): number {
    return this.endsAt - Date.now();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `fn` every `everyMs` (default 2 ms: the fakes run in this process, so a tight poll costs little and
 * keeps the bench's own reaction time out of the measurements) until it returns a truthy value.
 */
export async function until<T>(
  budget: Budget,
  what: string,
  fn: () => T | undefined | false | null,
  timeoutMs = 20_000,
  everyMs = 2,
): Promise<T> {
  const deadline = Math.min(Date.now() + timeoutMs, budget.endsAt);
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() >= deadline) {
      const why = budget.leftMs() <= 0 ? 'the total time budget ran out' : `not within ${timeoutMs} ms`;
      throw new Error(`waiting for ${what}: ${why}`);
    }
    await sleep(everyMs);
  }
}

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** The most timestamps that fall in any half-open window [t, t + windowMs). */
export function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

/** Smallest gap between consecutive timestamps (NaN with fewer than two). */
export function minGap(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = Number.NaN;
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i]! - sorted[i - 1]!;
    if (!(gap >= best)) best = gap;
  }
  return best;
}

export function ms(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** A plain-text table: first row is the header, columns after the first are right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

export function statsRow(label: string, s: Stats): string[] {
  return [label, String(s.n), ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max)];
}

export const STATS_HEADER = ['', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'];
