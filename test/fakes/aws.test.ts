// Self-test of the fake AWS endpoint, driven only through the real SDK clients, so the fake is proven
// to speak the awsQuery/S3 wire formats the bot will use.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CancelUpdateStackCommand,
  type Change,
  CloudFormationClient,
  type CloudFormationClientConfig,
  ContinueUpdateRollbackCommand,
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  GetTemplateSummaryCommand,
  ListChangeSetsCommand,
  type ResourceChange,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeAws, type FakeAwsOptions, startFakeAws } from './aws.js';
import { indentXml, queryResponse } from './aws-wire.js';

const creds = { accessKeyId: 'test', secretAccessKey: 'test' };
const started: FakeAws[] = [];

async function fake(opts: FakeAwsOptions = {}): Promise<FakeAws> {
  const aws = await startFakeAws({ changeSetStepMs: 5, eventIntervalMs: 2, ...opts });
  started.push(aws);
  return aws;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
});

function cfnClient(aws: FakeAws, extra: Partial<CloudFormationClientConfig> = {}): CloudFormationClient {
  return new CloudFormationClient({ endpoint: aws.url, region: 'us-east-1', credentials: creds, ...extra });
}

/** Polls until `ok` holds (the fake moves on timers, like the real service). */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`waiting for ${what}; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function settledChangeSet(cfn: CloudFormationClient, arn: string, includeValues = false) {
  return until(
    () => cfn.send(new DescribeChangeSetCommand({ ChangeSetName: arn, IncludePropertyValues: includeValues })),
    (r) => r.Status === 'CREATE_COMPLETE' || r.Status === 'FAILED',
    `change set ${arn}`,
  );
}

async function allChanges(cfn: CloudFormationClient, arn: string): Promise<{ changes: Change[]; pages: number }> {
  const changes: Change[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const page: DescribeChangeSetCommandOutput = await cfn.send(
      new DescribeChangeSetCommand({ ChangeSetName: arn, NextToken: token }),
    );
    changes.push(...(page.Changes ?? []));
    pages++;
    token = page.NextToken;
  } while (token);
  return { changes, pages };
}

async function stackOf(cfn: CloudFormationClient, name: string): Promise<Stack> {
  const out = await cfn.send(new DescribeStacksCommand({ StackName: name }));
  return out.Stacks![0]!;
}

async function terminal(cfn: CloudFormationClient, name: string): Promise<Stack> {
  return until(
    () => stackOf(cfn, name),
    (s) => !s.StackStatus!.endsWith('_IN_PROGRESS'),
    `stack ${name} to settle`,
  );
}

async function eventsOf(cfn: CloudFormationClient, name: string): Promise<StackEvent[]> {
  const events: StackEvent[] = [];
  let token: string | undefined;
  do {
    const page = await cfn.send(new DescribeStackEventsCommand({ StackName: name, NextToken: token }));
    events.push(...(page.StackEvents ?? []));
    token = page.NextToken;
  } while (token);
  return events;
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

const byId = (changes: Change[]) =>
  new Map(changes.map((c) => [c.ResourceChange!.LogicalResourceId!, c.ResourceChange!] as const));

// A service stack: a table named after the stage, a queue, a retained bucket, a function that
// references the table, and a log group that goes away in the new version.
const baseTemplate = {
  Parameters: {
    Stage: { Type: 'String' },
    MemorySize: { Type: 'Number', Default: '128' },
  },
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      UpdateReplacePolicy: 'Retain',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JS
      Properties: { TableName: { 'Fn::Sub': 'users-${Stage}' }, BillingMode: 'PAY_PER_REQUEST' },
    },
    Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } },
    Bucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', Properties: {} },
    Fn: {
      Type: 'AWS::Lambda::Function',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JS
      Properties: { FunctionName: { 'Fn::Sub': 'fn-${Table}' }, MemorySize: { Ref: 'MemorySize' } },
    },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 7 } },
  },
};
const BASE = JSON.stringify(baseTemplate, null, 2);

function nextTemplate(): string {
  const t = structuredClone(baseTemplate) as typeof baseTemplate & { Resources: Record<string, unknown> };
  t.Resources.Queue = { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 60 } };
  t.Resources.Topic = { Type: 'AWS::SNS::Topic', Properties: {} };
  delete (t.Resources as Record<string, unknown>).Logs;
  delete (t.Resources as Record<string, unknown>).Bucket;
  return JSON.stringify(t, null, 2);
}

function putBase(aws: FakeAws, name = 'api', extra: { account?: string; region?: string } = {}) {
  aws.putStack({
    name,
    template: BASE,
    parameters: { Stage: 'dev' },
    outputs: { TableName: 'users-dev' },
    tags: { team: 'core' },
    ...extra,
  });
}

async function createChangeSet(cfn: CloudFormationClient, input: Partial<CreateChangeSetCommandInput> = {}) {
  return cfn.send(
    new CreateChangeSetCommand({
      StackName: 'api',
      ChangeSetName: 'promote-1',
      TemplateBody: nextTemplate(),
      Parameters: [
        { ParameterKey: 'Stage', ParameterValue: 'prod' },
        { ParameterKey: 'MemorySize', UsePreviousValue: true },
      ],
      ...input,
    }),
  );
}

describe('the wire format', () => {
  it('writes its answers indented as AWS does, texts untouched', () => {
    const xml = queryResponse(
      'DescribeStacks',
      'ns',
      { Stacks: [{ StackName: 'a<b', Outputs: [], Description: 'x\n y' }] },
      'r',
    );
    expect(xml).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<DescribeStacksResponse xmlns="ns">',
        '  <DescribeStacksResult>',
        '    <Stacks>',
        '      <member>',
        '        <StackName>a&lt;b</StackName>',
        '        <Outputs></Outputs>',
        '        <Description>x',
        ' y</Description>',
        '      </member>',
        '    </Stacks>',
        '  </DescribeStacksResult>',
        '  <ResponseMetadata>',
        '    <RequestId>r</RequestId>',
        '  </ResponseMetadata>',
        '</DescribeStacksResponse>',
        '',
      ].join('\n'),
    );
    expect(indentXml('<a><b/><c>t</c></a>')).toBe('<a>\n  <b/>\n  <c>t</c>\n</a>\n');
  });
});

describe('stacks and templates', () => {
  it('waits the latency it is given per action before answering', async () => {
    const asked: string[] = [];
    const aws = await fake({
      latencyMs: (action, service) => {
        asked.push(`${service}:${action}`);
        return action === 'DescribeStacks' ? 30 : 0;
      },
    });
    putBase(aws);
    const started = performance.now();
    await stackOf(cfnClient(aws), 'api');
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(asked).toEqual(['cloudformation:DescribeStacks']);
  });

  it('describes a stack with its parameters, outputs, tags and status', async () => {
    const aws = await fake();
    putBase(aws);
    const stack = await stackOf(cfnClient(aws), 'api');
    expect(stack).toMatchObject({
      StackName: 'api',
      StackStatus: 'UPDATE_COMPLETE',
      Parameters: [
        { ParameterKey: 'Stage', ParameterValue: 'dev' },
        { ParameterKey: 'MemorySize', ParameterValue: '128' },
      ],
      Outputs: [{ OutputKey: 'TableName', OutputValue: 'users-dev' }],
      Tags: [{ Key: 'team', Value: 'core' }],
    });
    expect(stack.StackId).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/api\//);
    expect(stack.CreationTime).toBeInstanceOf(Date);
    expect(stack.LastUpdatedTime).toBeInstanceOf(Date);
  });

  it('answers ValidationError for a stack that does not exist', async () => {
    const aws = await fake();
    const err = await errorOf(cfnClient(aws).send(new DescribeStacksCommand({ StackName: 'nope' })));
    expect(err).toEqual({ name: 'ValidationError', message: 'Stack with id nope does not exist', status: 400 });
  });

  it('returns the stored template text for both template stages', async () => {
    const aws = await fake();
    const yaml =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JS
      'Parameters:\n  Stage: {Type: String}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub "q-${Stage}"\n';
    aws.putStack({ name: 'api', template: yaml, parameters: { Stage: 'dev' } });
    const cfn = cfnClient(aws);
    for (const stage of ['Original', 'Processed'] as const) {
      const out = await cfn.send(new GetTemplateCommand({ StackName: 'api', TemplateStage: stage }));
      expect(out.TemplateBody).toBe(yaml);
    }
  });

  it('summarises a template: parameters, required capabilities and resource types', async () => {
    const aws = await fake();
    const template = JSON.stringify({
      Parameters: { Stage: { Type: 'String', AllowedValues: ['dev', 'prod'] }, Size: { Type: 'Number', Default: '1' } },
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'r', AssumeRolePolicyDocument: {} } },
        Q: { Type: 'AWS::SQS::Queue' },
      },
    });
    const out = await cfnClient(aws).send(new GetTemplateSummaryCommand({ TemplateBody: template }));
    expect(out.Parameters).toEqual([
      {
        ParameterKey: 'Stage',
        ParameterType: 'String',
        NoEcho: false,
        ParameterConstraints: { AllowedValues: ['dev', 'prod'] },
      },
      { ParameterKey: 'Size', DefaultValue: '1', ParameterType: 'Number', NoEcho: false },
    ]);
    expect(out.Capabilities).toEqual(['CAPABILITY_NAMED_IAM']);
    expect(out.CapabilitiesReason).toBe('The following resource(s) require capabilities: [AWS::IAM::Role]');
    expect(out.ResourceTypes).toEqual(['AWS::IAM::Role', 'AWS::SQS::Queue']);
  });
});

describe('change sets', () => {
  it('goes CREATE_PENDING → CREATE_COMPLETE and becomes AVAILABLE', async () => {
    const aws = await fake({ changeSetStepMs: 300 });
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    expect(created.Id).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:changeSet\/promote-1\//);
    expect(created.StackId).toBe(aws.stack('api')!.stackId);
    const first = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }));
    expect(first).toMatchObject({ Status: 'CREATE_PENDING', ExecutionStatus: 'UNAVAILABLE', Changes: [] });
    const done = await settledChangeSet(cfn, created.Id!);
    expect(done).toMatchObject({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE', ChangeSetName: 'promote-1' });
    const byName = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: 'promote-1', StackName: 'api' }));
    expect(byName.ChangeSetId).toBe(created.Id);
  });

  it('computes Add, Modify and Remove with replacement and policy actions', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    const changes = byId((await settledChangeSet(cfn, created.Id!)).Changes!);
    const rows: Array<[string, Partial<ResourceChange>]> = [
      ['Topic', { Action: 'Add', ResourceType: 'AWS::SNS::Topic' }],
      // TableName depends on the Stage parameter: a static, replacing change; UpdateReplacePolicy Retain.
      ['Table', { Action: 'Modify', Replacement: 'True', PolicyAction: 'ReplaceAndRetain', Scope: ['Properties'] }],
      ['Queue', { Action: 'Modify', Replacement: 'False', Scope: ['Properties'] }],
      // FunctionName refers to the replaced table: Dynamic evaluation, so only Conditional.
      ['Fn', { Action: 'Modify', Replacement: 'Conditional', PolicyAction: 'ReplaceAndDelete' }],
      ['Bucket', { Action: 'Remove', PolicyAction: 'Retain', ResourceType: 'AWS::S3::Bucket' }],
      ['Logs', { Action: 'Remove', PolicyAction: 'Delete' }],
    ];
    expect([...changes.keys()].sort()).toEqual(rows.map(([id]) => id).sort());
    for (const [id, expected] of rows) expect(changes.get(id), id).toMatchObject(expected);
    expect(changes.get('Queue')!.PolicyAction).toBeUndefined();
    expect(changes.get('Table')!.PhysicalResourceId).toBeTruthy();
    expect(changes.get('Topic')!.PhysicalResourceId).toBeUndefined();
    expect(changes.get('Table')!.Details).toEqual([
      {
        Target: { Attribute: 'Properties', Name: 'TableName', RequiresRecreation: 'Always' },
        Evaluation: 'Static',
        ChangeSource: 'ParameterReference',
        CausingEntity: 'Stage',
      },
    ]);
    expect(changes.get('Fn')!.Details).toEqual([
      {
        Target: { Attribute: 'Properties', Name: 'FunctionName', RequiresRecreation: 'Always' },
        Evaluation: 'Dynamic',
        ChangeSource: 'ResourceReference',
        CausingEntity: 'Table',
      },
    ]);
    expect(changes.get('Queue')!.Details![0]).toMatchObject({ ChangeSource: 'DirectModification' });
  });

  it('reports property values and contexts only with IncludePropertyValues', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    const plain = byId((await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }))).Changes!);
    expect(plain.get('Queue')!.BeforeContext).toBeUndefined();
    expect(plain.get('Queue')!.Details![0]!.Target!.AfterValue).toBeUndefined();
    const full = byId(
      (await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id, IncludePropertyValues: true })))
        .Changes!,
    );
    expect(full.get('Queue')!.Details![0]!.Target).toEqual({
      Attribute: 'Properties',
      Name: 'VisibilityTimeout',
      RequiresRecreation: 'Never',
      Path: '/Properties/VisibilityTimeout',
      BeforeValue: '30',
      AfterValue: '60',
      AttributeChangeType: 'Modify',
    });
    expect(JSON.parse(full.get('Queue')!.BeforeContext!)).toEqual({ Properties: { VisibilityTimeout: 30 } });
    expect(JSON.parse(full.get('Queue')!.AfterContext!)).toEqual({ Properties: { VisibilityTimeout: 60 } });
    expect(full.get('Table')!.Details![0]!.Target).toMatchObject({
      BeforeValue: 'users-dev',
      AfterValue: 'users-prod',
    });
  });

  it('resolves !Ref and !Sub in YAML templates, so a parameter change alone is a change', async () => {
    const aws = await fake();
    const yaml = [
      'Parameters:',
      '  Stage: {Type: String}',
      'Resources:',
      '  Q:',
      '    Type: AWS::SQS::Queue',
      '    Properties:',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JS
      '      QueueName: !Sub "q-${Stage}"',
      '      Tags: [{Key: stage, Value: !Ref Stage}]',
    ].join('\n');
    aws.putStack({ name: 'api', template: yaml, parameters: { Stage: 'dev' } });
    const cfn = cfnClient(aws);
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'api',
        ChangeSetName: 'params-only',
        UsePreviousTemplate: true,
        Parameters: [{ ParameterKey: 'Stage', ParameterValue: 'prod' }],
      }),
    );
    const q = byId((await settledChangeSet(cfn, created.Id!)).Changes!).get('Q')!;
    expect(q).toMatchObject({ Action: 'Modify', Replacement: 'True', Scope: ['Properties', 'Tags'] });
    expect(q.Details!.map((d) => [d.Target!.Attribute, d.Target!.Name, d.ChangeSource])).toEqual([
      ['Properties', 'QueueName', 'ParameterReference'],
      ['Tags', undefined, 'ParameterReference'],
    ]);
  });

  it('fails a change set without changes with the real StatusReason', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'api',
        ChangeSetName: 'noop',
        TemplateBody: BASE,
        Parameters: [{ ParameterKey: 'Stage', UsePreviousValue: true }],
      }),
    );
    expect(await settledChangeSet(cfn, created.Id!)).toMatchObject({
      Status: 'FAILED',
      ExecutionStatus: 'UNAVAILABLE',
      StatusReason:
        "The submitted information didn't contain changes. Submit different information to create a change set.",
    });
  });

  it('pages Changes with NextToken, also for a 2,500-change override', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const overridden = Array.from({ length: 2500 }, (_, i) => ({
      Action: 'Modify',
      LogicalResourceId: `R${i}`,
      ResourceType: 'AWS::SQS::Queue',
    }));
    aws.overrideNextChanges('api', overridden);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    const { changes, pages } = await allChanges(cfn, created.Id!);
    expect(pages).toBe(25);
    expect(changes.map((c) => c.ResourceChange!.LogicalResourceId)).toEqual(overridden.map((c) => c.LogicalResourceId));
  });

  it('reports overridden changes exactly as given, missing fields included', async () => {
    const aws = await fake({ pageSize: 2 });
    putBase(aws);
    const cfn = cfnClient(aws);
    aws.overrideNextChanges('api', [
      { Action: 'Modify', LogicalResourceId: 'Table' }, // no ResourceType, no Replacement
      { LogicalResourceId: 'Mystery', ResourceType: 'AWS::SQS::Queue', Action: 'Dynamic' },
      { Action: 'Remove', LogicalResourceId: 'Bucket', ResourceType: 'AWS::S3::Bucket', PolicyAction: 'Delete' },
    ]);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    const { changes, pages } = await allChanges(cfn, created.Id!);
    expect(pages).toBe(2);
    expect(changes.map((c) => c.ResourceChange)).toEqual([
      { Action: 'Modify', LogicalResourceId: 'Table' },
      { LogicalResourceId: 'Mystery', ResourceType: 'AWS::SQS::Queue', Action: 'Dynamic' },
      { Action: 'Remove', LogicalResourceId: 'Bucket', ResourceType: 'AWS::S3::Bucket', PolicyAction: 'Delete' },
    ]);
  });

  it.each([
    ['an unnamed role without capabilities', {}, [], 'Requires capabilities : [CAPABILITY_IAM]'],
    [
      'a named role with only CAPABILITY_IAM',
      { RoleName: 'api-role' },
      ['CAPABILITY_IAM'],
      'Requires capabilities : [CAPABILITY_NAMED_IAM]',
    ],
  ] as const)('refuses %s with InsufficientCapabilitiesException', async (_, props, caps, message) => {
    const aws = await fake();
    putBase(aws);
    const t = JSON.parse(nextTemplate());
    t.Resources.Role = { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {}, ...props } };
    const err = await errorOf(
      createChangeSet(cfnClient(aws), { TemplateBody: JSON.stringify(t), Capabilities: [...caps] }),
    );
    expect(err).toMatchObject({ name: 'InsufficientCapabilitiesException', message, status: 400 });
  });

  it('accepts a named role with CAPABILITY_NAMED_IAM', async () => {
    const aws = await fake();
    putBase(aws);
    const t = JSON.parse(nextTemplate());
    t.Resources.Role = { Type: 'AWS::IAM::Role', Properties: { RoleName: 'r', AssumeRolePolicyDocument: {} } };
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn, {
      TemplateBody: JSON.stringify(t),
      Capabilities: ['CAPABILITY_NAMED_IAM'],
    });
    expect(await settledChangeSet(cfn, created.Id!)).toMatchObject({
      Status: 'CREATE_COMPLETE',
      Capabilities: ['CAPABILITY_NAMED_IAM'],
    });
  });

  it('falls back to the template Default for an omitted parameter, not to the previous value', async () => {
    const aws = await fake();
    aws.putStack({ name: 'api', template: BASE, parameters: { Stage: 'dev', MemorySize: '512' } });
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn, { Parameters: [{ ParameterKey: 'Stage', ParameterValue: 'prod' }] });
    const cs = await settledChangeSet(cfn, created.Id!, true);
    expect(cs.Parameters).toEqual([
      { ParameterKey: 'Stage', ParameterValue: 'prod' },
      { ParameterKey: 'MemorySize', ParameterValue: '128' },
    ]);
    const memory = byId(cs.Changes!)
      .get('Fn')!
      .Details!.find((d) => d.Target!.Name === 'MemorySize');
    expect(memory!.Target).toMatchObject({ BeforeValue: '512', AfterValue: '128' });
  });

  it.each([
    ['a parameter without default and value', { Parameters: [] }, 'Parameters: [Stage] must have values'],
    [
      'an unknown parameter',
      {
        Parameters: [
          { ParameterKey: 'Stage', ParameterValue: 'x' },
          { ParameterKey: 'Nope', ParameterValue: 'y' },
        ],
      },
      'Parameters: [Nope] do not exist in the template',
    ],
    [
      'a template body over 51,200 bytes',
      { TemplateBody: `${BASE}${' '.repeat(51_201)}` },
      "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200",
    ],
    [
      'an invalid change set name',
      { ChangeSetName: '1-bad_name' },
      "1 validation error detected: Value '1-bad_name' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*",
    ],
    ['a stack that does not exist', { StackName: 'ghost' }, 'Stack [ghost] does not exist'],
  ] as const)('answers ValidationError for %s', async (_, input, message) => {
    const aws = await fake();
    putBase(aws);
    const err = await errorOf(createChangeSet(cfnClient(aws), input as Partial<CreateChangeSetCommandInput>));
    expect(err).toEqual({ name: 'ValidationError', message, status: 400 });
  });

  it('refuses a second change set with the same name', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    await createChangeSet(cfn);
    expect(await errorOf(createChangeSet(cfn))).toMatchObject({ name: 'AlreadyExistsException' });
  });

  it('reads TemplateURL from an object uploaded with the real S3 client', async () => {
    const aws = await fake();
    putBase(aws);
    const s3 = new S3Client({ endpoint: aws.url, region: 'us-east-1', credentials: creds, forcePathStyle: true });
    const put = await s3.send(new PutObjectCommand({ Bucket: 'templates', Key: 'api/v2.json', Body: nextTemplate() }));
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(aws.s3Objects.get('templates/api/v2.json')).toBe(nextTemplate());
    const got = await s3.send(new GetObjectCommand({ Bucket: 'templates', Key: 'api/v2.json' }));
    expect(await got.Body!.transformToString()).toBe(nextTemplate());
    const cfn = cfnClient(aws);
    for (const [name, url] of [
      ['from-fake', `${aws.url}/templates/api/v2.json`],
      ['from-virtual-host', 'https://templates.s3.amazonaws.com/api/v2.json'],
    ] as const) {
      const created = await createChangeSet(cfn, { ChangeSetName: name, TemplateBody: undefined, TemplateURL: url });
      expect(await settledChangeSet(cfn, created.Id!)).toMatchObject({ Status: 'CREATE_COMPLETE' });
    }
    const missing = await errorOf(
      createChangeSet(cfn, {
        ChangeSetName: 'gone',
        TemplateBody: undefined,
        TemplateURL: `${aws.url}/templates/nope`,
      }),
    );
    expect(missing.name).toBe('ValidationError');
  });

  it('refuses a change set while the stack is being updated', async () => {
    const aws = await fake();
    putBase(aws);
    aws.startOutsideUpdate('api', { durationMs: Number.POSITIVE_INFINITY });
    const err = await errorOf(createChangeSet(cfnClient(aws)));
    expect(err.name).toBe('ValidationError');
    expect(err.message).toMatch(/is in UPDATE_IN_PROGRESS state and can not be updated\.$/);
  });

  it('lists and deletes change sets; an unknown one is ChangeSetNotFound (404)', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    const listed = await cfn.send(new ListChangeSetsCommand({ StackName: 'api' }));
    expect(listed.Summaries).toMatchObject([{ ChangeSetName: 'promote-1', Status: 'CREATE_COMPLETE' }]);
    await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: created.Id }));
    const err = await errorOf(cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id })));
    expect(err).toEqual({
      name: 'ChangeSetNotFoundException',
      message: `ChangeSet [${created.Id}] does not exist`,
      status: 404,
    });
  });
});

describe('executing change sets', () => {
  it('updates the stack with events and applies the new template', async () => {
    const aws = await fake({ eventIntervalMs: 30 });
    putBase(aws);
    const before = aws.stack('api')!;
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    const other = await createChangeSet(cfn, { ChangeSetName: 'other' });
    await settledChangeSet(cfn, created.Id!);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-1' }));
    expect((await stackOf(cfn, 'api')).StackStatus).toBe('UPDATE_IN_PROGRESS');
    const stack = await terminal(cfn, 'api');
    expect(stack.StackStatus).toBe('UPDATE_COMPLETE');
    expect(stack.LastUpdatedTime!.getTime()).toBeGreaterThan(before.lastUpdatedTime!.getTime());
    expect(stack.Parameters).toContainEqual({ ParameterKey: 'Stage', ParameterValue: 'prod' });
    expect((await cfn.send(new GetTemplateCommand({ StackName: 'api' }))).TemplateBody).toBe(nextTemplate());

    const events = (await eventsOf(cfn, 'api')).filter((e) => e.ClientRequestToken === 'exec-1');
    const sequence = events.reverse().map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`);
    expect(sequence).toEqual([
      'api UPDATE_IN_PROGRESS',
      'Table UPDATE_IN_PROGRESS',
      'Table UPDATE_COMPLETE',
      'Queue UPDATE_IN_PROGRESS',
      'Queue UPDATE_COMPLETE',
      'Fn UPDATE_IN_PROGRESS',
      'Fn UPDATE_COMPLETE',
      'Topic CREATE_IN_PROGRESS',
      'Topic CREATE_COMPLETE',
      'api UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      'Table DELETE_SKIPPED', // the old table copy is kept: UpdateReplacePolicy Retain
      'Bucket DELETE_SKIPPED', // DeletionPolicy Retain
      'Logs DELETE_IN_PROGRESS',
      'Logs DELETE_COMPLETE',
      'api UPDATE_COMPLETE',
    ]);
    expect(new Set(events.map((e) => e.EventId)).size).toBe(events.length);

    const cs = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }));
    expect(cs.ExecutionStatus).toBe('EXECUTE_COMPLETE');
    // Executing deletes the stack's other change sets.
    expect((await errorOf(cfn.send(new DescribeChangeSetCommand({ ChangeSetName: other.Id })))).name).toBe(
      'ChangeSetNotFoundException',
    );
  });

  it('returns stack events newest first, paged with NextToken', async () => {
    const aws = await fake({ pageSize: 3 });
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-1' }));
    await terminal(cfn, 'api');
    const first = await cfn.send(new DescribeStackEventsCommand({ StackName: 'api' }));
    expect(first.StackEvents).toHaveLength(3);
    expect(first.NextToken).toBeTruthy();
    const all = await eventsOf(cfn, 'api');
    expect(all[0]!.ResourceStatus).toBe('UPDATE_COMPLETE');
    const times = all.map((e) => e.Timestamp!.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(all.map((e) => e.EventId)).toEqual(aws.stack('api')!.events.map((e) => e.EventId));
  });

  it('refuses a change set that is not AVAILABLE yet, and a reused token', async () => {
    const aws = await fake({ changeSetStepMs: 300 });
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    const early = await errorOf(cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id })));
    expect(early).toMatchObject({
      name: 'InvalidChangeSetStatusException',
      message: `ChangeSet [${created.Id}] cannot be executed in its current execution status of [UNAVAILABLE]`,
    });
    await settledChangeSet(cfn, created.Id!);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'tok-1' }));
    const again = await errorOf(
      cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'tok-1' })),
    );
    expect(again.name).toBe('TokenAlreadyExistsException');
  });

  it('makes a change set OBSOLETE when someone else updated the stack meanwhile', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    aws.startOutsideUpdate('api', { durationMs: 10 });
    await terminal(cfn, 'api');
    const cs = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }));
    expect(cs.ExecutionStatus).toBe('OBSOLETE');
    const err = await errorOf(cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id })));
    expect(err.name).toBe('InvalidChangeSetStatusException');
  });

  it('rolls back when a resource fails, leaving template and parameters unchanged', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    aws.scriptExecution('api', { failResource: { logicalId: 'Fn', reason: 'Function code too large' } });
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-2' }));
    const stack = await terminal(cfn, 'api');
    expect(stack.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(stack.Parameters).toContainEqual({ ParameterKey: 'Stage', ParameterValue: 'dev' });
    expect(aws.stack('api')!.template).toBe(BASE);
    const events = (await eventsOf(cfn, 'api')).reverse();
    expect(events.every((e) => e.ClientRequestToken === 'exec-2' || e.ClientRequestToken === undefined)).toBe(true);
    const statuses = events
      .filter((e) => e.ClientRequestToken === 'exec-2')
      .map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`);
    expect(events.find((e) => e.ResourceStatus === 'UPDATE_FAILED')!.ResourceStatusReason).toBe(
      'Function code too large',
    );
    expect(events.find((e) => e.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS')!.ResourceStatusReason).toBe(
      'The following resource(s) failed to update: [Fn].',
    );
    expect(statuses).toEqual([
      'api UPDATE_IN_PROGRESS',
      'Table UPDATE_IN_PROGRESS',
      'Table UPDATE_COMPLETE',
      'Queue UPDATE_IN_PROGRESS',
      'Queue UPDATE_COMPLETE',
      'Fn UPDATE_IN_PROGRESS',
      'Fn UPDATE_FAILED',
      'api UPDATE_ROLLBACK_IN_PROGRESS',
      'Fn UPDATE_IN_PROGRESS',
      'Fn UPDATE_COMPLETE',
      'Queue UPDATE_IN_PROGRESS',
      'Queue UPDATE_COMPLETE',
      'Table UPDATE_IN_PROGRESS',
      'Table UPDATE_COMPLETE',
      'api UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
      'Table DELETE_IN_PROGRESS', // the new copy of the replaced table
      'Table DELETE_COMPLETE',
      'api UPDATE_ROLLBACK_COMPLETE',
    ]);
    const cs = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }));
    expect(cs.ExecutionStatus).toBe('EXECUTE_FAILED');
  });

  it('stops in UPDATE_FAILED without rolling back when DisableRollback is true', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    aws.scriptExecution('api', { failResource: { logicalId: 'Topic', reason: 'Topic quota reached' } });
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, DisableRollback: true }));
    expect(await terminal(cfn, 'api')).toMatchObject({
      StackStatus: 'UPDATE_FAILED',
      StackStatusReason: 'The following resource(s) failed to create: [Topic].',
    });
    expect(aws.stack('api')!.events[1]).toMatchObject({
      LogicalResourceId: 'Topic',
      ResourceStatus: 'CREATE_FAILED',
      ResourceStatusReason: 'Topic quota reached',
    });
  });

  it('ends in UPDATE_ROLLBACK_FAILED when the rollback fails, and ContinueUpdateRollback finishes it', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    aws.scriptExecution('api', { failResource: { logicalId: 'Queue', reason: 'boom' }, rollbackFails: true });
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-3' }));
    const failed = await terminal(cfn, 'api');
    expect(failed).toMatchObject({
      StackStatus: 'UPDATE_ROLLBACK_FAILED',
      StackStatusReason: 'The following resource(s) failed to update: [Queue].',
    });
    const wrongSkip = await errorOf(
      cfn.send(new ContinueUpdateRollbackCommand({ StackName: 'api', ResourcesToSkip: ['Topic'] })),
    );
    expect(wrongSkip.name).toBe('ValidationError');
    await cfn.send(
      new ContinueUpdateRollbackCommand({ StackName: 'api', ResourcesToSkip: ['Queue'], ClientRequestToken: 'cont-1' }),
    );
    expect((await terminal(cfn, 'api')).StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    const continued = (await eventsOf(cfn, 'api')).filter((e) => e.ClientRequestToken === 'cont-1');
    expect(continued.map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`).reverse()).toEqual([
      'api UPDATE_ROLLBACK_IN_PROGRESS',
      'Queue UPDATE_COMPLETE', // skipped
      'Table UPDATE_IN_PROGRESS', // not rolled back yet when the rollback failed
      'Table UPDATE_COMPLETE',
      'api UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
      'Table DELETE_IN_PROGRESS', // the new copy of the replaced table
      'Table DELETE_COMPLETE',
      'api UPDATE_ROLLBACK_COMPLETE',
    ]);
    expect(continued.find((e) => e.LogicalResourceId === 'Queue')!.ResourceStatusReason).toBe(
      'Resource skipped during rollback',
    );
    const notFailed = await errorOf(cfn.send(new ContinueUpdateRollbackCommand({ StackName: 'api' })));
    expect(notFailed).toMatchObject({
      name: 'ValidationError',
      message: 'ContinueUpdateRollback cannot be called from current stack status',
    });
  });

  it('cancels a held update: the rollback events carry the cancel token', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn);
    await settledChangeSet(cfn, created.Id!);
    aws.scriptExecution('api', { holdInProgress: true });
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-4' }));
    await until(
      () => eventsOf(cfn, 'api'),
      (ev) => ev[0]!.ResourceStatus === 'UPDATE_IN_PROGRESS' && ev[0]!.LogicalResourceId !== 'api',
      'the first resource to start',
    );
    await new Promise((r) => setTimeout(r, 20));
    expect((await stackOf(cfn, 'api')).StackStatus).toBe('UPDATE_IN_PROGRESS');
    await cfn.send(new CancelUpdateStackCommand({ StackName: 'api', ClientRequestToken: 'cancel-1' }));
    const stack = await terminal(cfn, 'api');
    expect(stack.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    const cancelled = (await eventsOf(cfn, 'api')).filter((e) => e.ClientRequestToken === 'cancel-1').reverse();
    expect(cancelled.map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`)).toEqual([
      'api UPDATE_ROLLBACK_IN_PROGRESS',
      'Table UPDATE_FAILED',
      'Table UPDATE_IN_PROGRESS',
      'Table UPDATE_COMPLETE',
      'api UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
      'Table DELETE_IN_PROGRESS',
      'Table DELETE_COMPLETE',
      'api UPDATE_ROLLBACK_COMPLETE',
    ]);
    expect(cancelled[0]!.ResourceStatusReason).toBe('Stack update cancelled');
    expect(cancelled[1]!.ResourceStatusReason).toBe('Resource update cancelled');
    const notInProgress = await errorOf(cfn.send(new CancelUpdateStackCommand({ StackName: 'api' })));
    expect(notInProgress).toMatchObject({
      name: 'ValidationError',
      message: 'CancelUpdateStack cannot be called from current stack status',
    });
  });

  it('shows an outside update as UPDATE_IN_PROGRESS until it completes', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    aws.startOutsideUpdate('api', { durationMs: 300 });
    expect((await stackOf(cfn, 'api')).StackStatus).toBe('UPDATE_IN_PROGRESS');
    expect((await terminal(cfn, 'api')).StackStatus).toBe('UPDATE_COMPLETE');
    const token = (await eventsOf(cfn, 'api'))[0]!.ClientRequestToken;
    expect(token).toMatch(/^Console-UpdateStack-/);
  });
});

describe('STS and accounts', () => {
  it('assumes a role into another account, where only that account sees its stacks', async () => {
    const aws = await fake();
    putBase(aws, 'api-prod', { account: '111111111111' });
    const asDefault = cfnClient(aws);
    const hidden = await errorOf(asDefault.send(new DescribeStacksCommand({ StackName: 'api-prod' })));
    expect(hidden).toMatchObject({ name: 'ValidationError', message: 'Stack with id api-prod does not exist' });

    const roleArn = 'arn:aws:iam::111111111111:role/promote-bot';
    const asProd = cfnClient(aws, {
      credentials: fromTemporaryCredentials({
        params: { RoleArn: roleArn, RoleSessionName: 'promote-U123', SourceIdentity: 'U123', ExternalId: 'ext-1' },
        masterCredentials: creds,
        clientConfig: { endpoint: aws.url, region: 'us-east-1' },
      }),
    });
    const stack = await stackOf(asProd, 'api-prod');
    expect(stack.StackId).toMatch(/:111111111111:stack\/api-prod\//);
    expect(aws.assumeRoleCalls).toEqual([
      {
        RoleArn: roleArn,
        RoleSessionName: 'promote-U123',
        SourceIdentity: 'U123',
        ExternalId: 'ext-1',
        DurationSeconds: undefined,
      },
    ]);
    const describeCall = aws.callsOf('DescribeStacks').at(-1)!;
    expect(describeCall.accessKeyId).toMatch(/^ASIA111111111111/);
    expect(describeCall.region).toBe('us-east-1');
  });

  it('returns credentials that expire in an hour and the caller identity of each key', async () => {
    const aws = await fake({ defaultAccount: '222222222222' });
    const sts = new STSClient({ endpoint: aws.url, region: 'eu-west-1', credentials: creds });
    expect(await sts.send(new GetCallerIdentityCommand({}))).toMatchObject({ Account: '222222222222' });
    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::333333333333:role/deployer', RoleSessionName: 'bot' }),
    );
    const c = assumed.Credentials!;
    expect(c.AccessKeyId).toMatch(/^ASIA333333333333/);
    const inAnHour = Date.now() + 3_600_000;
    expect(Math.abs(c.Expiration!.getTime() - inAnHour)).toBeLessThan(60_000);
    expect(assumed.AssumedRoleUser!.Arn).toBe('arn:aws:sts::333333333333:assumed-role/deployer/bot');
    const asRole = new STSClient({
      endpoint: aws.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken },
    });
    expect(await asRole.send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: '333333333333',
      Arn: 'arn:aws:sts::333333333333:assumed-role/deployer/bot',
    });
    const bad = await errorOf(sts.send(new AssumeRoleCommand({ RoleArn: 'not-an-arn', RoleSessionName: 'bot' })));
    expect(bad.name).toBe('ValidationError');
  });
  it('serves clients configured only through AWS_ENDPOINT_URL and AWS_REGION, as the bot process is', async () => {
    const aws = await fake();
    putBase(aws, 'api-prod', { account: '111111111111', region: 'eu-central-1' });
    // The bot's setup: env credentials (`test`), path-style S3, a role per target account.
    const script = `
      import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
      import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
      import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
      await new S3Client({ forcePathStyle: true }).send(new PutObjectCommand({ Bucket: 'b', Key: 't.json', Body: '{}' }));
      const credentials = fromTemporaryCredentials({
        params: { RoleArn: 'arn:aws:iam::111111111111:role/promote-bot', RoleSessionName: 'bot' },
      });
      const out = await new CloudFormationClient({ credentials }).send(new DescribeStacksCommand({ StackName: 'api-prod' }));
      process.stdout.write(out.Stacks[0].StackId);
    `;
    const { stdout } = await promisify(execFile)('node', ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH,
        AWS_ENDPOINT_URL: aws.url,
        AWS_REGION: 'eu-central-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      },
    });
    expect(stdout).toBe(aws.stack('api-prod')!.stackId);
    expect(aws.calls.map((c) => [c.service, c.action, c.region])).toEqual([
      ['s3', 'PutObject', 'eu-central-1'],
      ['sts', 'AssumeRole', 'eu-central-1'],
      ['cloudformation', 'DescribeStacks', 'eu-central-1'],
    ]);
    expect(aws.s3Objects.get('b/t.json')).toBe('{}');
  });
});

describe('fault injection', () => {
  it('throttles the next calls of an action with 400 Throttling "Rate exceeded"', async () => {
    const aws = await fake();
    putBase(aws);
    aws.throttle('DescribeStacks', 1);
    const noRetry = cfnClient(aws, { maxAttempts: 1 });
    const err = await errorOf(noRetry.send(new DescribeStacksCommand({ StackName: 'api' })));
    expect(err).toMatchObject({ name: 'Throttling', message: 'Rate exceeded', status: 400 });
    expect((await stackOf(noRetry, 'api')).StackName).toBe('api');

    // The SDK's standard retry treats it as throttling and tries again.
    aws.throttle('*', 2);
    const out = await cfnClient(aws).send(new DescribeStacksCommand({ StackName: 'api' }));
    expect(out.$metadata.attempts).toBe(3);
    expect(aws.callsOf('DescribeStacks')).toHaveLength(5);
  });

  it('fails the next call of an action with the given error', async () => {
    const aws = await fake();
    putBase(aws);
    aws.failNext('CreateChangeSet', { code: 'LimitExceededException', message: 'too many change sets' });
    aws.failNext('GetTemplate', { code: 'InternalFailure', message: 'oops', status: 500 });
    const cfn = cfnClient(aws, { maxAttempts: 1 });
    expect(await errorOf(createChangeSet(cfn))).toMatchObject({
      name: 'LimitExceededException',
      message: 'too many change sets',
      status: 400,
    });
    expect(await errorOf(cfn.send(new GetTemplateCommand({ StackName: 'api' })))).toMatchObject({ status: 500 });
    await createChangeSet(cfn);
  });

  it('refuses a request signed more than 5 minutes before it arrived, as AWS does', async () => {
    const aws = await fake();
    putBase(aws);
    // A client whose clock is 10 minutes behind signs with an X-Amz-Date 10 minutes old.
    const late = cfnClient(aws, { maxAttempts: 1, systemClockOffset: -10 * 60_000 });
    const err = await errorOf(late.send(new DescribeStacksCommand({ StackName: 'api' })));
    expect(err).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect((err as Error).message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z/);
    expect(aws.callsOf('DescribeStacks')).toHaveLength(0);
    // The SDK took its clock offset from the answer's Date header: its next request is signed on time.
    expect((await stackOf(late, 'api')).StackName).toBe('api');
  });

  it('answers InvalidAction for an unknown action', async () => {
    const aws = await fake();
    const res = await fetch(`${aws.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=FlyToTheMoon&Version=2010-05-15',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>InvalidAction</Code>');
  });
});

describe('on-demand faults for the fault suite', () => {
  const ROLE = 'arn:aws:iam::333333333333:role/promote-bot';

  function asRole(aws: FakeAws, session = 'promote-bot-U0REQ', extra: Partial<CloudFormationClientConfig> = {}) {
    return cfnClient(aws, {
      maxAttempts: 1,
      credentials: fromTemporaryCredentials({
        params: { RoleArn: ROLE, RoleSessionName: session },
        masterCredentials: creds,
        clientConfig: { endpoint: aws.url, region: 'us-east-1', maxAttempts: 1 },
      }),
      ...extra,
    });
  }

  it('denies an action with IAM’s 403 AccessDenied, naming the caller, the action and the stack, until allowed', async () => {
    const aws = await fake();
    putBase(aws, 'api-prod', { account: '333333333333' });
    const cfn = asRole(aws);
    const created = await createChangeSet(cfn, { StackName: 'api-prod' });
    await settledChangeSet(cfn, created.Id!);
    aws.deny('cloudformation:ExecuteChangeSet');
    const execute = () =>
      cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'x-1' }));
    for (let i = 0; i < 3; i++) {
      expect(await errorOf(execute())).toEqual({
        name: 'AccessDenied',
        status: 403,
        message:
          'User: arn:aws:sts::333333333333:assumed-role/promote-bot/promote-bot-U0REQ is not authorized to perform: ' +
          `cloudformation:ExecuteChangeSet on resource: ${aws.stack('api-prod')!.stackId} because no identity-based ` +
          'policy allows the cloudformation:ExecuteChangeSet action',
      });
    }
    expect(aws.stack('api-prod')!.status).toBe('UPDATE_COMPLETE');
    // Other actions are not denied.
    expect((await stackOf(cfn, 'api-prod')).StackName).toBe('api-prod');
    aws.allow('cloudformation:ExecuteChangeSet');
    await execute();
    expect((await terminal(cfn, 'api-prod')).StackStatus).toBe('UPDATE_COMPLETE');
    expect(aws.callsOf('ExecuteChangeSet')).toHaveLength(4);
  });

  it('denies only `times` calls when asked, and only callers of the given account', async () => {
    const aws = await fake();
    putBase(aws, 'api-prod', { account: '333333333333' });
    putBase(aws, 'api-dev');
    aws.deny('DescribeStacks', { account: '333333333333', times: 2 });
    const dev = cfnClient(aws, { maxAttempts: 1 });
    const prod = asRole(aws);
    expect((await stackOf(dev, 'api-dev')).StackName).toBe('api-dev');
    expect((await errorOf(stackOf(prod, 'api-prod'))).name).toBe('AccessDenied');
    expect((await stackOf(dev, 'api-dev')).StackName).toBe('api-dev');
    expect((await errorOf(stackOf(prod, 'api-prod'))).name).toBe('AccessDenied');
    expect((await stackOf(prod, 'api-prod')).StackName).toBe('api-prod');
  });

  it('denies an S3 upload with S3’s own 403 "Access Denied"', async () => {
    const aws = await fake();
    const s3 = new S3Client({ endpoint: aws.url, region: 'us-east-1', credentials: creds, forcePathStyle: true });
    aws.deny('s3:PutObject', { times: 1 });
    const put = () => s3.send(new PutObjectCommand({ Bucket: 'b', Key: 't.json', Body: '{}' }));
    expect(await errorOf(put())).toEqual({ name: 'AccessDenied', message: 'Access Denied', status: 403 });
    await put();
    expect(aws.s3Objects.get('b/t.json')).toBe('{}');
  });

  it('refuses AssumeRole of a denied role, naming the caller and the role, and records the attempt', async () => {
    const aws = await fake();
    putBase(aws, 'api-prod', { account: '333333333333' });
    aws.denyAssumeRole(ROLE);
    const err = await errorOf(stackOf(asRole(aws), 'api-prod'));
    expect(err).toEqual({
      name: 'AccessDenied',
      status: 403,
      message: `User: arn:aws:iam::000000000000:user/test is not authorized to perform: sts:AssumeRole on resource: ${ROLE} because no identity-based policy allows the sts:AssumeRole action`,
    });
    expect(aws.assumeRoleCalls.map((c) => c.RoleArn)).toEqual([ROLE]);
    expect(aws.callsOf('DescribeStacks')).toEqual([]);
    // Another role of the same account is still assumable.
    const sts = new STSClient({ endpoint: aws.url, region: 'us-east-1', credentials: creds });
    await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::333333333333:role/other', RoleSessionName: 'bot' }));
    aws.allowAssumeRole(ROLE);
    expect((await stackOf(asRole(aws, 'promote-bot-U0NEXT'), 'api-prod')).StackName).toBe('api-prod');
  });

  it('hangs the next calls of an action: read and recorded, never answered, the next one answered', async () => {
    const aws = await fake();
    putBase(aws);
    aws.hang('DescribeStacks', 1);
    const cfn = cfnClient(aws, {
      maxAttempts: 1,
      requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true },
    });
    expect((await errorOf(stackOf(cfn, 'api'))).name).toBe('TimeoutError');
    expect(aws.callsOf('DescribeStacks')).toHaveLength(1);
    expect((await stackOf(cfn, 'api')).StackName).toBe('api');
  });

  it('ends hung requests when it closes', async () => {
    const aws = await startFakeAws(); // closed here, not by afterEach
    aws.hang('*', 1);
    const pending = errorOf(cfnClient(aws, { maxAttempts: 1 }).send(new DescribeStacksCommand({ StackName: 'api' })));
    await until(
      async () => aws.calls.length,
      (n) => n === 1,
      'the hung call to arrive',
    );
    await aws.close();
    expect((await pending).name).toMatch(/Error/);
  });

  it('throttles every call of every service during a storm, and answers again after it', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws, { maxAttempts: 1 });
    const s3 = new S3Client({
      endpoint: aws.url,
      region: 'us-east-1',
      credentials: creds,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    const sts = new STSClient({ endpoint: aws.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    // Long enough for four first calls on a busy machine; the last call waits for its end.
    aws.throttleFor(2_000);
    const stormEnds = Date.now() + 2_000;
    expect(await errorOf(stackOf(cfn, 'api'))).toMatchObject({ name: 'Throttling', message: 'Rate exceeded' });
    expect(await errorOf(cfn.send(new GetTemplateCommand({ StackName: 'api' })))).toMatchObject({ name: 'Throttling' });
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: '{}' })))).toMatchObject({
      name: 'SlowDown',
      status: 503,
    });
    expect(await errorOf(sts.send(new GetCallerIdentityCommand({})))).toMatchObject({ name: 'Throttling' });
    await new Promise((r) => setTimeout(r, Math.max(0, stormEnds - Date.now()) + 20));
    expect((await stackOf(cfn, 'api')).StackName).toBe('api');
  });
});

describe('rollback triggers (RollbackConfiguration)', () => {
  const ALARM = 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:api-5xx';
  const OTHER = 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:api-latency';
  const watching = (minutes: number, alarms = [ALARM]) => ({
    RollbackConfiguration: {
      RollbackTriggers: alarms.map((Arn) => ({ Arn, Type: 'AWS::CloudWatch::Alarm' })),
      MonitoringTimeInMinutes: minutes,
    },
  });

  it('keeps the triggers on the change set and, once executed, on the stack; none named keeps them, [] removes them', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn, watching(0, [ALARM, OTHER]));
    const described = await settledChangeSet(cfn, created.Id!);
    expect(described.RollbackConfiguration).toEqual({
      RollbackTriggers: [
        { Arn: ALARM, Type: 'AWS::CloudWatch::Alarm' },
        { Arn: OTHER, Type: 'AWS::CloudWatch::Alarm' },
      ],
      MonitoringTimeInMinutes: 0,
    });
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id }));
    expect((await terminal(cfn, 'api')).RollbackConfiguration?.RollbackTriggers?.map((t) => t.Arn)).toEqual([
      ALARM,
      OTHER,
    ]);
    // A request naming no triggers uses the stack's; an empty list removes them.
    const kept = await createChangeSet(cfn, { ChangeSetName: 'kept', TemplateBody: BASE });
    expect(aws.stack('api')!.changeSets.find((c) => c.arn === kept.Id)!.rollback.triggers).toEqual([ALARM, OTHER]);
    const cleared = await createChangeSet(cfn, {
      ChangeSetName: 'cleared',
      TemplateBody: BASE,
      RollbackConfiguration: { RollbackTriggers: [] },
    });
    expect(aws.stack('api')!.changeSets.find((c) => c.arn === cleared.Id)!.rollback.triggers).toEqual([]);
    const sent = aws.callsOf('CreateChangeSet').at(-1)!.params;
    expect(sent['RollbackConfiguration.RollbackTriggers']).toBe('');
  });

  it('rolls the update back when a trigger alarm is in ALARM, naming the alarm in the stack event', async () => {
    const aws = await fake({ eventIntervalMs: 10 });
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn, watching(0));
    await settledChangeSet(cfn, created.Id!);
    aws.setAlarm(OTHER, 'ALARM'); // not a trigger of this change set
    aws.setAlarm(ALARM, 'ALARM');
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-a' }));
    const stack = await terminal(cfn, 'api');
    expect(stack.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(aws.stack('api')!.template).toBe(BASE);
    const rollback = (await eventsOf(cfn, 'api')).find((e) => e.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS')!;
    expect(rollback.ResourceStatusReason).toBe(`Rollback triggered by alarm ${ALARM}`);
    expect(rollback.ClientRequestToken).toBe('exec-a');
    const cs = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: created.Id }));
    expect(cs.ExecutionStatus).toBe('EXECUTE_FAILED');
  });

  it('stays UPDATE_IN_PROGRESS for the monitoring time after the resources, then rolls back when the alarm fires', async () => {
    // 10 monitoring minutes of 200 ms each: 2 s in which the alarm goes off.
    const aws = await fake({ eventIntervalMs: 5, monitoringMinuteMs: 200 });
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn, watching(10));
    await settledChangeSet(cfn, created.Id!);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id, ClientRequestToken: 'exec-m' }));
    await until(
      () => eventsOf(cfn, 'api'),
      (events) => events.some((e) => e.LogicalResourceId === 'Topic' && e.ResourceStatus === 'CREATE_COMPLETE'),
      'the last resource to be created',
    );
    expect((await stackOf(cfn, 'api')).StackStatus).toBe('UPDATE_IN_PROGRESS');
    aws.setAlarm(ALARM, 'ALARM');
    expect((await terminal(cfn, 'api')).StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    const sequence = (await eventsOf(cfn, 'api'))
      .filter((e) => e.ClientRequestToken === 'exec-m' && e.LogicalResourceId === 'api')
      .reverse()
      .map((e) => e.ResourceStatus);
    // No cleanup of the update happened: the rollback came during the monitoring time.
    expect(sequence).toEqual([
      'UPDATE_IN_PROGRESS',
      'UPDATE_ROLLBACK_IN_PROGRESS',
      'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
      'UPDATE_ROLLBACK_COMPLETE',
    ]);
  });

  it('completes after the monitoring time when no alarm fires', async () => {
    const aws = await fake({ eventIntervalMs: 2, monitoringMinuteMs: 20 });
    putBase(aws);
    const cfn = cfnClient(aws);
    const created = await createChangeSet(cfn, watching(5));
    await settledChangeSet(cfn, created.Id!);
    aws.setAlarm(ALARM, 'OK');
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id }));
    expect((await terminal(cfn, 'api')).StackStatus).toBe('UPDATE_COMPLETE');
  });

  it('refuses more than 5 triggers, a type that is not an alarm and more than 180 minutes', async () => {
    const aws = await fake();
    putBase(aws);
    const cfn = cfnClient(aws);
    const six = Array.from({ length: 6 }, (_, i) => `${ALARM}-${i}`);
    expect((await errorOf(createChangeSet(cfn, watching(0, six)))).message).toMatch(/less than or equal to 5/);
    expect((await errorOf(createChangeSet(cfn, watching(181)))).message).toMatch(/monitoringTimeInMinutes/);
    const topic = {
      RollbackConfiguration: { RollbackTriggers: [{ Arn: ALARM, Type: 'AWS::SNS::Topic' }] },
    };
    expect((await errorOf(createChangeSet(cfn, topic))).message).toMatch(/Unsupported rollback trigger type/);
  });
});

describe('nested stacks (IncludeNestedStacks)', () => {
  const url = (key: string) => `https://templates.s3.amazonaws.com/${key}`;
  const storage = (tables: string[]) =>
    JSON.stringify({
      Parameters: { Stage: { Type: 'String' } },
      Resources: Object.fromEntries(
        tables.map((t) => [
          t,
          {
            Type: 'AWS::DynamoDB::Table',
            Properties: { TableName: { 'Fn::Sub': `${t.toLowerCase()}-\${Stage}` } },
          },
        ]),
      ),
    });
  const root = (key: string, queueTimeout = 30) =>
    JSON.stringify({
      Resources: {
        Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: queueTimeout } },
        Storage: {
          Type: 'AWS::CloudFormation::Stack',
          Properties: { TemplateURL: url(key), Parameters: { Stage: 'prod' } },
        },
      },
    });

  async function nestedSetup(opts: FakeAwsOptions = {}) {
    const aws = await fake(opts);
    aws.s3Objects.set('templates/storage-v1.json', storage(['Orders', 'Users']));
    aws.s3Objects.set('templates/storage-v2.json', storage(['Users']));
    aws.putStack({ name: 'app', template: root('storage-v1.json') });
    return { aws, cfn: cfnClient(aws) };
  }

  it('makes the nested stack from its TemplateURL, the parent resource pointing to it', async () => {
    const { aws } = await nestedSetup();
    const nested = aws.nestedStack('app', 'Storage')!;
    expect(nested.parentId).toBe(aws.stack('app')!.stackId);
    expect(nested.parameters).toEqual({ Stage: 'prod' });
    expect(nested.template).toBe(storage(['Orders', 'Users']));
  });

  it('plans a nested change set the parent row points to, paged like any other', async () => {
    const { aws, cfn } = await nestedSetup({ pageSize: 1 });
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'app',
        ChangeSetName: 'nested-1',
        TemplateBody: root('storage-v2.json'),
        IncludeNestedStacks: true,
      }),
    );
    const described = await settledChangeSet(cfn, created.Id!);
    expect(described.IncludeNestedStacks).toBe(true);
    const { changes } = await allChanges(cfn, created.Id!);
    const row = byId(changes).get('Storage')!;
    expect(row).toMatchObject({ Action: 'Modify', ResourceType: 'AWS::CloudFormation::Stack', Replacement: 'False' });
    expect(row.PhysicalResourceId).toBe(aws.nestedStack('app', 'Storage')!.stackId);
    const nested = await settledChangeSet(cfn, row.ChangeSetId!);
    expect(nested.ParentChangeSetId).toBe(created.Id);
    expect(nested.RootChangeSetId).toBe(created.Id);
    expect(nested.StackId).toBe(aws.nestedStack('app', 'Storage')!.stackId);
    const inner = byId((await allChanges(cfn, row.ChangeSetId!)).changes);
    expect(inner.get('Orders')).toMatchObject({ Action: 'Remove', ResourceType: 'AWS::DynamoDB::Table' });
    expect(inner.size).toBe(1);
  });

  it('reports a nested stack whose own properties did not change with ChangeSource Automatic', async () => {
    const { aws, cfn } = await nestedSetup();
    // The same URL with new content: the parent's resource is unchanged, its nested stack is not.
    aws.s3Objects.set('templates/storage-v1.json', storage(['Users']));
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'app',
        ChangeSetName: 'nested-auto',
        TemplateBody: root('storage-v1.json'),
        IncludeNestedStacks: true,
      }),
    );
    await settledChangeSet(cfn, created.Id!);
    const row = byId((await allChanges(cfn, created.Id!)).changes).get('Storage')!;
    expect(row.Details?.[0]).toMatchObject({ ChangeSource: 'Automatic', Evaluation: 'Dynamic' });
    expect(row.ChangeSetId).toBeDefined();
  });

  it('creates no nested change set without IncludeNestedStacks', async () => {
    const { cfn } = await nestedSetup();
    const created = await cfn.send(
      new CreateChangeSetCommand({ StackName: 'app', ChangeSetName: 'flat', TemplateBody: root('storage-v2.json') }),
    );
    await settledChangeSet(cfn, created.Id!);
    expect(byId((await allChanges(cfn, created.Id!)).changes).get('Storage')!.ChangeSetId).toBeUndefined();
  });

  it('deletes the nested change sets with the root one, and refuses to delete or execute a nested one alone', async () => {
    const { aws, cfn } = await nestedSetup();
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'app',
        ChangeSetName: 'nested-del',
        TemplateBody: root('storage-v2.json'),
        IncludeNestedStacks: true,
      }),
    );
    await settledChangeSet(cfn, created.Id!);
    const nestedArn = byId((await allChanges(cfn, created.Id!)).changes).get('Storage')!.ChangeSetId!;
    expect((await errorOf(cfn.send(new DeleteChangeSetCommand({ ChangeSetName: nestedArn })))).name).toBe(
      'InvalidChangeSetStatusException',
    );
    expect((await errorOf(cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: nestedArn })))).name).toBe(
      'InvalidChangeSetStatusException',
    );
    await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: created.Id }));
    expect((await errorOf(cfn.send(new DescribeChangeSetCommand({ ChangeSetName: nestedArn })))).name).toBe(
      'ChangeSetNotFoundException',
    );
    expect(aws.nestedStack('app', 'Storage')!.changeSets).toEqual([]);
  });

  it('executing the root change set applies the nested stack’s template too', async () => {
    const { aws, cfn } = await nestedSetup();
    const created = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'app',
        ChangeSetName: 'nested-exec',
        TemplateBody: root('storage-v2.json', 60),
        IncludeNestedStacks: true,
      }),
    );
    await settledChangeSet(cfn, created.Id!);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id }));
    expect((await terminal(cfn, 'app')).StackStatus).toBe('UPDATE_COMPLETE');
    expect(aws.nestedStack('app', 'Storage')!.template).toBe(storage(['Users']));
    expect(aws.nestedStack('app', 'Storage')!.changeSets[0]!.executionStatus).toBe('EXECUTE_COMPLETE');
  });
});

describe('exports and imports between stacks', () => {
  const exporting = JSON.stringify({
    Resources: { Jobs: { Type: 'AWS::SQS::Queue', Properties: {} } },
    Outputs: { Url: { Value: { Ref: 'Jobs' }, Export: { Name: 'jobs-url' } } },
  });
  const importing = JSON.stringify({
    Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::ImportValue': 'jobs-url' } } } },
  });
  const plain = JSON.stringify({ Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: {} } } });

  it('a change set importing an export no other stack has fails; once a stack exports it, it plans', async () => {
    const aws = await fake();
    aws.putStack({ name: 'infra', template: plain });
    aws.putStack({ name: 'app', template: plain });
    // The same export in another account does not count.
    aws.putStack({ name: 'elsewhere', account: '999999999999', template: exporting });
    const cfn = cfnClient(aws);
    const first = await createChangeSet(cfn, { StackName: 'app', TemplateBody: importing, Parameters: [] });
    expect(await settledChangeSet(cfn, first.Id!)).toMatchObject({
      Status: 'FAILED',
      StatusReason: 'No export named jobs-url found',
      ExecutionStatus: 'UNAVAILABLE',
    });

    const infra = await createChangeSet(cfn, { StackName: 'infra', TemplateBody: exporting, Parameters: [] });
    await settledChangeSet(cfn, infra.Id!);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: infra.Id }));
    expect((await terminal(cfn, 'infra')).StackStatus).toBe('UPDATE_COMPLETE');

    const again = await createChangeSet(cfn, {
      StackName: 'app',
      ChangeSetName: 'promote-2',
      TemplateBody: importing,
      Parameters: [],
    });
    expect(await settledChangeSet(cfn, again.Id!)).toMatchObject({ Status: 'CREATE_COMPLETE' });
  });
});
