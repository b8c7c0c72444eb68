// Large change sets and large templates: Slack's limits are respected whatever the size, the full list
// goes to the thread, and templates over 51,200 bytes go through S3 or get a clear refusal.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import {
  configYaml,
  DEV_ACCOUNT,
  DEV_TEMPLATE,
  promotionIdOf,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';

function manyChanges(n: number): object[] {
  return Array.from({ length: n }, (_, i) => {
    if (i % 60 === 0) {
      return {
        Action: 'Remove',
        LogicalResourceId: `Table${i}`,
        ResourceType: 'AWS::DynamoDB::Table',
        PolicyAction: 'Delete',
      };
    }
    return {
      Action: 'Modify',
      LogicalResourceId: `Function${i}`,
      ResourceType: 'AWS::Lambda::Function',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'Code',
            RequiresRecreation: 'Never',
            BeforeValue: 'x'.repeat(300),
            AfterValue: i === 1 ? '<!channel> & co' : 'y'.repeat(300),
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    };
  });
}

describe('large change sets', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('a 2,500-change set renders a valid summary that says what it left out, and the full list goes to the thread', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), aws: { pageSize: 100 } });
    s.aws.overrideNextChanges('api-prod', manyChanges(2500));
    await s.promote('api dev→prod');
    const summary = await s.slack.waitFor(() => summaries(s!.slack).find((m) => promotionIdOf(m.blocks)), 30_000);
    const blocks = summary.blocks as unknown[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    const text = JSON.stringify(blocks);
    expect(text).toMatch(/more changes not shown/);
    expect(text).toMatch(/2,500 changes/);
    // Every destructive change is listed before anything is left out.
    for (let i = 0; i < 2500; i += 60) expect(text).toContain(`Table${i}`);
    // All 25 pages were read.
    expect(s.aws.callsOf('DescribeChangeSet').filter((c) => c.params.NextToken).length).toBeGreaterThanOrEqual(24);
    const file = await s.slack.waitFor(() => s!.slack.files.find((f) => f.thread_ts === summary.ts), 15_000);
    expect(file.content).toContain('Function2499');
    // The summary escapes what AWS sends; the file (not mrkdwn) keeps it as it is.
    expect(text).not.toContain('<!channel>');
    expect(file.content).toContain('<!channel> & co');
    expect(file.content.split('\n').filter((l) => /Function\d+/.test(l)).length).toBeGreaterThanOrEqual(2400);

    // The plan was stored as it was read: 24 pages written ahead while the next was asked for, and the last
    // with the record; a replica that has none of it in memory reads all 2,500 changes, worst first.
    const id = promotionIdOf(summary.blocks)!;
    const redis = new Redis(inject('redisUrl'));
    const other = createRedisStore(new Redis(inject('redisUrl')), { prefix: s.redisPrefix });
    try {
      const json = JSON.parse((await redis.hget(`${s.redisPrefix}{ops}:promotion:${id}`, 'json'))!);
      expect(json.plan.changesPages).toHaveLength(25);
      const plan = (await other.getPromotion(id))!.plan!;
      expect(plan.changes).toHaveLength(2500);
      expect(new Set(plan.changes.map((c) => c.logicalId)).size).toBe(2500);
      expect(plan.changes[0]!.logicalId).toBe('Table0');
      expect(plan.changes.slice(0, 42).every((c) => c.resourceType === 'AWS::DynamoDB::Table')).toBe(true);
    } finally {
      redis.disconnect();
      await other.close();
    }

    // Show all changes posts it again on demand.
    await s.click(ACTION.showChanges, promotionIdOf(summary.blocks)!, 'U0ANYONE', summary.ts);
    await s.slack.waitFor(() =>
      s!.slack.files.filter((f) => f.thread_ts === summary.ts).length === 2 ? true : undefined,
    );
  });
});

describe('templates over 51,200 bytes', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  function bigDevTemplate(): string {
    const t = JSON.parse(DEV_TEMPLATE);
    t.Metadata = { Padding: 'p'.repeat(60_000) };
    return JSON.stringify(t);
  }

  it('without a templateBucket the promotion is refused, saying how to fix it', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    s.aws.putStack({ name: 'api-dev', account: DEV_ACCOUNT, template: bigDevTemplate(), parameters: { Env: 'dev' } });
    await s.promote('api dev→prod');
    const msg = await s.slack.waitFor(() => replies(s!.slack, /51,200-byte/)[0], 15_000);
    expect(msg).toMatch(/templateBucket/);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(0);
  });

  it('with a templateBucket the template is uploaded to S3 and the change set uses TemplateURL', async () => {
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      config: configYaml().replace(
        'externalId: promote-ext',
        'externalId: promote-ext\n        templateBucket: api-prod-templates',
      ),
    });
    s.aws.putStack({ name: 'api-dev', account: DEV_ACCOUNT, template: bigDevTemplate(), parameters: { Env: 'dev' } });
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => summaries(s!.slack).find((m) => promotionIdOf(m.blocks)), 15_000);
    const create = s.aws.callsOf('CreateChangeSet')[0]!;
    expect(create.params.TemplateURL).toMatch(/api-prod-templates/);
    expect(create.params.TemplateBody).toBeUndefined();
    expect([...s.aws.s3Objects.keys()].some((k) => k.startsWith('api-prod-templates/'))).toBe(true);
  });
});
