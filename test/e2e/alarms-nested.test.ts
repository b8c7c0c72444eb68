// Alarm-watched deployments (rollback triggers) and nested stacks, end to end: the bot process against the fake
// Slack, the fake CloudFormation and a real Redis.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import {
  allText,
  configYaml,
  DEV_ACCOUNT,
  PROD_ACCOUNT,
  promotionIdOf,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';

const ALARM = `arn:aws:cloudwatch:us-east-1:${PROD_ACCOUNT}:alarm:api-5xx`;

/** The scenario's config with prod watching ALARM for `monitorFor`. */
function watchedConfig(monitorFor: string): string {
  const config = configYaml();
  const at = '        externalId: promote-ext\n';
  if (!config.includes(at)) throw new Error('configYaml changed: no externalId line to put monitoring after');
  return config.replace(
    at,
    `${at}        monitoring:\n          alarms: [${ALARM}]\n          monitorFor: ${monitorFor}\n`,
  );
}

const prodStack = (s: Scenario) => s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!;

/** Every version of every message in the thread under `ts`, as text. */
const threadTexts = (s: Scenario, ts: string) => s.slack.thread(ts).flatMap((m) => m.history.map((h) => h.text ?? ''));

describe('alarm-watched deployments', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('passes the alarms as rollback triggers, shows the monitoring window and reports the alarm that rolled it back', async () => {
    // 10 monitoring minutes of 400 ms each in the fake: 4 s in which the alarm goes off.
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      config: watchedConfig('10m'),
      aws: { monitoringMinuteMs: 400 },
    });
    const { summary, id, ts } = await s.plan();
    expect(allText(summary.blocks)).toContain('api-5xx');
    expect(allText(summary.blocks)).toMatch(/CloudFormation rolls back if one goes to ALARM.*10 minutes/);

    // The change set reached CloudFormation with the trigger and the monitoring time.
    const create = s.aws.callsOf('CreateChangeSet')[0]!.params;
    expect(create['RollbackConfiguration.RollbackTriggers.member.1.Arn']).toBe(ALARM);
    expect(create['RollbackConfiguration.RollbackTriggers.member.1.Type']).toBe('AWS::CloudWatch::Alarm');
    expect(create['RollbackConfiguration.MonitoringTimeInMinutes']).toBe('10');
    expect(prodStack(s).changeSets[0]!.rollback).toEqual({ triggers: [ALARM], minutes: 10 });

    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    // Every resource is updated; CloudFormation now watches the alarm, and progress says so.
    const watching = await s.slack.waitFor(
      () => threadTexts(s!, ts).find((t) => /watching alarm `api-5xx` until \d\d:\d\d UTC/.test(t)),
      15_000,
    );
    expect(watching).toMatch(/UPDATE_IN_PROGRESS/);
    expect(prodStack(s).status).toBe('UPDATE_IN_PROGRESS');

    s.aws.setAlarm(ALARM, 'ALARM');
    const final = await s.finalReply(ts);
    expect(final.text).toMatch(/Rolled back by alarm `api-5xx`/);
    expect(final.text).toContain(ALARM);
    expect(final.text).toContain('UPDATE_ROLLBACK_COMPLETE');
    expect(prodStack(s).status).toBe('UPDATE_ROLLBACK_COMPLETE');
    // The summary is updated after the final reply (the last end effect).
    const updated = await s.slack.waitFor(
      () => s!.slack.messages.find((m) => m.ts === ts && /Rolled back by alarm/.test(allText(m.blocks))),
      15_000,
    );
    expect(allText(updated.blocks)).toMatch(/Rolled back by alarm `api-5xx`/);
  });

  it('a rollback watches no alarm: it clears the stack’s triggers and runs while the alarm fires', async () => {
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      config: watchedConfig('1m'),
      aws: { monitoringMinuteMs: 50 },
    });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    expect((await s.finalReply(ts)).text).toMatch(/Promoted api to prod/);
    // The execution saved the trigger with the stack: an update naming none would watch it.
    expect(prodStack(s).rollback.triggers).toEqual([ALARM]);

    s.aws.setAlarm(ALARM, 'ALARM'); // the incident the rollback is for
    await s.rollback('api prod', 'U0ONCALL');
    const rollback = await s.slack.waitFor(
      () => summaries(s!.slack).find((m) => m.ts !== ts && promotionIdOf(m.blocks)),
      15_000,
    );
    expect(allText(rollback.blocks)).toMatch(/not watched: `api-5xx`/);
    const create = s.aws.callsOf('CreateChangeSet').at(-1)!.params;
    expect(create['RollbackConfiguration.RollbackTriggers']).toBe('');
    expect(create['RollbackConfiguration.MonitoringTimeInMinutes']).toBe('0');

    await s.click(ACTION.approve, promotionIdOf(rollback.blocks)!, 'U0ALICE', rollback.ts);
    expect((await s.finalReply(rollback.ts)).text).toMatch(/Rolled back api on prod/);
    expect(prodStack(s).status).toBe('UPDATE_COMPLETE');
    expect(prodStack(s).rollback.triggers).toEqual([]);
  });
});

describe('nested stacks', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const storage = (tables: string[]) =>
    JSON.stringify({
      Resources: Object.fromEntries(
        tables.map((t) => [
          t,
          {
            Type: 'AWS::DynamoDB::Table',
            Properties: {
              TableName: t.toLowerCase(),
              KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
              AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
              BillingMode: 'PAY_PER_REQUEST',
            },
          },
        ]),
      ),
    });
  const root = (storageKey: string, queueTimeout: number) =>
    JSON.stringify({
      Resources: {
        Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: queueTimeout } },
        Storage: {
          Type: 'AWS::CloudFormation::Stack',
          Properties: { TemplateURL: `https://nested-templates.s3.amazonaws.com/${storageKey}` },
        },
      },
    });

  it('flags a destructive change inside a nested stack in the summary, under the nested stack’s name', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), stacks: false });
    s.aws.s3Objects.set('nested-templates/storage-v1.json', storage(['OrdersTable', 'UsersTable']));
    s.aws.s3Objects.set('nested-templates/storage-v2.json', storage(['UsersTable']));
    s.aws.putStack({ name: 'api-dev', account: DEV_ACCOUNT, template: root('storage-v2.json', 60) });
    s.aws.putStack({ name: 'api-prod', account: PROD_ACCOUNT, template: root('storage-v1.json', 30) });

    const { summary, id, ts } = await s.plan();
    expect(s.aws.callsOf('CreateChangeSet')[0]!.params.IncludeNestedStacks).toBe('true');
    const nested = s.aws.nestedStack('api-prod', 'Storage')!;
    const nestedArn = nested.changeSets[0]!.arn;
    // The bot read the nested change set CloudFormation made.
    expect(s.aws.callsOf('DescribeChangeSet').some((c) => c.params.ChangeSetName === nestedArn)).toBe(true);

    const text = allText(summary.blocks);
    expect(text).toMatch(/⚠ \*1 destructive\*/);
    expect(text).toContain('`Storage` · ⚠ *DELETES* table `OrdersTable`');
    expect(text).toMatch(/⚠ \*DELETES\* table `OrdersTable` — data will be lost/);
    expect(text).toContain('*Stack `api-prod`:*');
    // Sorted across stacks: the nested deletion comes before the top stack's queue change.
    expect(text.indexOf('OrdersTable')).toBeLessThan(text.indexOf('modifies queue'));
    // As loud as a deletion at the top: approving asks to confirm the data loss.
    expect(text).toContain('Approve data loss?');

    // Rejecting deletes the change set, and with it the nested one.
    await s.click(ACTION.reject, id, 'U0ALICE', ts);
    await s.slack.waitFor(() => (s!.aws.callsOf('DeleteChangeSet').length > 0 ? true : undefined), 15_000);
    await s.slack.waitFor(() =>
      s!.aws.nestedStack('api-prod', 'Storage')!.changeSets.length === 0 ? true : undefined,
    );
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
    expect(s.aws.callsOf('DeleteChangeSet').every((c) => c.params.ChangeSetName !== nestedArn)).toBe(true);
  });
});
