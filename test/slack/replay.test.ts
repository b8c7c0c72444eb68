// The future-timestamp check and the replay claim, as tables; the end-to-end behaviour is in
// test/e2e/signed-requests.test.ts.
import { describe, expect, it } from 'vitest';
import { tooFarAhead } from '../../src/slack/receiver.js';
import { type Delivery, deliveryOf, firstDelivery, replayTtlMs } from '../../src/slack/replay.js';
import { createMemoryStore } from '../../src/store/memory-store.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const secs = NOW / 1000;

describe('tooFarAhead', () => {
  it.each<[string, string | string[] | undefined, number | undefined]>([
    ['now', String(secs), undefined],
    ['5 minutes ahead exactly', String(secs + 300), undefined],
    ['5 minutes and 1 second ahead', String(secs + 301), 301_000],
    ['a day ahead', String(secs + 86_400), 86_400_000],
    ['an hour old (Bolt refuses it)', String(secs - 3600), undefined],
    ['missing (Bolt refuses it)', undefined, undefined],
    ['not a number (Bolt refuses it)', 'soon', undefined],
    ['a fraction (Bolt refuses it)', `${secs + 400}.5`, undefined],
    ['repeated header, first counts', [String(secs + 400), String(secs)], 400_000],
    ['surrounding spaces', ` ${secs + 400} `, 400_000],
  ])('%s', (_name, header, expected) => {
    expect(tooFarAhead(header, NOW)).toBe(expected);
  });
});

describe('replay claim', () => {
  const delivery = (signature: string, offsetSeconds = 0): Delivery => ({
    signature,
    timestampMs: NOW + offsetSeconds * 1000,
  });

  it.each<[string, number, number]>([
    ['sent now: the window plus a minute', 0, 360_000],
    ['dated 5 minutes ahead: valid for 10 more minutes', 300, 660_000],
    ['dated 4 minutes ago', -240, 120_000],
    ['dated 10 minutes ago (refused earlier anyway)', -600, 60_000],
  ])('remembers a signature %s', (_name, offset, ttl) => {
    expect(replayTtlMs(delivery('v0=a', offset), NOW)).toBe(ttl);
  });

  it('lets the first delivery through and stops a copy, whichever replica sees it', async () => {
    const store = createMemoryStore({ now: () => NOW });
    expect(await firstDelivery(store, 'replica-1', delivery('v0=abc'), NOW)).toBe(true);
    expect(await firstDelivery(store, 'replica-2', delivery('v0=abc'), NOW)).toBe(false);
    expect(await firstDelivery(store, 'replica-1', delivery('v0=abc'), NOW)).toBe(false);
    expect(await firstDelivery(store, 'replica-1', delivery('v0=def'), NOW)).toBe(true);
  });

  it('lets a copy through once its timestamp has left the window (Bolt refuses it by then)', async () => {
    let clock = NOW;
    const store = createMemoryStore({ now: () => clock });
    expect(await firstDelivery(store, 'r', delivery('v0=abc'), clock)).toBe(true);
    clock += 359_000;
    expect(await firstDelivery(store, 'r', delivery('v0=abc'), clock)).toBe(false);
    clock += 2_000;
    expect(await firstDelivery(store, 'r', delivery('v0=abc'), clock)).toBe(true);
  });

  it('always runs work that came without a signature (Socket Mode)', async () => {
    const store = createMemoryStore({ now: () => NOW });
    expect(deliveryOf({ retryNum: undefined })).toBeUndefined();
    expect(await firstDelivery(store, 'r', deliveryOf({}), NOW)).toBe(true);
    expect(await firstDelivery(store, 'r', deliveryOf({}), NOW)).toBe(true);
  });
});
