// Request budgets (src/budgets.ts) over the in-memory store on a virtual clock: waiting advances the clock, so
// these tests count grants and look at their order, never at how long anything took.
import { describe, expect, it } from 'vitest';
import {
  type BudgetObserver,
  cloudFormationBudgetSpec,
  createBudgets,
  PREPAID_TOKEN_MS,
  PRIORITY,
} from '../src/budgets.js';
import { budgetObserver, createMetrics } from '../src/metrics.js';
import { createMemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/types.js';

function world() {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const store = createMemoryStore({ now: () => clock });
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock += ms;
    await Promise.resolve();
  };
  return { store, sleep, sleeps, now: () => clock };
}

function recorder(): BudgetObserver & { granted_: number; throttles: number; factors: number[] } {
  const r = {
    granted_: 0,
    throttles: 0,
    factors: [] as number[],
    granted() {
      r.granted_++;
    },
    throttled() {
      r.throttles++;
    },
    factor(_: string, f: number) {
      r.factors.push(f);
    },
  };
  return r;
}

describe('createBudgets', () => {
  it('lets a burst through at once, then serves waiters by priority, then in the order they came', async () => {
    const w = world();
    const budgets = createBudgets({ store: w.store, sleep: w.sleep });
    const b = budgets.get('test', 'budget:t', { ratePerSec: 1, burst: 2 });
    const order: string[] = [];
    const take = (name: string, priority: number) => b.take(priority).then(() => order.push(name));
    await take('first', PRIORITY.urgent);
    await take('second', PRIORITY.urgent);
    await Promise.all([
      take('progress-a', PRIORITY.progress),
      take('progress-b', PRIORITY.progress),
      take('failure', PRIORITY.failure),
      take('urgent', PRIORITY.urgent),
    ]);
    // The first two found tokens at once; the rest waited and went by priority, then by arrival.
    expect(order).toEqual(['first', 'second', 'urgent', 'failure', 'progress-a', 'progress-b']);
    // A second each for the urgent and the failure; progress leaves a token in the bucket: progress-a waits for
    // two (two sleeps, each at most maxWaitMs), progress-b for the one it took.
    expect(w.sleeps).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  it('reads a priority function each time it picks the next waiter', async () => {
    const w = world();
    const b = createBudgets({ store: w.store, sleep: w.sleep }).get('test', 'budget:p', { ratePerSec: 1, burst: 1 });
    await b.take();
    let raised: number = PRIORITY.progress;
    const order: string[] = [];
    const done = Promise.all([
      b.take(PRIORITY.failure).then(() => order.push('failure')),
      b.take(() => raised).then(() => order.push('raised')),
    ]);
    raised = PRIORITY.urgent; // e.g. a queued progress update replaced by the final one
    await done;
    expect(order).toEqual(['raised', 'failure']);
  });

  it('serves waiters of one priority earliest due first; one without a due time is due when it came', async () => {
    const w = world();
    const b = createBudgets({ store: w.store, sleep: w.sleep, now: w.now }).get('test', 'budget:due', {
      ratePerSec: 1,
      burst: 1,
    });
    await b.take();
    const order: string[] = [];
    let shownAt = w.now(); // e.g. when a thread last showed progress; read whenever the next waiter is chosen
    const done = Promise.all([
      b.take(PRIORITY.urgent, () => 60_000).then(() => order.push('patient')), // a summary: due in a minute
      b.take(PRIORITY.urgent).then(() => order.push('now')), // a final reply: due when made
      b.take(PRIORITY.urgent, () => shownAt + 8_000 - w.now()).then(() => order.push('moving')),
      b.take(PRIORITY.urgent, () => 30_000).then(() => order.push('half')),
      b.take(PRIORITY.progress, () => -1_000_000).then(() => order.push('lower')), // overdue, lower priority
    ]);
    shownAt += 40_000; // shown meanwhile: due later than the half-minute one
    await done;
    expect(order).toEqual(['now', 'half', 'moving', 'patient', 'lower']);
  });

  it('serves takers in turn: a taker that was served queues behind the others, so none starves', async () => {
    const w = world();
    const b = createBudgets({ store: w.store, sleep: w.sleep }).get('test', 'budget:rr', { ratePerSec: 2, burst: 1 });
    const served: number[] = [];
    const taker = async (id: number) => {
      for (let i = 0; i < 5; i++) {
        await b.take(PRIORITY.progress);
        served.push(id);
      }
    };
    await Promise.all([0, 1, 2, 3].map(taker));
    expect(served).toHaveLength(20);
    // Every window of four grants serves each taker once.
    for (let i = 4; i + 4 <= served.length; i += 4) {
      expect(new Set(served.slice(i, i + 4)).size).toBe(4);
    }
  });

  it('a call that may wait leaves a token for calls that may not, of every replica (it cannot see their queues)', async () => {
    // A clock that moves only when the test says: both replicas' loops sleep until then.
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const store = createMemoryStore({ now: () => clock });
    let sleepers: Array<() => void> = [];
    const sleep = (_ms: number) => new Promise<void>((r) => sleepers.push(r));
    const tick = async (ms: number) => {
      clock += ms;
      const woken = sleepers;
      sleepers = [];
      for (const wake of woken) wake();
      for (let i = 0; i < 20; i++) await Promise.resolve();
    };
    const spec = { ratePerSec: 1, burst: 3 };
    const [a, b] = [createBudgets({ store, sleep }), createBudgets({ store, sleep })].map((r) =>
      r.get('slack:chat.postMessage', 'budget:channel', spec),
    );
    const order: string[] = [];
    // Replica B has notes to post (progress), queued first; replica A a final reply (urgent), a moment later.
    const notes = [1, 2, 3, 4].map((i) => b!.take(PRIORITY.progress).then(() => order.push(`note ${i}`)));
    await tick(0);
    expect(order).toEqual(['note 1', 'note 2']); // the third token of the burst is kept back
    const final = a!.take(PRIORITY.urgent).then(() => order.push('final reply'));
    await tick(0);
    expect(order).toEqual(['note 1', 'note 2', 'final reply']); // it took the token B's notes left
    for (let s = 0; s < 4; s++) await tick(1000);
    await Promise.all([...notes, final]);
    expect(order).toEqual(['note 1', 'note 2', 'final reply', 'note 3', 'note 4']);
  });

  it('a call not yet due leaves a token too, which a call already due takes', async () => {
    const store = createMemoryStore({ now: () => Date.parse('2026-01-01T00:00:00Z') });
    const never = () => new Promise<void>(() => undefined); // the clock stands still: only the kept token is left
    const [a, b] = [createBudgets({ store, sleep: never }), createBudgets({ store, sleep: never })].map((r) =>
      r.get('slack:chat.update', 'budget:due-reserve', { ratePerSec: 1, burst: 3 }),
    );
    const order: string[] = [];
    // Replica B's summary updates may wait a minute (urgent, due later); replica A's progress update is due now.
    for (const i of [1, 2, 3]) void b!.take(PRIORITY.urgent, () => 60_000).then(() => order.push(`summary ${i}`));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['summary 1', 'summary 2']);
    await a!.take(PRIORITY.urgent, () => -1_000).then(() => order.push('due progress'));
    expect(order).toEqual(['summary 1', 'summary 2', 'due progress']);
  });

  it('wakes a loop waiting for kept-back tokens when a call that may not wait comes', async () => {
    const store = createMemoryStore({ now: () => Date.parse('2026-01-01T00:00:00Z') });
    const never = () => new Promise<void>(() => undefined); // the clock stands still: only a wake-up helps
    const b = createBudgets({ store, sleep: never }).get('test', 'budget:wake', { ratePerSec: 1, burst: 2 });
    await b.take(PRIORITY.urgent); // one token left
    let noteServed = false;
    void b.take(PRIORITY.progress).then(() => {
      noteServed = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(noteServed).toBe(false); // it waits for two
    await expect(b.take(PRIORITY.urgent)).resolves.toBeGreaterThanOrEqual(0); // served from the kept-back token
    expect(noteServed).toBe(false);
  });

  it('shares one bucket between replicas: grants never exceed burst + rate × time', async () => {
    const w = world();
    const spec = { ratePerSec: 4, burst: 8 };
    const start = w.now();
    const replicas = [
      createBudgets({ store: w.store, sleep: w.sleep }),
      createBudgets({ store: w.store, sleep: w.sleep }),
    ];
    let granted = 0;
    await Promise.all(
      replicas.flatMap((r) =>
        Array.from({ length: 20 }, () =>
          r
            .get('cfn', 'budget:shared', spec)
            .take()
            .then(() => granted++),
        ),
      ),
    );
    expect(granted).toBe(40);
    const seconds = (w.now() - start) / 1000;
    expect(granted).toBeLessThanOrEqual(spec.burst + spec.ratePerSec * seconds + 1);
  });

  it('takes a token ahead from a bucket more than half full and spends it on the next call within PREPAID_TOKEN_MS', async () => {
    const w = world();
    const asked: number[] = [];
    const counting: Store = {
      ...w.store,
      takeToken: (key, spec, reserve, extra) => {
        asked.push(extra ?? 0);
        return w.store.takeToken(key, spec, reserve, extra);
      },
    };
    const observer = recorder();
    const b = createBudgets({ store: counting, sleep: w.sleep, now: w.now, observer }).get('cfn', 'budget:pre', {
      ratePerSec: 4,
      burst: 8,
    });
    await b.take(); // asks: 8 → 7, and one more ahead → 6
    await b.take(); // spends the token taken ahead
    expect(asked).toEqual([1]);
    expect(observer.granted_).toBe(2); // every call is counted, whoever paid for it
    await b.take(); // asks again (7.x → 5.x after its own and one ahead)
    expect(asked).toHaveLength(2);
    await w.sleep(PREPAID_TOKEN_MS); // the token taken ahead is dropped
    await b.take();
    expect(asked).toHaveLength(3);
    b.throttled(); // a throttle drops it too
    await b.take();
    expect(asked.length).toBeGreaterThan(3);
  });

  it('takes no token ahead from a bucket at half its burst or less: every call asks the shared bucket', async () => {
    const w = world();
    const extras: number[] = [];
    const counting: Store = {
      ...w.store,
      takeToken: async (key, spec, reserve, extra) => {
        const grant = await w.store.takeToken(key, spec, reserve, extra);
        extras.push(grant.extra);
        return grant;
      },
    };
    const b = createBudgets({ store: counting, sleep: w.sleep, now: w.now }).get('cfn', 'budget:short', {
      ratePerSec: 1,
      burst: 4,
    });
    await Promise.all([b.take(), b.take(), b.take(), b.take(), b.take(), b.take()]);
    // 4 → 3 and one ahead → 2 (half the burst); the second call spends it; then 2 → 1 → 0 with none ahead, and
    // the last two calls are each refused once (a token a second) before they are granted.
    expect(extras).toEqual([1, 0, 0, 0, 0, 0, 0]);
  });

  it('halves the rate on a throttled answer and tells the observer', async () => {
    const w = world();
    const observer = recorder();
    const b = createBudgets({ store: w.store, sleep: w.sleep, observer }).get('test', 'budget:th', {
      ratePerSec: 10,
      burst: 5,
    });
    await b.take();
    b.throttled();
    await b.take();
    expect(observer.throttles).toBe(1);
    expect(observer.granted_).toBe(2);
    expect(Math.min(...observer.factors)).toBeCloseTo(0.5, 1);
  });

  it('keeps working on a bucket of its own when the store fails', async () => {
    const w = world();
    const broken: Store = {
      ...w.store,
      takeToken: () => Promise.reject(new Error('store down')),
      slowDown: () => Promise.reject(new Error('store down')),
    };
    const errors: string[] = [];
    const b = createBudgets({ store: broken, sleep: w.sleep, onStoreError: (_, label) => errors.push(label) }).get(
      'cloudformation:1/eu-west-1',
      'budget:down',
      { ratePerSec: 1, burst: 3 },
    );
    await b.take();
    await b.take();
    expect(errors).toEqual(['cloudformation:1/eu-west-1', 'cloudformation:1/eu-west-1']);
  });

  it('returns the same budget for the same key', () => {
    const w = world();
    const budgets = createBudgets({ store: w.store, sleep: w.sleep });
    expect(budgets.get('a', 'k', { ratePerSec: 1, burst: 1 })).toBe(budgets.get('a', 'k', { ratePerSec: 1, burst: 1 }));
  });

  it.each([
    [undefined, { ratePerSec: 4, burst: 8 }],
    [0.5, { ratePerSec: 0.5, burst: 2 }],
    [10, { ratePerSec: 10, burst: 20 }],
  ])('CloudFormation budget for %s calls a second', (rate, spec) => {
    expect(cloudFormationBudgetSpec(rate)).toEqual(spec);
  });
});

describe('budget metrics', () => {
  it('shows calls, waits, throttles and the rate factor per budget in /metrics', async () => {
    const w = world();
    const metrics = createMetrics({ defaultMetrics: false });
    const b = createBudgets({ store: w.store, sleep: w.sleep, now: w.now, observer: budgetObserver(metrics) }).get(
      'cloudformation:111111111111/eu-west-1',
      'budget:m',
      { ratePerSec: 1, burst: 1 },
    );
    await b.take();
    await b.take(); // waits about a second on the virtual clock
    b.throttled();
    await b.take();
    const text = await metrics.registry.metrics();
    const label = 'budget="cloudformation:111111111111/eu-west-1"';
    expect(text).toContain(`promote_bot_budget_calls_total{${label}} 3`);
    expect(text).toContain(`promote_bot_budget_throttles_total{${label}} 1`);
    expect(text).toContain(`promote_bot_budget_wait_seconds_count{${label}} 3`);
    const sum = Number(text.match(new RegExp(`promote_bot_budget_wait_seconds_sum\\{${label}\\} ([\\d.]+)`))?.[1]);
    expect(sum).toBeGreaterThan(0);
    const factor = Number(text.match(new RegExp(`promote_bot_budget_rate_factor\\{${label}\\} ([\\d.]+)`))?.[1]);
    expect(factor).toBeGreaterThan(0);
    expect(factor).toBeLessThan(1);
  });
});
