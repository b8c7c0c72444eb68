// Slack's budgets in the port (src/slack/budgets.ts, src/budgets.ts) against the fake Slack enforcing the same
// per-method tiers with HTTP 429. Budgets and the fake's tiers run on one virtual clock that only waiting for a
// budget moves, so these tests count calls and look at their order, never at time.
import { LogLevel } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { createBudgets } from '../../src/budgets.js';
import { DEFAULT_SLACK_LIMITS, slackBucketSpecs, slackBudgets } from '../../src/slack/budgets.js';
import { createSlackClient, createSlackPort, type SlackPort } from '../../src/slack/port.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';

const started: FakeSlack[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.close()));
});

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Slack's published tiers, enforced by the fake on the virtual clock. */
const TIERS = {
  'chat.update': { perMinute: 50, burst: 5 },
  'chat.postMessage': { perMinute: 60, burst: 3, perChannel: true },
};

async function world(replicas = 1): Promise<{ fake: FakeSlack; ports: SlackPort[]; clock: () => number }> {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const now = () => clock;
  const fake = await startFakeSlack({ tiers: TIERS, now });
  started.push(fake);
  const store = createMemoryStore({ now }); // one store: the replicas share its buckets, as through Redis
  // Time moves only while a budget waits, and only once every call it let through has reached the fake: a call
  // still on its way is not made "late" by the virtual clock (on the real one it is a millisecond).
  let granted = 0;
  const budgeted = new Set(['chat.update', 'chat.postMessage']);
  const arrived = () => fake.calls.filter((c) => budgeted.has(c.method)).length;
  const observer = { granted: () => void granted++, throttled: () => undefined, factor: () => undefined };
  const sleep = async (ms: number) => {
    const until = clock + ms;
    while (arrived() < granted) await realSleep(1);
    clock = Math.max(clock, until);
    await realSleep(0);
  };
  const ports = Array.from({ length: replicas }, () => {
    const budgets = createBudgets({ store, now, sleep, observer });
    const client = createSlackClient(fake.token, { slackApiUrl: fake.url, logLevel: LogLevel.ERROR });
    return createSlackPort(client, { budgets: slackBudgets(budgets), retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  });
  return { fake, ports, clock: now };
}

const rateLimited = (fake: FakeSlack) => fake.calls.filter((c) => c.status === 429);

describe('Slack budgets', () => {
  it('fifty executions on two replicas, ten in one channel: no 429, every final update and reply delivered', async () => {
    const { fake, ports } = await world(2);
    const executions = Array.from({ length: 50 }, (_, i) => ({
      i,
      port: ports[i % 2]!,
      channel: i < 10 ? 'C0BUSY' : `C0CH${i % 8}`,
    }));
    // Each posts its progress message, then ten progress updates, a failure reply for some, the final progress
    // and the final reply.
    const progress = await Promise.all(
      executions.map(async (e) => ({
        ...e,
        ts: (await e.port.post({ channel: e.channel, thread_ts: '1.0', text: `progress ${e.i}: 0/60` })).ts,
      })),
    );
    const pending: Promise<unknown>[] = [];
    for (let round = 1; round <= 10; round++) {
      for (const e of progress) {
        pending.push(
          e.port.update(
            { channel: e.channel, ts: e.ts, text: `progress ${e.i}: ${round * 6}/60` },
            { coalesce: true, priority: 'progress' },
          ),
        );
        if (round === 5 && e.i % 7 === 0) {
          pending.push(
            e.port.post({ channel: e.channel, thread_ts: '1.0', text: `failed ${e.i}` }, { priority: 'failure' }),
          );
        }
      }
      await realSleep(5);
    }
    for (const e of progress) {
      pending.push(e.port.update({ channel: e.channel, ts: e.ts, text: `progress ${e.i}: done` }, { coalesce: true }));
      pending.push(
        e.port.post({ channel: e.channel, thread_ts: '1.0', text: `final ${e.i}` }, { untilDelivered: true }),
      );
    }
    await Promise.all(pending);

    expect(rateLimited(fake)).toEqual([]);
    for (const e of progress) {
      const m = fake.messages.find((x) => x.ts === e.ts)!;
      expect(m.text).toBe(`progress ${e.i}: done`);
      expect(fake.messages.some((x) => x.text === `final ${e.i}`)).toBe(true);
    }
    // Intermediate progress that was still waiting was replaced by newer progress, not sent.
    const updates = fake.calls.filter((c) => c.method === 'chat.update').length;
    expect(updates).toBeLessThan(50 * 11);
    expect(updates).toBeGreaterThanOrEqual(50);
  });

  it('sends state changes before failures and failures before progress when the budget is short', async () => {
    const { fake, ports } = await world();
    const [port] = ports as [SlackPort];
    const ts: string[] = [];
    for (let i = 0; i < 8; i++) ts.push((await port.post({ channel: `C${i}`, text: `m${i}` })).ts);
    // The burst of 5 goes at once…
    for (const i of [0, 1, 2, 3, 4]) {
      await port.update(
        { channel: `C${i}`, ts: ts[i]!, text: `progress ${i}` },
        { coalesce: true, priority: 'progress' },
      );
    }
    // …then the budget is short: these wait, and go by priority, not in the order they were made.
    await Promise.all([
      port.update({ channel: 'C5', ts: ts[5]!, text: 'progress 5' }, { coalesce: true, priority: 'progress' }),
      port.update({ channel: 'C6', ts: ts[6]!, text: 'failure 6' }, { priority: 'failure' }),
      port.update({ channel: 'C7', ts: ts[7]!, text: 'state 7' }),
    ]);
    const order = fake.calls.filter((c) => c.method === 'chat.update').map((c) => c.args.text);
    expect(order).toEqual([
      'progress 0',
      'progress 1',
      'progress 2',
      'progress 3',
      'progress 4',
      'state 7',
      'failure 6',
      'progress 5',
    ]);
    expect(rateLimited(fake)).toEqual([]);
  });

  it('a progress update whose due time has come goes as urgent, ahead of urgent updates due later', async () => {
    const { fake, ports } = await world();
    const [port] = ports as [SlackPort];
    const ts: string[] = [];
    for (let i = 0; i < 4; i++) ts.push((await port.post({ channel: `C${i}`, text: `m${i}` })).ts);
    for (let i = 0; i < 5; i++) await port.update({ channel: 'C0', ts: ts[0]!, text: `burst ${i}` });
    // The budget is short now. A summary may wait a minute; one thread has shown nothing for longer than it
    // should (due a second ago), another is not due yet (Date.now's clock, as the workflows use it).
    const now = Date.now();
    await Promise.all([
      port.update({ channel: 'C1', ts: ts[1]!, text: 'summary' }, { due: () => now + 60_000 }),
      port.update(
        { channel: 'C2', ts: ts[2]!, text: 'silent thread' },
        { coalesce: true, priority: 'progress', due: () => now - 1_000 },
      ),
      port.update(
        { channel: 'C3', ts: ts[3]!, text: 'recent thread' },
        { coalesce: true, priority: 'progress', due: () => now + 60_000 },
      ),
    ]);
    const order = fake.calls.filter((c) => c.method === 'chat.update').map((c) => c.args.text);
    expect(order.slice(5)).toEqual(['silent thread', 'summary', 'recent thread']);
    expect(rateLimited(fake)).toEqual([]);
  });

  it('coalesces waiting progress updates of one message into the newest, keeping the highest priority', async () => {
    const { fake, ports } = await world();
    const [port] = ports as [SlackPort];
    const { ts } = await port.post({ channel: 'C1', text: 'start' });
    await port.update({ channel: 'C1', ts, text: 'p0' }, { coalesce: true, priority: 'progress' });
    // Made while the first of them still waits to be sent: one update, with the newest content.
    const made = [
      port.update({ channel: 'C1', ts, text: 'p1' }, { coalesce: true, priority: 'progress' }),
      port.update({ channel: 'C1', ts, text: 'p2' }, { coalesce: true, priority: 'progress' }),
      port.update({ channel: 'C1', ts, text: 'final' }, { coalesce: true }),
    ];
    await Promise.all(made);
    const texts = fake.calls.filter((c) => c.method === 'chat.update').map((c) => c.args.text);
    expect(texts).toEqual(['p0', 'final']);
    expect(fake.messages.find((m) => m.ts === ts)?.text).toBe('final');
  });

  it('an updateLatest held by the budget renders again when it goes: one call shows the updates made meanwhile', async () => {
    const { fake, ports } = await world();
    const [port] = ports as [SlackPort];
    const { ts } = await port.post({ channel: 'C1', text: 'v0' });
    // The burst goes to other messages; the summary's updates then wait for the budget.
    for (let i = 0; i < 5; i++) {
      const other = await port.post({ channel: `C${i + 2}`, text: 'x' });
      await port.update({ channel: `C${i + 2}`, ts: other.ts, text: 'y' });
    }
    // As the summary does (src/workflows/summary-message.ts): render the stored version unless it was shown.
    let version = 1;
    let shown = 0;
    const renders: number[] = [];
    const refresh = async () => {
      let rendered = 0;
      await port.updateLatest({ channel: 'C1', ts }, async () => {
        renders.push(version);
        rendered = 0;
        if (version <= shown) return undefined;
        rendered = version;
        return { text: `v${version}` };
      });
      shown = Math.max(shown, rendered);
    };
    const first = refresh();
    await fake.waitFor(() => renders.length === 1);
    version = 2; // a second approval, then the execution's start, while the first update waits
    const second = first.then(refresh); // the summary's updates of one operation queue one behind the other
    version = 3;
    await Promise.all([first, second]);
    const updates = fake.calls.filter((c) => c.method === 'chat.update' && c.args.ts === ts).map((c) => c.args.text);
    expect(updates).toEqual(['v3']);
    expect(fake.messages.find((m) => m.ts === ts)?.text).toBe('v3');
    expect(renders).toEqual([1, 3, 3]); // before the wait, when it went, and the second finding v3 shown
  });

  it('without budgets the fake’s tiers answer 429 under the same load (the test can fail)', async () => {
    const fake = await startFakeSlack({ tiers: TIERS });
    started.push(fake);
    const client = createSlackClient(fake.token, { slackApiUrl: fake.url, logLevel: LogLevel.ERROR });
    const port = createSlackPort(client, { retry: { baseDelayMs: 1, maxDelayMs: 5, attempts: 1 } });
    const { ts } = await port.post({ channel: 'C1', text: 'start' });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => port.update({ channel: 'C1', ts, text: `p${i}` })),
    );
    expect(rateLimited(fake).length).toBeGreaterThan(0);
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
  });

  it('derives its buckets from Slack’s tiers, and from the settings', () => {
    expect(DEFAULT_SLACK_LIMITS).toEqual({ updatesPerMinute: 50, postsPerSecondPerChannel: 1 });
    expect(slackBucketSpecs({ updatesPerMinute: undefined })).toEqual({
      update: { ratePerSec: 45 / 60, burst: 5 },
      post: { ratePerSec: 1, burst: 3 },
    });
    // Burst and rate together never pass the per-minute figure in any 60 s, whatever the setting.
    for (const perMinute of [5, 10, 30, 50, 100, 600]) {
      const { update } = slackBucketSpecs({ updatesPerMinute: perMinute });
      expect(update.burst + update.ratePerSec * 60).toBeCloseTo(perMinute, 9);
      expect(update.ratePerSec).toBeGreaterThan(0);
    }
    expect(slackBucketSpecs({ updatesPerMinute: 0.5 }).update).toEqual({ ratePerSec: 0.5 / 60, burst: 1 });
  });
});
