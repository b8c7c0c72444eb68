import { describe, expect, it } from 'vitest';
import { createSlots } from '../../src/workflows/slots.js';

/** A job that runs until its `finish` (or `fail`) is called, recording when it started. */
function gate(started: string[], name: string) {
  let finish!: (v: string) => void;
  let fail!: (e: Error) => void;
  const job = () => {
    started.push(name);
    return new Promise<string>((res, rej) => {
      finish = res;
      fail = rej;
    });
  };
  return { job, finish: () => finish(name), fail: (e: Error) => fail(e) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('slots', () => {
  it('runs at most `limit` jobs at once and starts the waiting ones in the order they came', async () => {
    const slots = createSlots(2);
    const started: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => gate(started, n));
    const results = [a!, b!, c!, d!].map((g) => slots.run(g.job).catch((e: Error) => e.message));
    await tick();
    expect(started).toEqual(['a', 'b']);
    expect([slots.running, slots.waiting]).toEqual([2, 2]);
    b!.finish();
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    a!.fail(new Error('a failed'));
    await tick();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    c!.finish();
    d!.finish();
    expect(await Promise.all(results)).toEqual(['a failed', 'b', 'c', 'd']);
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it('gives the slot back when a job throws before returning its promise', async () => {
    const slots = createSlots(1);
    await expect(
      slots.run(() => {
        throw new Error('at once');
      }),
    ).rejects.toThrow('at once');
    await expect(slots.run(async () => 'next')).resolves.toBe('next');
    expect(slots.running).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %s', (limit) => {
    expect(() => createSlots(limit)).toThrow(/whole number/);
  });
});
