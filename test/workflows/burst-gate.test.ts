// The burst gate (src/workflows/burst-gate.ts) on vitest's fake timers: Date.now is its clock, and advancing the
// timers moves both.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBurstGate } from '../../src/workflows/burst-gate.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function world(o: { burst: number; windowMs: number; maxDeferMs: number }) {
  const gate = createBurstGate({ ...o, now: () => Date.now() });
  const ran: string[] = [];
  const job = (name: string) => () => ran.push(name);
  return { gate, ran, job };
}

describe('createBurstGate', () => {
  it('outside a burst runs a job in the next check phase, not synchronously', async () => {
    const { gate, ran, job } = world({ burst: 3, windowMs: 50, maxDeferMs: 200 });
    gate.run(job('a'));
    expect(ran).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual(['a']);
    vi.advanceTimersByTime(100);
    gate.run(job('b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual(['a', 'b']);
  });

  it('holds the jobs of a burst until requests have been calm for the window, then runs them in order', async () => {
    const { gate, ran, job } = world({ burst: 3, windowMs: 50, maxDeferMs: 1_000 });
    for (const name of ['a', 'b', 'c', 'd']) gate.run(job(name));
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual([]); // three arrivals within 50 ms: a burst, and the jobs before it wait too
    expect(gate.waiting).toBe(4);
    await vi.advanceTimersByTimeAsync(30);
    for (const name of ['e', 'f', 'g']) gate.run(job(name)); // the burst goes on: three more at 30 ms
    await vi.advanceTimersByTimeAsync(40);
    expect(ran).toEqual([]); // 70 ms: three arrivals in the last 50
    await vi.advanceTimersByTimeAsync(10);
    expect(ran).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']); // 80 ms: calm since 30
    gate.run(job('h'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ran.at(-1)).toBe('h');
    expect(gate.waiting).toBe(0);
  });

  it('never holds a job longer than maxDeferMs, however long the burst goes on', async () => {
    const { gate, ran, job } = world({ burst: 3, windowMs: 50, maxDeferMs: 200 });
    const start = Date.now();
    let ranAt: number | undefined;
    gate.run(() => {
      ranAt = Date.now();
      ran.push('first');
    });
    gate.run(job('second'));
    gate.run(job('third')); // three at once: a burst
    for (let i = 0; i < 30; i++) {
      gate.run(job(`n${i}`)); // a request every 10 ms: a burst that goes on for 300 ms
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(ranAt! - start).toBeGreaterThanOrEqual(200);
    expect(ranAt! - start).toBeLessThanOrEqual(210);
    // each later job likewise, in the order they came, while the burst still goes on
    expect(ran.slice(0, 4)).toEqual(['first', 'second', 'third', 'n0']);
    expect(ran).not.toContain('n29');
  });

  it('flush runs every job still waiting at once, in order, and nothing runs twice', async () => {
    const { gate, ran, job } = world({ burst: 3, windowMs: 50, maxDeferMs: 1_000 });
    for (const name of ['a', 'b', 'c', 'd']) gate.run(job(name));
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual([]);
    gate.flush();
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.waiting).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
  });
});
