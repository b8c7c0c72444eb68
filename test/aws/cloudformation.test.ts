// The CloudFormation adapter against the fake AWS endpoint over HTTP, through the real SDK client:
// what it reads, how it waits, how it pages, and how it turns CloudFormation's errors into results.
import { createHash } from 'node:crypto';
import { CloudFormationClient, type CloudFormationClientConfig, type Stack } from '@aws-sdk/client-cloudformation';
import { afterEach, describe, expect, it } from 'vitest';
import {
  alarmOfRollback,
  CHANGE_SET_BACKOFF,
  cancelUpdate,
  carryParameters,
  continueRollback,
  createChangeSet,
  deleteChangeSet,
  describeAllChanges,
  describeChangeSetStatus,
  describePlanChanges,
  describeStack,
  eventsSince,
  executeChangeSet,
  getTemplateBody,
  getTemplateSummary,
  isNoChangesReason,
  isThrottling,
  pollGap,
  readSourceBuild,
  readStuckResources,
  realSleep,
  requestToken,
  rollbackConfiguration,
  versionOf,
  waitForChangeSet,
} from '../../src/aws/cloudformation.js';
import { type FakeAws, type FakeAwsOptions, startFakeAws } from '../fakes/aws.js';

const started: FakeAws[] = [];

async function fake(opts: FakeAwsOptions = {}): Promise<FakeAws> {
  const aws = await startFakeAws({ changeSetStepMs: 20, eventIntervalMs: 5, ...opts });
  started.push(aws);
  return aws;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
});

// maxAttempts 1: the adapter, not the SDK's retries, is what is under test.
function cfnOf(aws: FakeAws, extra: Partial<CloudFormationClientConfig> = {}): CloudFormationClient {
  return new CloudFormationClient({
    endpoint: aws.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...extra,
  });
}

/** The error `p` rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

// For waits that are set-up, not the subject: the same backoff sequence, a 25th of the time.
const quick = { sleep: (ms: number) => realSleep(ms / 25) };

const causeName = (e: { cause?: unknown }) => (e.cause as { name?: string } | undefined)?.name;

/** `count` queues, each with the given visibility timeout: an UPDATE of the timeout changes every one. */
function queues(count: number, visibility: number): string {
  const Resources: Record<string, object> = {};
  for (let i = 1; i <= count; i++) {
    Resources[`Queue${String(i).padStart(2, '0')}`] = {
      Type: 'AWS::SQS::Queue',
      Properties: { VisibilityTimeout: visibility },
    };
  }
  return JSON.stringify({ Resources });
}

// The source's original text: YAML with comments and short-form tags, which the processed template would lose.
const SOURCE_YAML = `# api service, dev build
Parameters:
  Stage:
    Type: String
  MemorySize:
    Type: Number
    Default: '128'
Resources:
  Role:  # needs CAPABILITY_IAM
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [] }
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      MemorySize: !Ref MemorySize
      Role: !GetAtt Role.Arn
`;

/** A target stack 'api' with one queue, and a completed change set that changes its timeout again. */
async function availableChangeSet(aws: FakeAws, cfn: CloudFormationClient, name = 'promote-1') {
  if (!aws.stack('api')) aws.putStack({ name: 'api', template: queues(1, 30) });
  const current = JSON.parse(aws.stack('api')!.template).Resources.Queue01.Properties.VisibilityTimeout as number;
  const TemplateBody = queues(1, current + 30);
  const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: name, TemplateBody });
  const described = await waitForChangeSet(cfn, arn, quick);
  expect(described.ExecutionStatus).toBe('AVAILABLE');
  return arn;
}

/** Polls the fake until the stack leaves every *_IN_PROGRESS status. */
async function settled(aws: FakeAws, name: string): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const status = aws.stack(name)?.status ?? '';
    if (!status.endsWith('_IN_PROGRESS')) return status;
    if (Date.now() > deadline) throw new Error(`stack ${name} still ${status}`);
    await realSleep(5);
  }
}

describe('describeStack', () => {
  it('returns the stack when it exists', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const stack = await describeStack(cfnOf(aws), 'api');
    expect(stack).toMatchObject({ StackName: 'api', StackStatus: 'UPDATE_COMPLETE' });
  });

  it('returns undefined for a stack that does not exist', async () => {
    const aws = await fake();
    expect(await describeStack(cfnOf(aws), 'nope')).toBeUndefined();
  });

  it.each([
    { code: 'AccessDenied', message: 'User is not authorized to perform: cloudformation:DescribeStacks', status: 403 },
    { code: 'ValidationError', message: '1 validation error detected: StackName too long' },
    { code: 'InternalFailure', message: 'Internal failure', status: 500 },
  ])('throws with what it was doing and the SDK error as cause on $code', async (failure) => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    aws.failNext('DescribeStacks', failure);
    const err = await rejection(describeStack(cfnOf(aws), 'api'));
    expect(err.message).toContain('describing stack api');
    expect(err.message).toContain(failure.message);
    expect(causeName(err)).toBe(failure.code);
    expect((err.cause as Error).message).toBe(failure.message);
  });
});

describe('readSourceBuild', () => {
  it('returns the original template, its sha256, the capabilities, declared parameters and the version', async () => {
    const aws = await fake();
    aws.putStack({
      name: 'api-dev',
      template: SOURCE_YAML,
      parameters: { Stage: 'dev' },
      outputs: { Version: '1.4.2' },
    });
    const build = await readSourceBuild(cfnOf(aws), 'api-dev');
    expect(build?.templateBody).toBe(SOURCE_YAML);
    expect(build?.fingerprint).toBe(createHash('sha256').update(SOURCE_YAML).digest('hex'));
    expect(build?.capabilities).toEqual(['CAPABILITY_IAM']);
    expect(build?.declared).toEqual([
      { key: 'Stage', hasDefault: false },
      { key: 'MemorySize', hasDefault: true },
    ]);
    expect(build?.version).toBe('1.4.2');
    expect(build?.stack.StackName).toBe('api-dev');
    // The original, not the processed template (CloudFormation's default stage).
    expect(aws.callsOf('GetTemplate').map((c) => c.params.TemplateStage)).toEqual(['Original']);
  });

  it('has no capabilities and no version when the template needs none and the stack has none', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api-dev', template: queues(2, 30) });
    const build = await readSourceBuild(cfnOf(aws), 'api-dev');
    expect(build).toMatchObject({ capabilities: [], declared: [] });
    expect(build?.version).toBeUndefined();
  });

  it('returns undefined for a source stack that does not exist', async () => {
    const aws = await fake();
    expect(await readSourceBuild(cfnOf(aws), 'api-dev')).toBeUndefined();
  });

  it('throws with context when the template cannot be read', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api-dev', template: queues(1, 30) });
    aws.failNext('GetTemplate', { code: 'AccessDenied', message: 'not allowed', status: 403 });
    const err = await rejection(readSourceBuild(cfnOf(aws), 'api-dev'));
    expect(err.message).toContain('reading the template of api-dev');
    expect(causeName(err)).toBe('AccessDenied');
  });
});

describe('pure helpers', () => {
  const stack = (outputs: Record<string, string>, tags: Record<string, string> = {}): Stack => ({
    StackName: 's',
    CreationTime: new Date(0),
    StackStatus: 'UPDATE_COMPLETE',
    Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  });

  it.each([
    { what: 'a Version output', s: stack({ Version: '1.2.3' }), want: '1.2.3' },
    {
      what: 'a git-commit tag (case and punctuation ignored)',
      s: stack({}, { 'git-commit': 'abc123' }),
      want: 'abc123',
    },
    { what: 'a BuildId output', s: stack({ BuildId: 'build-7' }), want: 'build-7' },
    { what: 'the output over the tag of the same key', s: stack({ Release: 'out' }, { release: 'tag' }), want: 'out' },
    { what: 'the earlier key over the later one', s: stack({ Commit: 'c1' }, { Version: 'v1' }), want: 'v1' },
    { what: 'a non-empty value over an empty one', s: stack({ Version: '' }, { Release: 'r9' }), want: 'r9' },
    { what: 'nothing for keys that only contain a version word', s: stack({ VersionArn: 'arn:x' }), want: undefined },
    { what: 'nothing without outputs or tags', s: { StackName: 's' } as Stack, want: undefined },
  ])('versionOf finds $what', ({ s, want }) => {
    expect(versionOf(s)).toBe(want);
  });

  it.each([
    {
      what: 'keeps every parameter the target has and the template declares, as UsePreviousValue',
      declared: ['Stage', 'MemorySize', 'NewOne'],
      target: ['Stage', 'MemorySize', 'Removed'],
      want: ['Stage', 'MemorySize'],
    },
    { what: 'passes nothing when the target has no parameters', declared: ['Stage'], target: undefined, want: [] },
    { what: 'passes nothing when the template declares none', declared: [], target: ['Stage'], want: [] },
  ])('carryParameters $what', ({ declared, target, want }) => {
    const out = carryParameters(
      declared.map((key) => ({ key })),
      target?.map((ParameterKey) => ({ ParameterKey, ParameterValue: 'x' })),
    );
    expect(out).toEqual(want.map((ParameterKey) => ({ ParameterKey, UsePreviousValue: true })));
  });

  it.each([
    {
      reason: "The submitted information didn't contain changes. Submit different information to create a change set.",
      want: true,
    },
    { reason: 'The submitted information did not contain changes.', want: true },
    { reason: 'No updates are to be performed.', want: true },
    { reason: 'Update of resource type is not permitted.', want: false },
    { reason: 'Requires capabilities : [CAPABILITY_IAM]', want: false },
    { reason: '', want: false },
    { reason: undefined, want: false },
  ])('isNoChangesReason($reason) is $want', ({ reason, want }) => {
    expect(isNoChangesReason(reason)).toBe(want);
  });

  it.each([
    { prefix: 'promote', id: '01HZX3K9QWE', want: 'promote-01HZX3K9QWE' },
    { prefix: 'rollback', id: 'a_b.c:d/e f', want: 'rollback-a-b-c-d-e-f' },
    { prefix: 'promote', id: 'x'.repeat(300), want: `promote-${'x'.repeat(120)}` },
    { prefix: '_internal', id: 'z9', want: undefined },
    { prefix: '', id: '-lead', want: undefined },
    { prefix: 'päß', id: '✓', want: undefined },
  ])('requestToken($prefix, $id) fits ClientRequestToken', ({ prefix, id, want }) => {
    const token = requestToken(prefix, id);
    expect(token).toMatch(/^[a-zA-Z0-9][-a-zA-Z0-9]*$/);
    expect(token.length).toBeLessThanOrEqual(128);
    if (want) expect(token).toBe(want);
    // Derived, not random: a retry after a restart sends the same token.
    expect(requestToken(prefix, id)).toBe(token);
  });
});

describe('waitForChangeSet', () => {
  it('polls often: first gap near 250 ms, growing with the wait, no gap much over 1 s (not the SDK waiter’s 30 s)', async () => {
    // CREATE_COMPLETE after 2.2 s: enough polls for the gaps to grow.
    const aws = await fake({ changeSetStepMs: 1100 });
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 60) });
    const out = await waitForChangeSet(cfn, arn);
    expect(out.Status).toBe('CREATE_COMPLETE');
    const at = aws.callsOf('DescribeChangeSet').map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(6);
    expect(gaps[0]).toBeGreaterThanOrEqual(240);
    expect(gaps[0]).toBeLessThan(600);
    for (const gap of gaps) expect(gap).toBeLessThan(1500);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]! * 1.5); // it grew with the wait
  });

  it('waits 250 ms between polls for the first second, then a quarter of the time waited, at most 500 ms', async () => {
    // A change set that is never ready, on a clock that moves only when the poller sleeps.
    const aws = await fake({ changeSetStepMs: 60_000 });
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 60) });
    let t = 0;
    const delays: number[] = [];
    const sleep = async (ms: number) => {
      delays.push(ms);
      t += ms;
    };
    const backoff = { ...CHANGE_SET_BACKOFF, timeoutMs: 8000 };
    await rejection(waitForChangeSet(cfn, arn, { now: () => t, sleep, backoff }));
    // 0 → 1 s: every 250 ms; then each gap a quarter of the time waited (1.25× the last); from 2 s on, 500 ms.
    expect(delays.slice(0, 6)).toEqual([250, 250, 250, 250, 250, 312.5]);
    for (let i = 4; i < delays.length; i++) {
      const waited = delays.slice(0, i).reduce((a, b) => a + b, 0);
      expect(delays[i]).toBe(Math.min(500, waited / 4));
    }
    expect(delays.at(-1)).toBe(500);
    expect(pollGap(CHANGE_SET_BACKOFF, 0)).toBe(250);
    expect(pollGap(CHANGE_SET_BACKOFF, 2000)).toBe(500);
    expect(pollGap(CHANGE_SET_BACKOFF, 1999)).toBe(499.75);
    expect(pollGap(CHANGE_SET_BACKOFF, 60_000)).toBe(500);
  });

  it('keeps waiting through throttling, slowing down, and still returns the change set', async () => {
    const aws = await fake({ changeSetStepMs: 50 });
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws); // maxAttempts 1: every throttle reaches the adapter
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 60) });
    aws.throttle('DescribeChangeSet', 3);
    const delays: number[] = [];
    const sleep = (ms: number) => {
      delays.push(ms);
      return realSleep(ms / 10);
    };
    const out = await waitForChangeSet(cfn, arn, { sleep });
    expect(out.Status).toBe('CREATE_COMPLETE');
    expect(aws.callsOf('DescribeChangeSet').length).toBeGreaterThanOrEqual(4);
    // Throttled polls wait longer than the plain backoff would (250), doubling with each throttle in a row, up to
    // 2 s (beyond the 500 ms of the slowest plain poll).
    expect(delays.slice(0, 3)).toEqual([500, 1000, 2000]);
    for (const d of delays) expect(d).toBeLessThanOrEqual(2000);
  });

  it('returns a FAILED change set instead of throwing', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    // The same template again: CloudFormation fails the change set with "didn't contain changes".
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 30) });
    const out = await waitForChangeSet(cfn, arn, quick);
    expect(out).toMatchObject({ Status: 'FAILED', ExecutionStatus: 'UNAVAILABLE' });
    expect(isNoChangesReason(out.StatusReason)).toBe(true);
  });

  it('throws with context on an error that is not throttling', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 60) });
    aws.failNext('DescribeChangeSet', { code: 'AccessDenied', message: 'no', status: 403 });
    const err = await rejection(waitForChangeSet(cfn, arn));
    expect(err.message).toContain(`waiting for change set ${arn}`);
    expect(causeName(err)).toBe('AccessDenied');
  });

  it('gives up with context once the timeout has passed', async () => {
    const aws = await fake({ changeSetStepMs: 60_000 });
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 60) });
    let t = 0;
    const now = () => t;
    const sleep = async (ms: number) => {
      t += ms;
    };
    const err = await rejection(
      waitForChangeSet(cfn, arn, { now, sleep, backoff: { ...CHANGE_SET_BACKOFF, timeoutMs: 3000 } }),
    );
    expect(err.message).toMatch(/still not ready after 3000 ms/);
    expect(t).toBeLessThanOrEqual(3000);
  });
});

describe('describeAllChanges', () => {
  it('reads every page of a large change set, with property values', async () => {
    const aws = await fake({ pageSize: 7 });
    aws.putStack({ name: 'api', template: queues(30, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(30, 60) });
    await waitForChangeSet(cfn, arn, quick);
    const before = aws.callsOf('DescribeChangeSet').length;

    const more: boolean[] = [];
    const changes = await describeAllChanges(cfn, arn, (_page, m) => more.push(m));

    expect(changes).toHaveLength(30);
    expect(more).toEqual([true, true, true, true, false]); // another page follows, until the last
    expect(new Set(changes.map((c) => c.LogicalResourceId)).size).toBe(30);
    for (const c of changes) {
      expect(c).toMatchObject({ Action: 'Modify', ResourceType: 'AWS::SQS::Queue' });
      expect(JSON.parse(c.BeforeContext ?? '{}')).toMatchObject({ Properties: { VisibilityTimeout: 30 } });
      expect(JSON.parse(c.AfterContext ?? '{}')).toMatchObject({ Properties: { VisibilityTimeout: 60 } });
    }
    const pages = aws.callsOf('DescribeChangeSet').slice(before);
    expect(pages).toHaveLength(5); // 7 + 7 + 7 + 7 + 2
    expect(pages[0]!.params.NextToken).toBeUndefined();
    for (const p of pages.slice(1)) expect(p.params.NextToken).toBeTruthy();
    for (const p of pages) expect(p.params.IncludePropertyValues).toBe('true');
  });

  it('throws with context when a page cannot be read', async () => {
    const aws = await fake({ pageSize: 7 });
    aws.putStack({ name: 'api', template: queues(10, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(10, 60) });
    await waitForChangeSet(cfn, arn, quick);
    aws.failNext('DescribeChangeSet', { code: 'InternalFailure', message: 'boom', status: 500 });
    const err = await rejection(describeAllChanges(cfn, arn));
    expect(err.message).toContain(`describing change set ${arn}`);
    expect(causeName(err)).toBe('InternalFailure');
  });
});

describe('describePlanChanges (nested stacks)', () => {
  // app → Storage (queues) → Inner (queues): a stack nested two deep, each level with its own changes.
  const url = (key: string) => `https://nested.s3.amazonaws.com/${key}`;
  const withNested = (template: string, logicalId: string, key: string) => {
    const t = JSON.parse(template);
    t.Resources[logicalId] = { Type: 'AWS::CloudFormation::Stack', Properties: { TemplateURL: url(key) } };
    return JSON.stringify(t);
  };

  it('reads the nested change sets the rows point to, every page, under the logical ID path', async () => {
    const aws = await fake({ pageSize: 2 });
    aws.s3Objects.set('nested/inner-v1.json', queues(3, 30));
    aws.s3Objects.set('nested/inner-v2.json', queues(3, 90));
    aws.s3Objects.set('nested/storage-v1.json', withNested(queues(2, 30), 'Inner', 'inner-v1.json'));
    aws.s3Objects.set('nested/storage-v2.json', withNested(queues(2, 60), 'Inner', 'inner-v2.json'));
    aws.putStack({ name: 'app', template: withNested(queues(1, 30), 'Storage', 'storage-v1.json') });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, {
      StackName: 'app',
      ChangeSetName: 'cs',
      TemplateBody: withNested(queues(1, 45), 'Storage', 'storage-v2.json'),
    });
    await waitForChangeSet(cfn, arn, quick);
    expect(aws.callsOf('CreateChangeSet')[0]!.params.IncludeNestedStacks).toBe('true');

    const pages: Array<[string | undefined, number]> = [];
    const groups = await describePlanChanges(cfn, arn, undefined, (page) =>
      pages.push([page.stack, page.changes.length]),
    );

    const summary = groups.map((g) => [g.stack, g.changes.map((c) => c.LogicalResourceId).sort()]);
    // Each page as it came, of every stack: pages of at most 2, adding up to each stack's changes.
    expect(pages.every(([, n]) => n <= 2)).toBe(true);
    for (const g of groups) {
      const sum = pages.filter(([stack]) => stack === g.stack).reduce((n, [, k]) => n + k, 0);
      expect(sum).toBe(g.changes.length);
    }
    expect(pages.filter(([stack]) => stack === 'Storage/Inner').length).toBe(2);
    expect(summary).toEqual([
      [undefined, ['Queue01', 'Storage']],
      ['Storage', ['Inner', 'Queue01', 'Queue02']],
      ['Storage/Inner', ['Queue01', 'Queue02', 'Queue03']],
    ]);
    expect(groups[2]!.changes[0]!.AfterContext).toContain('90');
    // Every page of each: 2 + 2 + 2 changes at 2 a page, plus the pages' NextTokens.
    const nestedCalls = aws.callsOf('DescribeChangeSet').filter((c) => c.params.ChangeSetName !== arn);
    expect(nestedCalls.length).toBeGreaterThanOrEqual(4);
  });

  it('under a given top label, for a caller that names the top stack', async () => {
    const aws = await fake();
    aws.s3Objects.set('nested/s1.json', queues(1, 30));
    aws.s3Objects.set('nested/s2.json', queues(1, 60));
    aws.putStack({ name: 'app', template: withNested(queues(1, 30), 'Storage', 's1.json') });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, {
      StackName: 'app',
      ChangeSetName: 'cs',
      TemplateBody: withNested(queues(1, 30), 'Storage', 's2.json'),
    });
    await waitForChangeSet(cfn, arn, quick);
    const groups = await describePlanChanges(cfn, arn, 'app');
    expect(groups.map((g) => g.stack)).toEqual(['app', 'app/Storage']);
  });
});

describe('rollback triggers', () => {
  const A = 'arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-5xx';
  const B = 'arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-latency';

  it('builds the RollbackConfiguration CloudFormation takes', () => {
    expect(rollbackConfiguration({ alarms: [A, B], minutes: 10 })).toEqual({
      RollbackTriggers: [
        { Arn: A, Type: 'AWS::CloudWatch::Alarm' },
        { Arn: B, Type: 'AWS::CloudWatch::Alarm' },
      ],
      MonitoringTimeInMinutes: 10,
    });
    expect(rollbackConfiguration({ alarms: [], minutes: 0 })).toEqual({
      RollbackTriggers: [],
      MonitoringTimeInMinutes: 0,
    });
  });

  it('sends it on CreateChangeSet, an empty list included (it clears the stack’s triggers)', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    await createChangeSet(cfn, {
      StackName: 'api',
      ChangeSetName: 'watched',
      TemplateBody: queues(1, 60),
      RollbackConfiguration: rollbackConfiguration({ alarms: [A], minutes: 5 }),
    });
    await createChangeSet(cfn, {
      StackName: 'api',
      ChangeSetName: 'unwatched',
      TemplateBody: queues(1, 60),
      RollbackConfiguration: rollbackConfiguration({ alarms: [], minutes: 0 }),
    });
    const [watched, unwatched] = aws.callsOf('CreateChangeSet').map((c) => c.params);
    expect(watched).toMatchObject({
      'RollbackConfiguration.RollbackTriggers.member.1.Arn': A,
      'RollbackConfiguration.RollbackTriggers.member.1.Type': 'AWS::CloudWatch::Alarm',
      'RollbackConfiguration.MonitoringTimeInMinutes': '5',
    });
    expect(unwatched).toMatchObject({
      'RollbackConfiguration.RollbackTriggers': '',
      'RollbackConfiguration.MonitoringTimeInMinutes': '0',
    });
    expect(aws.stack('api')!.changeSets.map((c) => c.rollback.triggers)).toEqual([[A], []]);
  });

  it.each<[string, string | undefined, string[], string | undefined]>([
    ['the fake’s wording', `Rollback triggered by alarm ${A}`, [A], A],
    ['a trigger among other ARNs', `Alarm(s) in ALARM state: [${B}, ${A}].`, [A], A],
    ['quoted', `The following rollback trigger fired: '${A}'`, [A, B], A],
    ['no triggers given: the first alarm ARN', `Rollback triggered by alarm ${B}`, [], B],
    ['a resource failure, not an alarm', 'The following resource(s) failed to update: [Fn].', [A], undefined],
    ['no reason', undefined, [A], undefined],
    ['an alarm that is not one of ours', `Rollback triggered by alarm ${B}`, [A], undefined],
    [
      'a GovCloud alarm',
      'Rollback triggered by alarm arn:aws-us-gov:cloudwatch:us-gov-west-1:123456789012:alarm:x',
      [],
      'arn:aws-us-gov:cloudwatch:us-gov-west-1:123456789012:alarm:x',
    ],
  ])('finds the alarm of a trigger rollback: %s', (_what, reason, triggers, expected) => {
    expect(alarmOfRollback(reason, triggers)).toBe(expected);
  });
});

describe('createChangeSet', () => {
  it('returns the change set ARN and the stack ID', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const out = await createChangeSet(cfnOf(aws), {
      StackName: 'api',
      ChangeSetName: 'cs',
      TemplateBody: queues(1, 60),
    });
    expect(out.arn).toBe(aws.stack('api')?.changeSets[0]?.arn);
    expect(out.stackId).toBe(aws.stack('api')?.stackId);
  });

  it('throws with the change set and stack named, keeping the cause', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: SOURCE_YAML, parameters: { Stage: 'prod' } });
    // No Capabilities for a template with an IAM role.
    const err = await rejection(
      createChangeSet(cfnOf(aws), {
        StackName: 'api',
        ChangeSetName: 'cs',
        TemplateBody: SOURCE_YAML.replace("'128'", "'256'"),
        Parameters: [{ ParameterKey: 'Stage', UsePreviousValue: true }],
      }),
    );
    expect(err.message).toContain('creating change set cs on api');
    expect(err.message).toContain('CAPABILITY_IAM');
    expect(causeName(err)).toBe('InsufficientCapabilitiesException');
  });
});

describe('executeChangeSet', () => {
  it('starts an AVAILABLE change set once; the same token again reports it already started', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    const token = requestToken('promote', 'p1');

    expect(await executeChangeSet(cfn, arn, token)).toEqual({ started: true });
    expect(await executeChangeSet(cfn, arn, token)).toEqual({ started: false, alreadyStarted: true });

    const calls = aws.callsOf('ExecuteChangeSet');
    expect(calls.map((c) => c.params.ClientRequestToken)).toEqual([token, token]);
    // DisableRollback is passed explicitly: the API reference's "Default: True" is not to be trusted.
    expect(calls[0]!.params.DisableRollback).toBe('false');
    expect(await settled(aws, 'api')).toBe('UPDATE_COMPLETE');
  });

  it('refuses a change set that is not AVAILABLE, with CloudFormation’s reason', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 30) });
    await waitForChangeSet(cfn, arn, quick); // FAILED: no changes
    const out = await executeChangeSet(cfn, arn, 'promote-p2');
    expect(out).toMatchObject({ started: false });
    expect('refused' in out && out.refused).toMatch(/cannot be executed/);
  });

  it('refuses a change set made OBSOLETE by an outside update of the stack', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    aws.putStack({ name: 'api', template: queues(1, 45) });
    const out = await executeChangeSet(cfn, arn, 'promote-p3');
    expect('refused' in out && out.refused).toMatch(/OBSOLETE/);
  });

  it('throws with context on other errors', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    aws.failNext('ExecuteChangeSet', { code: 'InsufficientCapabilitiesException', message: 'Requires capabilities' });
    const err = await rejection(executeChangeSet(cfn, arn, 'promote-p4'));
    expect(err.message).toContain(`executing change set ${arn}`);
    expect(causeName(err)).toBe('InsufficientCapabilitiesException');
  });
});

describe('eventsSince', () => {
  /** Executes a change set on 'api' with `token` and waits for it to finish. */
  async function executed(aws: FakeAws, cfn: CloudFormationClient, token: string) {
    const arn = await availableChangeSet(aws, cfn, `cs-${token}`);
    expect(await executeChangeSet(cfn, arn, token)).toEqual({ started: true });
    expect(await settled(aws, 'api')).toBe('UPDATE_COMPLETE');
  }

  it('returns only the events newer than the marker, oldest first', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    await executed(aws, cfn, 'promote-a');
    const ours = [...aws.stack('api')!.events].reverse().filter((e) => e.ClientRequestToken === 'promote-a');
    expect(ours.length).toBeGreaterThanOrEqual(4);
    const marker = ours[1]!.EventId;

    const fresh = await eventsSince(cfn, 'api', marker, 'promote-a');

    expect(fresh.map((e) => e.EventId)).toEqual(ours.slice(2).map((e) => e.EventId));
    expect(fresh[0]!.ResourceStatus).toBeDefined();
    expect(fresh.at(-1)).toMatchObject({ LogicalResourceId: 'api', ResourceStatus: 'UPDATE_COMPLETE' });
  });

  it('keeps only the events of the operation with the token', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    await executed(aws, cfn, 'promote-a');
    const marker = aws.stack('api')!.events[0]!.EventId; // newest so far
    await executed(aws, cfn, 'promote-b');
    aws.startOutsideUpdate('api', { durationMs: 20 });
    expect(await settled(aws, 'api')).toBe('UPDATE_COMPLETE');

    const onlyB = await eventsSince(cfn, 'api', marker, 'promote-b');
    expect(onlyB.length).toBeGreaterThan(0);
    expect(new Set(onlyB.map((e) => e.ClientRequestToken))).toEqual(new Set(['promote-b']));
    expect(await eventsSince(cfn, 'api', marker, 'promote-a')).toEqual([]);

    const all = await eventsSince(cfn, 'api', marker, undefined);
    const tokens = all.map((e) => e.ClientRequestToken);
    expect(tokens[0]).toBe('promote-b'); // oldest first
    expect(tokens.at(-1)).toMatch(/^Console-UpdateStack-/);
  });

  it('following, from a service that reports no token on any event, keeps every event newer than the marker', async () => {
    const aws = await fake({ eventTokens: false });
    const cfn = cfnOf(aws);
    await executed(aws, cfn, 'promote-a');
    const marker = aws.stack('api')!.events[0]!.EventId;
    await executed(aws, cfn, 'promote-b');
    const newer = [...aws.stack('api')!.events].reverse();
    const expected = newer.slice(newer.findIndex((e) => e.EventId === marker) + 1);
    expect(expected.length).toBeGreaterThanOrEqual(4);

    const fresh = await eventsSince(cfn, 'api', marker, 'promote-b', { untokenedAreOurs: true });

    expect(fresh.map((e) => e.EventId)).toEqual(expected.map((e) => e.EventId));
    expect(fresh.at(-1)).toMatchObject({ LogicalResourceId: 'api', ResourceStatus: 'UPDATE_COMPLETE' });
    // Asked whether an operation with the token started, it never takes an event without the token as one.
    expect(await eventsSince(cfn, 'api', marker, 'promote-b')).toEqual([]);
  });

  it('reads older pages until it meets the marker', async () => {
    const aws = await fake({ pageSize: 2 });
    const cfn = cfnOf(aws);
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const marker = aws.stack('api')!.events[0]!.EventId;
    await executed(aws, cfn, 'promote-a');
    const newer = [...aws.stack('api')!.events].reverse().slice(1);
    expect(newer.length).toBeGreaterThan(4); // more than two pages
    const before = aws.callsOf('DescribeStackEvents').length;

    const fresh = await eventsSince(cfn, 'api', marker, undefined);

    expect(fresh.map((e) => e.EventId)).toEqual(newer.map((e) => e.EventId));
    const calls = aws.callsOf('DescribeStackEvents').slice(before);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.slice(1).every((c) => c.params.NextToken)).toBe(true);
  });

  it('without a marker, reads back to notBefore: every event of an operation that started then, none older', async () => {
    const aws = await fake({ pageSize: 2 });
    const cfn = cfnOf(aws);
    await executed(aws, cfn, 'promote-a');
    await realSleep(5); // the fake's timestamps are milliseconds
    const notBefore = new Date();
    await executed(aws, cfn, 'promote-b');
    const all = [...aws.stack('api')!.events].reverse();
    const expected = all.filter((e) => e.Timestamp! >= notBefore);
    expect(expected.length).toBeGreaterThan(4); // more than two pages
    const before = aws.callsOf('DescribeStackEvents').length;

    const fresh = await eventsSince(cfn, 'api', undefined, undefined, { notBefore });

    expect(fresh.map((e) => e.EventId)).toEqual(expected.map((e) => e.EventId));
    expect(new Set(fresh.map((e) => e.ClientRequestToken))).toEqual(new Set(['promote-b']));
    // It stops at the first older event instead of reading the whole history.
    const pagesRead = aws.callsOf('DescribeStackEvents').length - before;
    expect(pagesRead).toBeLessThan(Math.ceil(all.length / 2));
  });

  it('throws with the stack named, keeping the cause, so a throttled read is still seen as throttling', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    aws.failNext('DescribeStackEvents', { code: 'Throttling', message: 'Rate exceeded' });
    const err = await rejection(eventsSince(cfnOf(aws), 'api', undefined, undefined));
    expect(err.message).toContain('reading the events of api: Rate exceeded');
    expect(causeName(err)).toBe('Throttling');
    expect(isThrottling(err)).toBe(true);
  });

  it('reads only the newest page without a marker or notBefore', async () => {
    const aws = await fake({ pageSize: 2 });
    const cfn = cfnOf(aws);
    await executed(aws, cfn, 'promote-a');
    const before = aws.callsOf('DescribeStackEvents').length;
    const fresh = await eventsSince(cfn, 'api', undefined, 'promote-a');
    expect(aws.callsOf('DescribeStackEvents').length - before).toBe(1);
    const newest = aws.stack('api')!.events.slice(0, 2).reverse();
    expect(fresh.map((e) => e.EventId)).toEqual(newest.map((e) => e.EventId));
  });
});

describe('deleteChangeSet and describeChangeSetStatus', () => {
  it('deletes a change set, and a second delete of the missing change set is not an error', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    expect(await describeChangeSetStatus(cfn, arn)).toEqual({
      status: 'CREATE_COMPLETE',
      executionStatus: 'AVAILABLE',
      reason: undefined,
    });
    await deleteChangeSet(cfn, arn);
    expect(aws.stack('api')?.changeSets).toEqual([]);
    await deleteChangeSet(cfn, arn);
    expect(await describeChangeSetStatus(cfn, arn)).toBeUndefined();
    expect(aws.callsOf('DeleteChangeSet')).toHaveLength(2);
  });

  it('throws with context when the change set cannot be deleted', async () => {
    const aws = await fake({ changeSetStepMs: 60_000 });
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const cfn = cfnOf(aws);
    const { arn } = await createChangeSet(cfn, { StackName: 'api', ChangeSetName: 'cs', TemplateBody: queues(1, 60) });
    const err = await rejection(deleteChangeSet(cfn, arn)); // still CREATE_PENDING
    expect(err.message).toContain(`deleting change set ${arn}`);
    expect(causeName(err)).toMatch(/^InvalidChangeSetStatus/);
  });
});

describe('cancelUpdate and continueRollback', () => {
  it('cancels an update in progress with the token, and the stack rolls back', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    aws.scriptExecution('api', { holdInProgress: true });
    await executeChangeSet(cfn, arn, 'promote-a');
    expect(aws.stack('api')?.status).toBe('UPDATE_IN_PROGRESS');

    await cancelUpdate(cfn, 'api', 'cancel-a');

    expect(aws.callsOf('CancelUpdateStack').map((c) => c.params)).toEqual([
      { StackName: 'api', ClientRequestToken: 'cancel-a' },
    ]);
    expect(await settled(aws, 'api')).toBe('UPDATE_ROLLBACK_COMPLETE');
    const rollback = await eventsSince(cfn, 'api', undefined, 'cancel-a');
    expect(rollback.at(-1)).toMatchObject({ ResourceStatus: 'UPDATE_ROLLBACK_COMPLETE' });
  });

  it('throws with context when there is no update to cancel', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const err = await rejection(cancelUpdate(cfnOf(aws), 'api', 'cancel-b'));
    expect(err.message).toContain('cancelling the update of api');
    expect(causeName(err)).toBe('ValidationError');
  });

  it('continues a failed rollback, skipping the resources asked for', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    aws.scriptExecution('api', { failResource: { logicalId: 'Queue01', reason: 'boom' }, rollbackFails: true });
    await executeChangeSet(cfn, arn, 'promote-a');
    expect(await settled(aws, 'api')).toBe('UPDATE_ROLLBACK_FAILED');

    await continueRollback(cfn, 'api', 'continue-a', ['Queue01']);

    expect(aws.callsOf('ContinueUpdateRollback').map((c) => c.params)).toEqual([
      { StackName: 'api', ClientRequestToken: 'continue-a', 'ResourcesToSkip.member.1': 'Queue01' },
    ]);
    expect(await settled(aws, 'api')).toBe('UPDATE_ROLLBACK_COMPLETE');
  });

  it('continues a failed rollback without ResourcesToSkip when nothing is skipped', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const arn = await availableChangeSet(aws, cfn);
    aws.scriptExecution('api', { failResource: { logicalId: 'Queue01', reason: 'boom' }, rollbackFails: true });
    await executeChangeSet(cfn, arn, 'promote-a');
    expect(await settled(aws, 'api')).toBe('UPDATE_ROLLBACK_FAILED');

    await continueRollback(cfn, 'api', 'continue-b', []);

    const params = aws.callsOf('ContinueUpdateRollback')[0]!.params;
    expect(Object.keys(params).some((k) => k.startsWith('ResourcesToSkip'))).toBe(false);
    expect(await settled(aws, 'api')).toBe('UPDATE_ROLLBACK_COMPLETE');
  });

  it('throws with context when the stack is not in UPDATE_ROLLBACK_FAILED', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const err = await rejection(continueRollback(cfnOf(aws), 'api', 'continue-c', []));
    expect(err.message).toContain('continuing the rollback of api');
    expect(causeName(err)).toBe('ValidationError');
  });
});

describe('getTemplateBody', () => {
  it('returns the original template text, not the processed one', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api-dev', template: SOURCE_YAML, parameters: { Stage: 'dev' } });
    expect(await getTemplateBody(cfnOf(aws), 'api-dev')).toBe(SOURCE_YAML);
    expect(aws.callsOf('GetTemplate').map((c) => c.params)).toEqual([
      { StackName: 'api-dev', TemplateStage: 'Original' },
    ]);
  });

  it('throws with the stack named, keeping the cause', async () => {
    const aws = await fake();
    const err = await rejection(getTemplateBody(cfnOf(aws), 'nope'));
    expect(err.message).toContain('reading the template of nope');
    expect(causeName(err)).toBe('ValidationError');
  });
});

describe('getTemplateSummary', () => {
  const template = JSON.stringify({
    Parameters: { Secret: { Type: 'String', NoEcho: true }, Size: { Type: 'Number', Default: '1' } },
    Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'named' } } },
  });

  it('summarises a TemplateBody: parameters with NoEcho and defaults, and the capabilities it needs', async () => {
    const aws = await fake();
    const summary = await getTemplateSummary(cfnOf(aws), { TemplateBody: template });
    expect(summary.Capabilities).toEqual(['CAPABILITY_NAMED_IAM']);
    const byKey = new Map((summary.Parameters ?? []).map((p) => [p.ParameterKey, p]));
    expect(byKey.get('Secret')?.NoEcho).toBe(true);
    expect(byKey.get('Size')?.DefaultValue).toBe('1');
  });

  it('summarises a template uploaded to S3 through its TemplateURL', async () => {
    const aws = await fake();
    aws.s3Objects.set('templates/api/big.template', template);
    const summary = await getTemplateSummary(cfnOf(aws), {
      TemplateURL: 'https://templates.s3.us-east-1.amazonaws.com/api/big.template',
    });
    expect(summary.Capabilities).toEqual(['CAPABILITY_NAMED_IAM']);
    expect(aws.callsOf('GetTemplateSummary')[0]!.params).toEqual({
      TemplateURL: 'https://templates.s3.us-east-1.amazonaws.com/api/big.template',
    });
  });

  it('throws with the template named, keeping the cause', async () => {
    const aws = await fake();
    const url = 'https://templates.s3.us-east-1.amazonaws.com/missing.template';
    aws.failNext('GetTemplateSummary', { code: 'ValidationError', message: 'Template format error' });
    const err = await rejection(getTemplateSummary(cfnOf(aws), { TemplateURL: url }));
    expect(err.message).toContain(`summarising the template at ${url}`);
    expect(causeName(err)).toBe('ValidationError');
  });
});

describe('readStuckResources', () => {
  async function stuckStack(aws: FakeAws, cfn: CloudFormationClient): Promise<Stack> {
    const arn = await availableChangeSet(aws, cfn);
    aws.scriptExecution('api', { failResource: { logicalId: 'Queue01', reason: 'boom' }, rollbackFails: true });
    await executeChangeSet(cfn, arn, 'promote-a');
    expect(await settled(aws, 'api')).toBe('UPDATE_ROLLBACK_FAILED');
    return (await describeStack(cfn, 'api'))!;
  }

  it('returns the resources whose rollback failed, not the failure that started the rollback', async () => {
    const aws = await fake();
    const cfn = cfnOf(aws);
    const stack = await stuckStack(aws, cfn);
    const events = aws.stack('api')!.events; // newest first
    const rollbackStart = events.findIndex((e) => e.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS');
    const rollbackFailure = events.slice(0, rollbackStart).find((e) => e.LogicalResourceId === 'Queue01')!;
    expect(rollbackFailure.ResourceStatusReason).not.toBe('boom');

    expect(await readStuckResources(cfn, stack)).toEqual([
      {
        logicalId: 'Queue01',
        resourceType: 'AWS::SQS::Queue',
        status: rollbackFailure.ResourceStatus,
        reason: rollbackFailure.ResourceStatusReason,
      },
    ]);
  });

  it('reads older pages until the rollback began', async () => {
    const aws = await fake({ pageSize: 1 });
    const cfn = cfnOf(aws);
    const stack = await stuckStack(aws, cfn);
    const stuck = await readStuckResources(cfn, stack);
    expect(stuck.map((r) => r.logicalId)).toEqual(['Queue01']);
    expect(aws.callsOf('DescribeStackEvents').length).toBeGreaterThan(1);
  });

  it('throws with the stack named, keeping the cause', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: queues(1, 30) });
    const stack = (await describeStack(cfnOf(aws), 'api'))!;
    aws.failNext('DescribeStackEvents', { code: 'AccessDenied', message: 'not allowed', status: 403 });
    const err = await rejection(readStuckResources(cfnOf(aws), stack));
    expect(err.message).toContain('reading the events of api');
    expect(causeName(err)).toBe('AccessDenied');
  });
});
