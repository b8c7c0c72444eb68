// Redis taken away under a running promotion: stopped for 30 s while it waits for approval, while it executes
// and while it finishes; frozen while it executes; restarted empty. Uses a redis-server of this file's own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { PROD_ACCOUNT, promotionIdOf, type Scenario, stackUpdates, startScenario } from '../support/scenario.js';
import { acceptedWithin, expectRan, mark, replyMatching, sleep } from './harness.js';
import { type OwnRedis, startOwnRedis } from './redis.js';

/** Issue 7: "Redis stopped for 30 s". */
const OUTAGE_MS = 30_000;

describe('Redis stopped, frozen or emptied under a promotion', () => {
  let redis: OwnRedis;
  let s: Scenario | undefined;
  beforeAll(async () => {
    redis = await startOwnRedis();
  });
  afterAll(async () => {
    await redis.close();
  });
  afterEach(async () => {
    redis.resume();
    await redis.start();
    await s?.close();
    s = undefined;
  });

  /** Plans and records the first of two approvals. */
  async function planAndApproveOnce(sc: Scenario) {
    const { id, ts } = await sc.plan();
    const from = mark(sc);
    await sc.click(ACTION.approve, id, 'U0ALICE', ts);
    await replyMatching(sc, /1 more approval needed/, from);
    return { id, ts };
  }

  it('stopped 30 s while waiting for approval: a click meanwhile is told to retry; afterwards it runs once', async () => {
    s = await startScenario({ redisUrl: redis.url });
    const { id, ts } = await planAndApproveOnce(s);
    await redis.stop();
    const from = mark(s);
    const approvedAt = Date.now();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    // The clicker gets an instruction, not a stack trace.
    const told = await replyMatching(s, /./, from, 20_000);
    expect(told).not.toMatch(/Something went wrong|Error:/);
    await sleep(OUTAGE_MS);
    await redis.start();
    // Either the click was kept and runs now, or it is clicked again.
    await sleep(3_000);
    if (!s.slack.thread(ts).some((m) => m.reply_broadcast)) await s.click(ACTION.approve, id, 'U0BOB', ts);
    await expectRan(s, 'promote', ts, approvedAt);
  });

  it('stopped 30 s while executing: the execution is followed to its end and reported once', async () => {
    s = await startScenario({ redisUrl: redis.url, aws: { eventIntervalMs: 150 } });
    const { id, ts } = await planAndApproveOnce(s);
    const approvedAt = Date.now();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => s!.aws.callsOf('ExecuteChangeSet').length > 0, 15_000);
    await redis.outage(OUTAGE_MS);
    await expectRan(s, 'promote', ts, approvedAt);
  });

  it('stopped 30 s while finishing: the finish effects are all done once Redis is back', async () => {
    s = await startScenario({ redisUrl: redis.url });
    const { id, ts } = await planAndApproveOnce(s);
    // The moment the follower sees the settled stack, Redis goes away (before the final state is recorded).
    let stopped = false;
    s.aws.onCall('DescribeStacks', () => {
      if (stopped || s!.aws.callsOf('ExecuteChangeSet').length === 0) return;
      if (s!.aws.stack('api-prod', undefined, PROD_ACCOUNT)?.status !== 'UPDATE_COMPLETE') return;
      stopped = true;
      void redis.stop();
    });
    const approvedAt = Date.now();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => stopped, 20_000);
    await sleep(OUTAGE_MS);
    await redis.start();
    await expectRan(s, 'promote', ts, approvedAt);
  });

  it('frozen (no answers at all) for 10 s while executing: the execution still ends and is reported once', async () => {
    s = await startScenario({ redisUrl: redis.url, aws: { eventIntervalMs: 150 } });
    const { id, ts } = await planAndApproveOnce(s);
    const approvedAt = Date.now();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => s!.aws.callsOf('ExecuteChangeSet').length > 0, 15_000);
    redis.freeze();
    await sleep(10_000);
    redis.resume();
    await expectRan(s, 'promote', ts, approvedAt);
  });

  it('restarted empty while waiting for approval: nothing executes, the buttons say the promotion is lost', async () => {
    s = await startScenario({ redisUrl: redis.url });
    const { id, ts } = await planAndApproveOnce(s);
    await redis.restartEmpty();
    await sleep(1_000);
    const from = mark(s);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const told = await replyMatching(s, /./, from, 20_000);
    expect(told).toMatch(/no longer known|lost|not known|unknown/i);
    await sleep(2_000);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
    expect(s.slack.thread(ts).some((m) => m.reply_broadcast)).toBe(false);
    // The stack is not left locked by a promotion nobody knows any more: a new one plans and runs once.
    const next = await acceptedWithin(s, 'promote', 30_000);
    expect(promotionIdOf(s.slack.messages.find((m) => m.ts === next.ts)?.blocks)).toBe(next.id);
    const approvedAt = Date.now();
    await s.click(ACTION.approve, next.id, 'U0ALICE', next.ts);
    await s.click(ACTION.approve, next.id, 'U0BOB', next.ts);
    await expectRan(s, 'promote', next.ts, approvedAt);
    expect(stackUpdates(s)).toBe(1);
  });
});
