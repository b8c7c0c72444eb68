// Services of several stacks (`stacks: [infra, app]`), end to end: one summary and one review for all, stacks run
// in list order, a failure stops the later ones, a stack that imports an export the earlier one adds is planned
// once that one ran and reviewed on its own in the thread, the lock covers every stack, and /rollback puts them
// back in reverse order.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import type { FakeMessage } from '../fakes/slack.js';
import { SIGNING_SECRET } from '../support/bot.js';
import {
  allText,
  CHANNEL,
  configYaml,
  DEV_ACCOUNT,
  PROD_ACCOUNT,
  promotionIdOf,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';
import { sendBlockAction } from '../support/slack-driver.js';

const SHOP = `
  shop:
    channels: [${CHANNEL}]
    stages:
      dev:
        stacks: [shop-infra-dev, shop-app-dev]
        role: arn:aws:iam::${DEV_ACCOUNT}:role/promote-bot
      prod:
        stacks: [shop-infra-prod, shop-app-prod]
        role: arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot
        approvals: { required: 1, reviewers: [U0ALICE] }
  shopapp:
    channels: [${CHANNEL}]
    stages:
      dev: { stack: shop-app-dev, role: 'arn:aws:iam::${DEV_ACCOUNT}:role/promote-bot' }
      prod:
        stack: shop-app-prod
        role: arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot
        approvals: { required: 1, reviewers: [U0ALICE] }
`;

/** The infra stack: a table; v2 renames it (a replacement: data loss) and adds a queue whose URL it exports. */
function infra(v: 1 | 2): string {
  const resources: Record<string, unknown> = {
    Orders: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: v === 1 ? 'orders' : 'orders-v2',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      },
    },
  };
  if (v === 2) resources.Jobs = { Type: 'AWS::SQS::Queue', Properties: {} };
  return JSON.stringify({
    Resources: resources,
    ...(v === 2 ? { Outputs: { JobsUrl: { Value: { Ref: 'Jobs' }, Export: { Name: 'shop-jobs-url' } } } } : {}),
  });
}

/** The app stack: a function; v2 has new code and, with `imports`, reads the queue URL infra v2 exports. */
function app(v: 1 | 2, imports = false): string {
  return JSON.stringify({
    Resources: {
      Api: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Code: { ZipFile: `v${v}` },
          Role: 'arn:aws:iam::333333333333:role/x',
          ...(imports ? { Environment: { Variables: { JOBS: { 'Fn::ImportValue': 'shop-jobs-url' } } } } : {}),
        },
      },
    },
  });
}

async function shopScenario(o: { imports?: boolean } = {}): Promise<Scenario> {
  const s = await startScenario({ redisUrl: inject('redisUrl'), config: configYaml({ extra: SHOP }) });
  s.aws.putStack({ name: 'shop-infra-dev', account: DEV_ACCOUNT, template: infra(2) });
  s.aws.putStack({ name: 'shop-app-dev', account: DEV_ACCOUNT, template: app(2, o.imports) });
  s.aws.putStack({ name: 'shop-infra-prod', account: PROD_ACCOUNT, template: infra(1) });
  s.aws.putStack({ name: 'shop-app-prod', account: PROD_ACCOUNT, template: app(1) });
  return s;
}

const prod = (s: Scenario, name: string) => s.aws.stack(name, undefined, PROD_ACCOUNT)!;

/** When the stack's own (stack-level) event with this status happened, oldest first. */
function stackEventTimes(s: Scenario, name: string, status: string): number[] {
  return prod(s, name)
    .events.filter((e) => e.LogicalResourceId === name && e.ResourceStatus === status)
    .map((e) => new Date(e.Timestamp!).getTime())
    .sort((a, b) => a - b);
}

const textOf = (m: FakeMessage | undefined) => `${m?.text ?? ''} ${allText(m?.blocks)}`;

// Two stacks, each through its change set and execution, take longer than a single-stack test.
describe('a service of several stacks', { timeout: 90_000 }, () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('plans every stack in one summary, locks them all, and runs them in list order after one approval', async () => {
    s = await shopScenario();
    const { id, ts, summary } = await s.plan('shop dev→prod');
    const first = allText(summary.history[0]?.blocks);
    // One summary naming both stacks; the destructive change (the table replaced) first, naming its stack,
    // then each stack's other changes under its name.
    expect(first).toMatch(
      /Destructive, replacing and security changes \(all stacks\):\*\\n`shop-infra-prod` · ⚠ \*REPLACES\* table `Orders`/,
    );
    expect(first).toMatch(/\*Stack `shop-infra-prod`:\*\\n➕ adds queue `Jobs`/);
    expect(first).toMatch(/\*Stack `shop-app-prod`:\*\\n✏️ modifies function `Api`/);
    expect(first).toMatch(/1\. `shop-infra-prod`: \*2 changes:\*/);
    expect(summaries(s.slack)).toHaveLength(1);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(2);

    // The lock covers every stack of the stage: a service deploying one of them waits; one sharing none plans.
    await s.promote('shopapp dev→prod');
    await s.slack.waitFor(() => replies(s!.slack, /shop-app-prod is locked/)[0]);
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => (summaries(s!.slack).length === 2 ? true : undefined), 15_000);

    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    const final = await s.finalReply(ts);
    expect(textOf(final)).toMatch(/Promoted shop to prod/);
    expect(allText(final.blocks)).toMatch(/1\. `shop-infra-prod`: ✅ UPDATE_COMPLETE/);
    expect(allText(final.blocks)).toMatch(/2\. `shop-app-prod`: ✅ UPDATE_COMPLETE/);

    // infra reached UPDATE_COMPLETE before app started.
    const [infraDone] = stackEventTimes(s, 'shop-infra-prod', 'UPDATE_COMPLETE').slice(-1);
    const [appStarted] = stackEventTimes(s, 'shop-app-prod', 'UPDATE_IN_PROGRESS').slice(-1);
    expect(infraDone).toBeLessThanOrEqual(appStarted!);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1 + 0 + 1);
    expect(JSON.parse(prod(s, 'shop-infra-prod').template)).toEqual(JSON.parse(infra(2)));
    expect(JSON.parse(prod(s, 'shop-app-prod').template)).toEqual(JSON.parse(app(2)));

    // Progress says which stack runs.
    const thread = s.slack.thread(ts).map((m) => m.history[0]?.text ?? '');
    expect(thread.some((t) => /`shop-infra-prod` \(stack 1 of 2\)/.test(t))).toBe(true);
    expect(thread.some((t) => /`shop-app-prod` \(stack 2 of 2\)/.test(t))).toBe(true);
    expect(thread.some((t) => /`shop-infra-prod` reached UPDATE_COMPLETE\. Next: `shop-app-prod`/.test(t))).toBe(true);
  });

  it('stops after a failing first stack: the second is not run, its change set is deleted, the thread says so', async () => {
    s = await shopScenario();
    s.aws.scriptExecution('shop-infra-prod', { failResource: { logicalId: 'Jobs', reason: 'queue limit reached' } });
    const { id, ts } = await s.plan('shop dev→prod');
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    const final = await s.finalReply(ts);
    expect(textOf(final)).toMatch(/queue limit reached/);
    const blocks = allText(final.blocks);
    expect(blocks).toMatch(/1\. `shop-infra-prod`: ❌ UPDATE_ROLLBACK_COMPLETE/);
    expect(blocks).toMatch(/2\. `shop-app-prod`: ⛔ not executed \(its change set was deleted\)/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    await s.slack.waitFor(() => (prod(s!, 'shop-app-prod').changeSets.length === 0 ? true : undefined));
    expect(JSON.parse(prod(s, 'shop-app-prod').template)).toEqual(JSON.parse(app(1)));
    // The summary shows the same.
    const summary = await s.slack.waitFor(() => {
      const t = allText(s!.slack.messages.find((m) => m.ts === ts)?.blocks);
      return /not executed/.test(t) ? t : undefined;
    });
    expect(summary).not.toContain(ACTION.approve);
  });

  it('plans a stack that imports an export of the earlier one after it ran, and asks again in the thread', async () => {
    s = await shopScenario({ imports: true });
    const { id, ts, summary } = await s.plan('shop dev→prod');
    expect(allText(summary.history[0]?.blocks)).toMatch(
      /2\. `shop-app-prod`: planned after the stacks before it are applied.*No export named shop-jobs-url found/,
    );
    await s.click(ACTION.approve, id, 'U0ALICE', ts);

    // infra runs; app's plan comes in the thread with buttons of its own, and nothing of it runs before.
    const later = await s.slack.waitFor(
      () => s!.slack.thread(ts).find((m) => allText(m.history[0]?.blocks).includes('stack_plan_actions')),
      20_000,
    );
    expect(allText(later.history[0]?.blocks)).toMatch(/Plan of `shop-app-prod`\* \(stack 2 of 2\)/);
    expect(promotionIdOf(later.history[0]?.blocks)).toBe(id);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    expect(prod(s, 'shop-infra-prod').status).toBe('UPDATE_COMPLETE');
    // The summary points at the thread and carries no buttons meanwhile.
    const waiting = await s.slack.waitFor(() => {
      const t = allText(s!.slack.messages.find((m) => m.ts === ts)?.blocks);
      return /waits for approval in the thread/.test(t) ? t : undefined;
    });
    expect(waiting).not.toContain(ACTION.approve);

    // Approved there (a thread reply of the summary), the second stack runs.
    await sendBlockAction({
      url: s.bot.url,
      secret: SIGNING_SECRET,
      userId: 'U0ALICE',
      actionId: ACTION.approve,
      value: id,
      channelId: CHANNEL,
      messageTs: later.ts,
      threadTs: ts,
      responseUrl: s.slack.responseUrl('click:later'),
    });
    const final = await s.finalReply(ts);
    expect(allText(final.blocks)).toMatch(/2\. `shop-app-prod`: ✅ UPDATE_COMPLETE/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(2);
    expect(JSON.parse(prod(s, 'shop-app-prod').template)).toEqual(JSON.parse(app(2, true)));
    // The later plan's buttons are gone once decided.
    await s.slack.waitFor(() =>
      allText(s!.slack.messages.find((m) => m.ts === later.ts)?.blocks).includes('stack_plan_actions')
        ? undefined
        : true,
    );
  });

  it('/rollback cancels the update in flight on the stack it runs on (the second one here)', async () => {
    s = await shopScenario();
    s.aws.startOutsideUpdate('shop-app-prod', { durationMs: Number.POSITIVE_INFINITY });
    await s.rollback('shop prod', 'U0ONCALL');
    const summary = await s.slack.waitFor(
      () => summaries(s!.slack).find((m) => allText(m.history[0]?.blocks).includes('ROLLBACK')),
      15_000,
    );
    expect(allText(summary.history[0]?.blocks)).toMatch(/An update of `shop-app-prod` is running/);
    await s.click(ACTION.approve, promotionIdOf(summary.history[0]?.blocks)!, 'U0ALICE', summary.ts);
    await s.finalReply(summary.ts);
    expect(s.aws.callsOf('CancelUpdateStack').map((c) => c.params.StackName)).toEqual(['shop-app-prod']);
    expect(prod(s, 'shop-app-prod').status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(prod(s, 'shop-infra-prod').status).toBe('UPDATE_COMPLETE');
  });

  it('/rollback puts every stack back in reverse order (app before infra)', async () => {
    s = await shopScenario();
    const promoted = await s.plan('shop dev→prod');
    await s.click(ACTION.approve, promoted.id, 'U0ALICE', promoted.ts);
    await s.finalReply(promoted.ts);

    await s.rollback('shop prod', 'U0ONCALL');
    const summary = await s.slack.waitFor(
      () => summaries(s!.slack).find((m) => allText(m.history[0]?.blocks).includes('ROLLBACK')),
      15_000,
    );
    const first = allText(summary.history[0]?.blocks);
    expect(first).toMatch(/1\. `shop-app-prod`.*2\. `shop-infra-prod`/);
    await s.click(ACTION.approve, promotionIdOf(summary.history[0]?.blocks)!, 'U0ALICE', summary.ts);
    const final = await s.finalReply(summary.ts);
    expect(textOf(final)).toMatch(/Rolled back shop on prod/);

    expect(JSON.parse(prod(s, 'shop-infra-prod').template)).toEqual(JSON.parse(infra(1)));
    expect(JSON.parse(prod(s, 'shop-app-prod').template)).toEqual(JSON.parse(app(1)));
    // app's rollback update ended before infra's began.
    const appDone = stackEventTimes(s, 'shop-app-prod', 'UPDATE_COMPLETE').at(-1)!;
    const infraStarted = stackEventTimes(s, 'shop-infra-prod', 'UPDATE_IN_PROGRESS').at(-1)!;
    expect(appDone).toBeLessThanOrEqual(infraStarted);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(4);
  });
});
