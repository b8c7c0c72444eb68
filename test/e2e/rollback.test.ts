// /rollback end to end: releases recorded by promotions, re-applying one, cancelling an update in flight,
// continuing a failed rollback, the lighter approval rule, holds.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import {
  configYaml,
  DEV_ACCOUNT,
  DEV_TEMPLATE,
  PROD_ACCOUNT,
  PROD_TEMPLATE,
  promotionIdOf,
  REQUESTER,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';

/** Promotes dev to prod with two approvals and waits for the final reply. */
async function promoteAndWait(s: Scenario): Promise<void> {
  const { id, ts } = await s.plan();
  await s.click(ACTION.approve, id, 'U0ALICE', ts);
  await s.click(ACTION.approve, id, 'U0BOB', ts);
  await s.finalReply(ts);
}

/** The newest summary headed ROLLBACK. */
async function rollbackSummary(s: Scenario) {
  return s.slack.waitFor(
    () =>
      summaries(s.slack)
        .filter((m) => JSON.stringify(m.history[0]?.blocks ?? []).includes('ROLLBACK'))
        .at(-1),
    15_000,
  );
}

const prodStack = (s: Scenario) => s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!;

const rollbackSummaries = (s: Scenario) =>
  summaries(s.slack).filter((m) => JSON.stringify(m.history[0]?.blocks ?? []).includes('ROLLBACK'));

/** Runs /rollback, approves its new summary and waits for the end; returns the summary's first text. */
async function rollbackAndApprove(s: Scenario, text: string): Promise<string> {
  const before = rollbackSummaries(s).length;
  await s.rollback(text, 'U0ONCALL');
  const summary = await s.slack.waitFor(() => rollbackSummaries(s).slice(before)[0], 15_000);
  await s.click(ACTION.approve, promotionIdOf(summary.history[0]?.blocks)!, 'U0ALICE', summary.ts);
  await s.finalReply(summary.ts);
  return JSON.stringify(summary.history[0]?.blocks);
}

/** Makes api-dev run a new build, so the next promotion to prod is a new release. */
function newDevBuild(s: Scenario, zip: string): string {
  const t = JSON.parse(DEV_TEMPLATE);
  t.Resources.Fn.Properties.Code.ZipFile = zip;
  s.aws.putStack({
    name: 'api-dev',
    account: DEV_ACCOUNT,
    template: JSON.stringify(t),
    parameters: { Env: 'dev', MemorySize: '256' },
  });
  return JSON.stringify(t);
}

describe('/rollback', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('re-applies the previous release after one approval, then holds the stage until unheld', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await promoteAndWait(s);
    expect(JSON.parse(prodStack(s).template)).toEqual(JSON.parse(DEV_TEMPLATE));

    await s.promote('history api prod');
    const history = await s.slack.waitFor(() => replies(s!.slack, /Releases of api\/prod/)[0]);
    expect(history).toMatch(/by <@U0REQ>/);

    const ack = await s.rollback('api', 'U0ONCALL');
    expect(ack.status).toBe(200);
    const summary = await rollbackSummary(s);
    const text = JSON.stringify(summary.blocks);
    expect(text).toContain('data deleted since is not restored');
    // Re-adding the queue and renaming the table back: the rollback's own destructive warnings.
    expect(text).toMatch(/UsersTable/);
    const id = promotionIdOf(summary.blocks)!;
    await s.click(ACTION.approve, id, 'U0ALICE', summary.ts);
    await s.finalReply(summary.ts);

    const prod = prodStack(s);
    expect(JSON.parse(prod.template)).toEqual(JSON.parse(PROD_TEMPLATE));
    expect(prod.parameters).toMatchObject({ Env: 'prod', MemorySize: '1024' });

    await s.promote('api dev→prod');
    const held = await s.slack.waitFor(() => replies(s!.slack, /is held/)[0]);
    expect(held).toContain('/promote unhold api prod');
    expect(held).toContain('rolled back by <@U0ONCALL>'); // a mention, not escaped `&lt;@U0ONCALL&gt;` text
    expect(held).not.toContain('&lt;@');
    // Only the stage's reviewers may lift the hold; the refusal says whom to ask.
    await s.promote('unhold api prod');
    const refused = await s.slack.waitFor(() => replies(s!.slack, /not a reviewer/)[0]);
    expect(refused).toContain('<@U0ALICE>');
    await s.promote('unhold api prod', 'U0ALICE');
    await s.slack.waitFor(() => replies(s!.slack, /no longer held/)[0]);
    const count = summaries(s.slack).length;
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => (summaries(s!.slack).length > count ? true : undefined), 15_000);
  });

  it('`to <release>` picks an older release; an unknown release lists the known ones', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await promoteAndWait(s); // r1: prod runs DEV_TEMPLATE
    const v3 = JSON.parse(DEV_TEMPLATE);
    v3.Resources.Fn.Properties.Code.ZipFile = 'v3';
    s.aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: JSON.stringify(v3),
      parameters: { Env: 'dev', MemorySize: '256' },
    });
    await promoteAndWait(s); // r2: prod runs v3
    expect(JSON.parse(prodStack(s).template).Resources.Fn.Properties.Code.ZipFile).toBe('v3');

    await s.rollback('api prod to nope');
    const unknown = await s.slack.waitFor(() => replies(s!.slack, /Unknown release "nope"/)[0]);
    const ids = [...unknown.matchAll(/`(r[^`]+)`/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    const oldest = ids[1]!; // newest first

    await s.rollback(`api prod to ${oldest}`);
    const summary = await rollbackSummary(s);
    await s.click(ACTION.approve, promotionIdOf(summary.blocks)!, 'U0BOB', summary.ts);
    await s.finalReply(summary.ts);
    expect(JSON.parse(prodStack(s).template)).toEqual(JSON.parse(DEV_TEMPLATE));
  });

  it('a second /rollback undoes the release before, never re-applying the one rolled back unless named', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await promoteAndWait(s); // r1: prod runs DEV_TEMPLATE (PROD_TEMPLATE before)
    const v3 = newDevBuild(s, 'v3');
    await promoteAndWait(s); // r2: prod runs v3
    await s.promote('history api prod');
    const history = await s.slack.waitFor(() => replies(s!.slack, /Releases of api\/prod/)[0]);
    const [r2, r1] = [...history.matchAll(/• `(r[^`]+)`/g)].map((m) => m[1]!);
    expect(r1 && r2).toBeTruthy();

    const first = await rollbackAndApprove(s, 'api prod');
    expect(first).toContain(`*Undoes* release \`${r2}\`, which runs now · *puts back* release \`${r1}\``);
    expect(JSON.parse(prodStack(s).template)).toEqual(JSON.parse(DEV_TEMPLATE));

    const second = await rollbackAndApprove(s, 'api prod');
    expect(second).toContain(`*Undoes* release \`${r1}\`, which runs now`);
    expect(JSON.parse(prodStack(s).template)).toEqual(JSON.parse(PROD_TEMPLATE));

    const before = summaries(s.slack).length;
    await s.rollback('api prod', 'U0ONCALL');
    await s.slack.waitFor(() => replies(s!.slack, /Nothing left to undo on api\/prod/)[0]);

    await s.promote('history api prod');
    const marked = await s.slack.waitFor(
      () => replies(s!.slack, /Releases of api\/prod/).find((t) => t.includes('rolled back')),
      15_000,
    );
    expect(marked).toMatch(new RegExp(`\`${r2}\`.*~rolled back~`));
    expect(marked).toMatch(new RegExp(`\`${r1}\`.*~rolled back~`));
    expect(summaries(s.slack)).toHaveLength(before); // the refused rollback posted nothing

    const named = await rollbackAndApprove(s, `api prod to ${r2}`);
    expect(named).toContain(`*Puts back* release \`${r2}\` (named)`);
    expect(JSON.parse(prodStack(s).template)).toEqual(JSON.parse(v3));
  });

  it('cancels an update in flight after one check that it is still the update shown, and reports the rollback', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    s.aws.startOutsideUpdate('api-prod', { durationMs: Number.POSITIVE_INFINITY });
    await s.rollback('api prod');
    const summary = await rollbackSummary(s);
    expect(JSON.stringify(summary.blocks)).toMatch(/Cancel update/);
    const callsBefore = s.aws.calls.filter((c) => c.service === 'cloudformation').length;
    await s.click(ACTION.approve, promotionIdOf(summary.blocks)!, 'U0ALICE', summary.ts);
    const final = await s.finalReply(summary.ts);
    expect(final.text).toMatch(/Rolled back/);
    const cfnCalls = s.aws.calls.filter((c) => c.service === 'cloudformation').slice(callsBefore);
    // At click time: is the update running still the one that was shown? Then one CancelUpdateStack.
    expect(cfnCalls.slice(0, 2).map((c) => c.action)).toEqual(['DescribeStacks', 'CancelUpdateStack']);
    expect(s.aws.callsOf('CancelUpdateStack')).toHaveLength(1);
    expect(prodStack(s).status).toBe('UPDATE_ROLLBACK_COMPLETE');
  });

  it('continues a failed rollback, skipping the stuck resources when asked', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    s.aws.scriptExecution('api-prod', { failResource: { logicalId: 'Fn', reason: 'boom' }, rollbackFails: true });
    await promoteAndWait(s);
    expect(prodStack(s).status).toBe('UPDATE_ROLLBACK_FAILED');

    await s.promote('api dev→prod');
    await s.slack.waitFor(() => replies(s!.slack, /UPDATE_ROLLBACK_FAILED/)[0]);

    await s.rollback('api');
    const summary = await rollbackSummary(s);
    const text = JSON.stringify(summary.blocks);
    expect(text).toContain('Resources that failed to roll back');
    expect(text).toContain(ACTION.continueSkipping);
    await s.click(ACTION.continueSkipping, promotionIdOf(summary.blocks)!, 'U0BOB', summary.ts);
    await s.finalReply(summary.ts);
    const call = s.aws.callsOf('ContinueUpdateRollback')[0]!;
    expect(Object.entries(call.params).some(([k, v]) => k.startsWith('ResourcesToSkip') && v.length > 0)).toBe(true);
    expect(prodStack(s).status).toBe('UPDATE_ROLLBACK_COMPLETE');
  });

  it('with rollback.required: 0 executes without a click, and the audit log says so', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), config: configYaml({ rollbackRequired: 0 }) });
    await promoteAndWait(s);
    await s.rollback('api prod', 'U0ONCALL');
    const summary = await rollbackSummary(s);
    await s.finalReply(summary.ts);
    expect(JSON.parse(prodStack(s).template)).toEqual(JSON.parse(PROD_TEMPLATE));
    const seen = summary.history.map((h) => JSON.stringify(h.blocks)).join('\n');
    expect(seen).toContain('No approval required (rollback.required: 0)');

    const redis = new Redis(inject('redisUrl'));
    const store = createRedisStore(redis, { prefix: s.redisPrefix });
    try {
      const audit = await store.readAudit({ limit: 200 });
      expect(audit.some((a) => /without approval \(rollback\.required: 0\)/.test(a.action))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('cancels a pending promotion on the same stack, which then never executes', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await promoteAndWait(s);
    const v3 = JSON.parse(DEV_TEMPLATE);
    v3.Resources.Fn.Properties.Code.ZipFile = 'v3';
    s.aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: JSON.stringify(v3),
      parameters: { Env: 'dev', MemorySize: '256' },
    });
    const before = summaries(s.slack).length;
    await s.promote('api dev→prod', REQUESTER);
    const pending = await s.slack.waitFor(
      () =>
        summaries(s!.slack)
          .slice(before)
          .find((m) => promotionIdOf(m.blocks)),
      15_000,
    );
    const pendingId = promotionIdOf(pending.blocks)!;

    // A rollback reviewer (a member of S0LEADS) supersedes it at once; anyone else's rollback only once approved.
    await s.rollback('api prod', 'U0LEAD1');
    await s.slack.waitFor(
      () =>
        /superseded by a rollback/.test(JSON.stringify(s!.slack.messages.find((m) => m.ts === pending.ts)?.blocks))
          ? true
          : undefined,
      15_000,
    );
    const cancelled = JSON.stringify(s.slack.messages.find((m) => m.ts === pending.ts)?.blocks);
    expect(cancelled).toContain('by <@U0LEAD1>');
    expect(cancelled).not.toContain('&lt;@');
    await s.click(ACTION.approve, pendingId, 'U0ALICE', pending.ts);
    await s.click(ACTION.approve, pendingId, 'U0BOB', pending.ts);
    await s.slack.waitFor(() => replies(s!.slack, /cancelled/i)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1); // only the first promotion
  });

  it('warns when the stack changed outside the bot since the release it would restore', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await promoteAndWait(s);
    const prod = prodStack(s);
    s.aws.putStack({
      name: 'api-prod',
      account: PROD_ACCOUNT,
      template: prod.template,
      parameters: { ...prod.parameters, MemorySize: '2048' },
    });
    await s.rollback('api prod', 'U0ONCALL');
    const summary = await rollbackSummary(s);
    expect(JSON.stringify(summary.blocks)).toMatch(/changed outside the bot since release r\w+/);
  });

  it('keeps NoEcho parameters (masked as **** by DescribeStacks) instead of writing the mask back', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const withSecret = (t: string) => {
      const j = JSON.parse(t);
      j.Parameters.DbPassword = { Type: 'String', NoEcho: true };
      return JSON.stringify(j);
    };
    s.aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: withSecret(DEV_TEMPLATE),
      parameters: { Env: 'dev', DbPassword: 'dev-secret' },
    });
    s.aws.putStack({
      name: 'api-prod',
      account: PROD_ACCOUNT,
      template: withSecret(PROD_TEMPLATE),
      parameters: { Env: 'prod', MemorySize: '1024', DbPassword: 'hunter2' },
    });
    await promoteAndWait(s);
    await s.rollback('api prod', 'U0ONCALL');
    const summary = await rollbackSummary(s);
    await s.click(ACTION.approve, promotionIdOf(summary.blocks)!, 'U0ALICE', summary.ts);
    await s.finalReply(summary.ts);
    expect(prodStack(s).parameters.DbPassword).toBe('hunter2');
    expect(JSON.parse(prodStack(s).template).Resources.OldQueue).toBeDefined();
  });

  it('refuses unknown services and stages, listing what exists', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await s.rollback('nope');
    await s.slack.waitFor(() => replies(s!.slack, /Unknown service "nope".*Known services: api, web/)[0]);
    await s.rollback('api qa');
    await s.slack.waitFor(() => replies(s!.slack, /Unknown stage "qa".*Known stages: dev, prod/)[0]);
    await s.rollback('api prod');
    await s.slack.waitFor(() => replies(s!.slack, /No releases recorded for api\/prod/)[0]);
  });
});
