// Faults at the edges (issue 7's fault suite): AWS refusing or throttling or hanging, Slack rate-limiting or
// failing, and two replicas under many promotions. Each operation still ends exactly once, says so in its
// thread, and gives its lock back.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { configYaml, PROD_ACCOUNT, type Scenario, stackUpdates, startScenario } from '../support/scenario.js';
import { FINISH_MS, promoteCleanly, sleep } from './harness.js';

/** The scenario's config with one approval, and a short AWS request timeout for the hung-call case. */
const oneApproval = (extraSettings = '') =>
  configYaml({ required: 1 }).replace('settings:\n', `settings:\n${extraSettings}`);

async function approve(s: Scenario): Promise<{ id: string; ts: string }> {
  const { id, ts } = await s.plan();
  await s.click(ACTION.approve, id, 'U0ALICE', ts);
  return { id, ts };
}

/** Final replies (broadcast) in the thread of `ts`. */
const finals = (s: Scenario, ts: string) => s.slack.thread(ts).filter((m) => m.reply_broadcast === true);

describe('AWS faults', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('AccessDenied on ExecuteChangeSet ends the promotion at once, names the action, frees the lock, never runs it later', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), config: oneApproval() });
    s.aws.deny('ExecuteChangeSet', { account: PROD_ACCOUNT });
    const { ts } = await approve(s);
    const final = await s.finalReply(ts, FINISH_MS);
    expect(final.text).toMatch(/Not executed/);
    expect(final.text).toMatch(/cloudformation:ExecuteChangeSet/);
    expect(final.text).toMatch(/333333333333/);
    // Fixing the permission later never runs the old approval.
    s.aws.allow('ExecuteChangeSet');
    await sleep(2_000);
    expect(stackUpdates(s)).toBe(0);
    expect(finals(s, ts)).toHaveLength(1);
    await promoteCleanly(s); // the lock was given back
  });

  it('a throttling storm during the execution slows the follower down but it ends and reports once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), config: oneApproval(), aws: { eventIntervalMs: 100 } });
    const { ts } = await approve(s);
    await s.slack.waitFor(() => s!.aws.callsOf('ExecuteChangeSet').length > 0, 15_000);
    s.aws.throttleFor(4_000);
    const final = await s.finalReply(ts, FINISH_MS + 10_000);
    expect(final.text).toMatch(/Promoted api to prod/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    await sleep(1_000);
    expect(finals(s, ts)).toHaveLength(1);
  });

  it('a hung DescribeStackEvents times out and the follower carries on to the end', async () => {
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      config: oneApproval('  awsRequestTimeout: 1s\n'),
      aws: { eventIntervalMs: 100 },
    });
    const { ts } = await approve(s);
    await s.slack.waitFor(() => s!.aws.callsOf('ExecuteChangeSet').length > 0, 15_000);
    s.aws.hang('DescribeStackEvents', 2);
    const final = await s.finalReply(ts, FINISH_MS);
    expect(final.text).toMatch(/Promoted api to prod/);
    expect(stackUpdates(s)).toBe(1);
  });
});

describe('Slack faults', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('the final reply gets through 429, HTTP 500 and internal_error, and is posted once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), config: oneApproval() });
    const { id, ts } = await s.plan();
    // From the click on, the channel's posts fail in every way Slack fails for a while.
    s.slack.rateLimit('chat.postMessage', 1, 1);
    s.slack.failHttp('chat.postMessage', 500, 1);
    s.slack.failNext('chat.postMessage', 'internal_error');
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    const final = await s.finalReply(ts, FINISH_MS);
    expect(final.text).toMatch(/Promoted api to prod/);
    await sleep(1_000);
    expect(finals(s, ts)).toHaveLength(1);
    expect(stackUpdates(s)).toBe(1);
  });
});
