// Approvals through buttons, exactly-once execution and progress in the thread, end to end.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { SIGNING_SECRET } from '../support/bot.js';
import {
  allText,
  configYaml,
  DEV_TEMPLATE,
  PROD_ACCOUNT,
  promotionIdOf,
  REQUESTER,
  replies,
  type Scenario,
  stackUpdates,
  startScenario,
  summaries,
} from '../support/scenario.js';
import { sendViewSubmission } from '../support/slack-driver.js';

describe('approving and executing a promotion', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('executes once after two reviewers approve, reports progress in the thread and ends in success', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();

    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);

    // A member of the S0LEADS group counts as a reviewer.
    await s.click(ACTION.approve, id, 'U0LEAD1', ts);
    const final = await s.slack.waitFor(
      () => s!.slack.thread(ts).find((m) => m.reply_broadcast && /succeeded|Promoted/i.test(m.text ?? '')),
      20_000,
    );
    expect(final.text).toMatch(/prod/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    const exec = s.aws.callsOf('ExecuteChangeSet')[0]!;
    expect(exec.params.ClientRequestToken).toContain(id);
    expect(exec.params.DisableRollback).toBe('false');

    // prod now runs dev's template, keeping its own parameters.
    const prod = s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!;
    expect(prod.status).toBe('UPDATE_COMPLETE');
    expect(JSON.parse(prod.template)).toEqual(JSON.parse(DEV_TEMPLATE));
    expect(prod.parameters.Env).toBe('prod');

    // One progress message, updated in place; the summary ends without buttons.
    const progress = s.slack.thread(ts).filter((m) => /Executing|resources/i.test(m.history[0]?.text ?? ''));
    expect(progress).toHaveLength(1);
    const summary = s.slack.messages.find((m) => m.ts === ts)!;
    expect(allText(summary.blocks)).not.toContain(ACTION.approve);
    expect(allText(summary.blocks)).toMatch(/U0LEAD1/);
  });

  it('refuses self-approval and non-reviewers, and counts a reviewer once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await s.promote('api dev→prod', 'U0BOB');
    const summary = await s.slack.waitFor(() => summaries(s!.slack).find((m) => promotionIdOf(m.blocks)), 15_000);
    const id = promotionIdOf(summary.blocks)!;
    const ts = summary.ts;
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => replies(s!.slack, /cannot approve/)[0]);
    await s.click(ACTION.approve, id, 'U0MALLORY', ts);
    const notReviewer = await s.slack.waitFor(() => replies(s!.slack, /not a reviewer for api\/prod/)[0]);
    expect(notReviewer).toContain('<@U0ALICE>');
    expect(notReviewer).toContain('<!subteam^S0LEADS>');
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.slack.waitFor(() => replies(s!.slack, /approved this already/)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
  });

  it('never executes a rejected promotion, deletes its change set and releases the lock', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.reject, id, 'U0BOB', ts);
    await s.slack.waitFor(() =>
      /Rejected/i.test(allText(s!.slack.messages.find((m) => m.ts === ts)?.blocks)) ? true : undefined,
    );
    await s.click(ACTION.approve, id, 'U0LEAD1', ts);
    await s.slack.waitFor(() => replies(s!.slack, /rejected/i)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);

    // The rejecter is asked why (optional); the reason lands on the message, escaped.
    const modal = await s.slack.waitFor(() => s!.slack.views[0]);
    const submit = (userId: string, value: string) =>
      sendViewSubmission({
        url: s!.bot.url,
        secret: SIGNING_SECRET,
        userId,
        callbackId: String(modal.view.callback_id),
        privateMetadata: String(modal.view.private_metadata),
        values: { reason: { reason: { type: 'plain_text_input', value } } },
      });
    await submit('U0ALICE', 'hijack');
    await s.slack.waitFor(() => s!.slack.ephemerals.find((e) => /Only the person who rejected/.test(e.text ?? '')));
    await submit('U0BOB', '<!channel> not during the freeze');
    const updated = await s.slack.waitFor(() => {
      const text = allText(s!.slack.messages.find((m) => m.ts === ts)?.blocks);
      return text.includes('not during the freeze') ? text : undefined;
    });
    expect(updated).toContain('&lt;!channel&gt; not during the freeze');
    expect(updated).not.toContain('hijack');
    await s.slack.waitFor(() => (s!.aws.callsOf('DeleteChangeSet').length > 0 ? true : undefined));
    // Lock released: a new promotion plans.
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => (summaries(s!.slack).length === 2 ? true : undefined), 15_000);
  });

  it('20 concurrent approve clicks from the reviewers execute exactly once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    const reviewers = ['U0ALICE', 'U0BOB', 'U0LEAD1', 'U0LEAD2'];
    await Promise.all(Array.from({ length: 20 }, (_, i) => s!.click(ACTION.approve, id, reviewers[i % 4]!, ts)));
    await s.finalReply(ts);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });

  it('reports the failed resource and the rollback when the execution fails', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    s.aws.scriptExecution('api-prod', {
      failResource: { logicalId: 'Fn', reason: 'Resource handler returned message: "<@U0ALL> boom"' },
    });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const final = await s.finalReply(ts);
    expect(final.text).toMatch(/UPDATE_ROLLBACK_COMPLETE|rolled back/i);
    const failed = s.slack.thread(ts).find((m) => /Fn/.test(m.text ?? '') && /boom/.test(m.text ?? ''));
    expect(failed?.text).toContain('&lt;@U0ALL&gt;');
    expect(failed?.text).not.toContain('<@U0ALL>');
  });

  it('reports the failed resource on a CloudFormation whose events carry no ClientRequestToken (an emulator)', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), aws: { eventTokens: false } });
    s.aws.scriptExecution('api-prod', { failResource: { logicalId: 'Fn', reason: 'handler said boom' } });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const final = await s.finalReply(ts);
    expect(final.text).toMatch(/UPDATE_ROLLBACK_COMPLETE|rolled back/i);
    expect(s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.events.every((e) => !e.ClientRequestToken)).toBe(true);
    expect(s.slack.thread(ts).some((m) => /Fn/.test(m.text ?? '') && /handler said boom/.test(m.text ?? ''))).toBe(
      true,
    );
  });

  it('a stale plan is never executed: the target changed after planning', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    s.aws.startOutsideUpdate('api-prod', { durationMs: 100 });
    await new Promise((r) => setTimeout(r, 400));
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const msg = await s.slack.waitFor(() => s!.slack.thread(ts).find((m) => /Re-run/i.test(m.text ?? '')), 15_000);
    expect(msg.text).toMatch(/changed since the plan/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
  });

  it('the requester can cancel; a pending promotion expires when nobody decides', async () => {
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      config: configYaml().replace('expiresAfter: 4h', 'expiresAfter: 2s'),
    });
    const first = await s.plan();
    await s.click(ACTION.cancel, first.id, 'U0ALICE', first.ts);
    await s.slack.waitFor(() => replies(s!.slack, /Only <@U0REQ> can cancel/)[0]);
    await s.click(ACTION.cancel, first.id, REQUESTER, first.ts);
    await s.slack.waitFor(() =>
      /Cancelled/i.test(allText(s!.slack.messages.find((m) => m.ts === first.ts)?.blocks)) ? true : undefined,
    );

    await s.promote('api dev→prod');
    const second = await s.slack.waitFor(
      () => summaries(s!.slack).find((m) => m.ts !== first.ts && promotionIdOf(m.blocks)),
      15_000,
    );
    const secondId = promotionIdOf(second.blocks)!;
    await s.slack.waitFor(
      () => (/expired/i.test(allText(s!.slack.messages.find((m) => m.ts === second.ts)?.blocks)) ? true : undefined),
      15_000,
    );
    await s.click(ACTION.approve, secondId, 'U0ALICE', second.ts);
    await s.slack.waitFor(() => replies(s!.slack, /expired/i)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
  });
});

describe('surviving restarts', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('killed while awaiting approval: after a restart the buttons still work and it executes once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    await s.restart('SIGKILL');
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.finalReply(ts);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });

  it('killed during execution: the restarted bot reports the final result', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), aws: { eventIntervalMs: 150 } });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => (s!.aws.callsOf('ExecuteChangeSet').length ? true : undefined), 15_000);
    await s.restart('SIGKILL');
    const final = await s.slack.waitFor(() => s!.slack.thread(ts).find((m) => m.reply_broadcast), 30_000);
    expect(final.text).toMatch(/prod/);
    expect(s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.status).toBe('UPDATE_COMPLETE');
    expect(s.slack.thread(ts).filter((m) => m.reply_broadcast)).toHaveLength(1);
    expect(stackUpdates(s)).toBe(1);
  });
});

describe('rate limits and throttling', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('Slack 429s and CloudFormation throttling slow things down but lose and double nothing', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    s.aws.throttle('DescribeChangeSet', 3);
    const { id, ts } = await s.plan();
    s.aws.throttle('DescribeStackEvents', 3);
    s.slack.rateLimit('chat.update', 2, 1);
    s.slack.rateLimit('chat.postMessage', 1, 1);
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const finals = await s.slack.waitFor(() => {
      const f = s!.slack.thread(ts).filter((m) => m.reply_broadcast);
      return f.length ? f : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.slack.thread(ts).filter((m) => m.reply_broadcast)).toHaveLength(finals.length);
    expect(finals).toHaveLength(1);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });
});
