// Risk-tiered approvals (issue 9 §3), end to end: a plan that deletes or replaces data or changes permissions
// needs the stage's destructive rule (its reviewers, its quorum); a harmless plan needs the normal rule.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import {
  allText,
  configYaml,
  DEV_ACCOUNT,
  PROD_TEMPLATE,
  replies,
  type Scenario,
  startScenario,
} from '../support/scenario.js';

/** prod: 1 approval from Alice, Bob or the leads; 2 from Alice or the leads when the plan is destructive. */
const TIERED = configYaml({ required: 1 }).replace(
  'expiresAfter: 4h',
  'expiresAfter: 4h\n          destructive: { required: 2, reviewers: [U0ALICE, S0LEADS] }',
);

describe('risk-tiered approvals', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('a destructive plan needs the destructive rule: its reviewers only, and its two approvals', async () => {
    expect(TIERED).toContain('destructive: { required: 2');
    s = await startScenario({ redisUrl: inject('redisUrl'), config: TIERED });
    // dev drops OldQueue, replaces UsersTable and broadens AppRole's policy.
    const { summary, id, ts } = await s.plan();
    const text = allText(summary.blocks);
    expect(text).toContain(
      '⚠ *2 approvals* (destructive rule): this plan deletes `OldQueue`, replaces `UsersTable` and changes permissions of `AppRole`',
    );
    expect(text).toMatch(/Needs 2 approvals from <@U0ALICE>, <!subteam\^S0LEADS>/);
    expect(summary.text).toContain('needs 2 approvals (destructive rule)');

    // Bob reviews under the normal rule only: refused, told whom to ask.
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const refusal = await s.slack.waitFor(() => replies(s!.slack, /not a reviewer for api\/prod/)[0]);
    expect(refusal).toContain('ask <@U0ALICE>, <!subteam^S0LEADS>');
    expect(refusal).not.toContain('U0BOB');

    // The first approval leaves it waiting; the second executes.
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
    await s.click(ACTION.approve, id, 'U0LEAD1', ts);
    const final = await s.finalReply(ts);
    expect(final.text).toMatch(/Promoted api to prod/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });

  it('a harmless plan needs only the normal rule: one approval, from any of its reviewers', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), config: TIERED });
    // dev runs prod's template with new function code only.
    const harmless = PROD_TEMPLATE.replace('"ZipFile":"v1"', '"ZipFile":"v2"');
    expect(harmless).not.toBe(PROD_TEMPLATE);
    s.aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: harmless,
      parameters: { Env: 'dev', MemorySize: '256' },
    });
    const { summary, id, ts } = await s.plan();
    const text = allText(summary.blocks);
    expect(text).not.toContain('destructive rule');
    expect(text).toMatch(/Needs 1 approval from <@U0ALICE>, <@U0BOB>, <!subteam\^S0LEADS>/);
    // Bob, a reviewer of the normal rule only, is enough.
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const final = await s.finalReply(ts);
    expect(final.text).toMatch(/Promoted api to prod/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });
});
