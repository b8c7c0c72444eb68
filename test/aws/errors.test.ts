// AWS failures classified and explained, through the bot's own clients (createAwsClients) against the fake AWS
// endpoint over HTTP, so the SDK's error parsing and our middleware's call tags are what is under test.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AwsClientOptions, createAwsClients, type StageAccess } from '../../src/aws/clients.js';
import {
  createChangeSet,
  describeStack,
  doing,
  executeChangeSet,
  isThrottling,
  realSleep,
  waitForChangeSet,
} from '../../src/aws/cloudformation.js';
import { type AwsFault, awsCallOf, classifyAwsError, explainAwsFault } from '../../src/aws/errors.js';
import { uploadTemplate } from '../../src/aws/s3.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';

const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_EC2_METADATA_DISABLED',
] as const;
const savedEnv = new Map<string, string | undefined>();

const ACCOUNT = '333333333333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/promote-bot`;
const prod: StageAccess = { region: 'us-east-1', role: ROLE, externalId: 'ext-123' };
const TEMPLATE = JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: {} } } });
const NEXT = JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { DelaySeconds: 5 } } } });
const CHANGE_SET = `arn:aws:cloudformation:us-east-1:${ACCOUNT}:changeSet/promote-1/0f3c`;

let aws: FakeAws;
const servers: Server[] = [];

beforeAll(() => {
  for (const k of ENV_KEYS) savedEnv.set(k, process.env[k]);
});

beforeEach(async () => {
  aws = await startFakeAws({ changeSetStepMs: 5, eventIntervalMs: 2 });
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.AWS_ENDPOINT_URL = aws.url;
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  aws.putStack({ name: 'api-prod', account: ACCOUNT, template: TEMPLATE });
});

afterEach(async () => {
  await aws.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

afterAll(() => {
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

// One attempt: the fault as the first answer shows it, not the SDK's retries.
const clientsOf = (o: AwsClientOptions = {}) => createAwsClients({ maxAttempts: 1, forcePathStyle: true, ...o });

/** The error `p` rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('expected the call to fail'),
    (err: unknown) => err,
  );
}

/** A change set on api-prod that is ready to execute, made by the prod role. */
async function availableChangeSet(): Promise<string> {
  const cfn = clientsOf().cloudFormation(prod, 'U0REQ');
  const { arn } = await createChangeSet(cfn, {
    StackName: 'api-prod',
    ChangeSetName: 'promote-1',
    ChangeSetType: 'UPDATE',
    TemplateBody: NEXT,
  });
  await waitForChangeSet(cfn, arn, { sleep: (ms) => realSleep(ms / 25) });
  return arn;
}

/** Every explanation is plain text for a person: no Slack markup, no raw object dumps. */
function expectPlainText(text: string) {
  expect(text).not.toMatch(/[*`<>]|\[object /);
  expect(text.length).toBeGreaterThan(20);
}

type Call = 'ExecuteChangeSet' | 'AssumeRole' | 'PutObject';

interface Row {
  code: string;
  status: number;
  message: string;
  /** Where the fake answers it: CloudFormation, STS (the role's credentials) or S3 */
  on: Call;
  /** The SDK's name for a modelled error code */
  sdkName?: string;
  expected: Pick<AwsFault, 'kind' | 'reason' | 'throttled'>;
  says: string[];
}

const permanent = (reason: AwsFault['reason']) => ({ kind: 'permanent' as const, reason, throttled: false });
const transient = (reason: AwsFault['reason']) => ({
  kind: 'transient' as const,
  reason,
  throttled: reason === 'throttled',
});

const IAM_DENIAL =
  `User: arn:aws:sts::${ACCOUNT}:assumed-role/promote-bot/promote-bot-U0REQ is not authorized to perform: ` +
  `cloudformation:ExecuteChangeSet on resource: arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/api-prod/5a1e ` +
  'because no identity-based policy allows the cloudformation:ExecuteChangeSet action';

const ROWS: Row[] = [
  {
    code: 'AccessDenied',
    status: 403,
    message: IAM_DENIAL,
    on: 'ExecuteChangeSet',
    expected: permanent('access_denied'),
    says: [ROLE, ACCOUNT, 'cloudformation:ExecuteChangeSet', 'api-prod', "allow that action in the role's policy"],
  },
  {
    code: 'AccessDeniedException',
    status: 400,
    message: 'User is not authorized to perform this action',
    on: 'ExecuteChangeSet',
    expected: permanent('access_denied'),
    says: [ROLE, ACCOUNT, 'cloudformation:ExecuteChangeSet'],
  },
  {
    code: 'UnauthorizedOperation',
    status: 403,
    message: 'You are not authorized to perform this operation.',
    on: 'ExecuteChangeSet',
    expected: permanent('access_denied'),
    says: [ROLE, 'cloudformation:ExecuteChangeSet'],
  },
  {
    code: 'AccessDenied',
    status: 403,
    message: `User: arn:aws:iam::000000000000:user/test is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`,
    on: 'AssumeRole',
    expected: permanent('assume_role_denied'),
    says: [
      ROLE,
      ACCOUNT,
      'trust policy',
      'arn:aws:iam::000000000000:user/test',
      'sts:SetSourceIdentity',
      'sts:TagSession',
      'ExternalId',
    ],
  },
  {
    code: 'ExpiredToken',
    status: 400,
    message: 'The security token included in the request is expired',
    on: 'AssumeRole',
    expected: permanent('expired_credentials'),
    says: ['expired', 'sts:AssumeRole', 'renew'],
  },
  {
    code: 'ExpiredTokenException',
    status: 400,
    message: 'The security token included in the request is expired',
    on: 'ExecuteChangeSet',
    expected: permanent('expired_credentials'),
    says: ['expired', 'cloudformation:ExecuteChangeSet'],
  },
  {
    code: 'InvalidClientTokenId',
    status: 403,
    message: 'The security token included in the request is invalid.',
    on: 'AssumeRole',
    expected: permanent('invalid_credentials'),
    says: ["the bot's own credentials", 'InvalidClientTokenId', 'access key'],
  },
  {
    code: 'UnrecognizedClientException',
    status: 400,
    message: 'The security token included in the request is invalid.',
    on: 'ExecuteChangeSet',
    expected: permanent('invalid_credentials'),
    says: ["the bot's own credentials", 'UnrecognizedClientException'],
  },
  {
    code: 'SignatureDoesNotMatch',
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided.',
    on: 'AssumeRole',
    expected: permanent('invalid_credentials'),
    says: ["the bot's own credentials", 'SignatureDoesNotMatch'],
  },
  {
    code: 'ValidationError',
    status: 400,
    message: 'Template format error: Unresolved resource dependencies [Topic] in the Resources block of the template',
    on: 'ExecuteChangeSet',
    expected: permanent('validation'),
    says: ['CloudFormation refused cloudformation:ExecuteChangeSet', 'Unresolved resource dependencies [Topic]'],
  },
  {
    code: 'ChangeSetNotFound',
    sdkName: 'ChangeSetNotFoundException',
    status: 404,
    message: `ChangeSet [${CHANGE_SET}] does not exist`,
    on: 'ExecuteChangeSet',
    expected: permanent('change_set_not_found'),
    says: ['no longer exists', 'plan the change again'],
  },
  {
    code: 'InsufficientCapabilities',
    status: 400,
    message: 'Requires capabilities : [CAPABILITY_NAMED_IAM]',
    on: 'ExecuteChangeSet',
    expected: permanent('insufficient_capabilities'),
    says: ['CAPABILITY_NAMED_IAM', 'plan the change again'],
  },
  {
    code: 'LimitExceeded',
    status: 400,
    message: 'Limit on the number of stacks exceeded',
    on: 'ExecuteChangeSet',
    expected: permanent('limit_exceeded'),
    says: ['quota', `account ${ACCOUNT}`, 'Limit on the number of stacks exceeded', 'Service Quotas'],
  },
  {
    code: 'InsufficientCapabilitiesException',
    status: 400,
    message: 'Requires capabilities : [CAPABILITY_IAM]',
    on: 'ExecuteChangeSet',
    expected: permanent('insufficient_capabilities'),
    says: ['CAPABILITY_IAM'],
  },
  {
    code: 'LimitExceededException',
    status: 400,
    message: 'Maximum number of change sets reached',
    on: 'ExecuteChangeSet',
    expected: permanent('limit_exceeded'),
    says: ['quota', 'Maximum number of change sets reached'],
  },
  {
    code: 'Throttling',
    status: 400,
    message: 'Rate exceeded',
    on: 'ExecuteChangeSet',
    expected: transient('throttled'),
    says: ['throttling', 'cloudformation:ExecuteChangeSet', 'try again'],
  },
  {
    code: 'ThrottlingException',
    status: 400,
    message: 'Rate exceeded',
    on: 'AssumeRole',
    expected: transient('throttled'),
    says: ['throttling', 'sts:AssumeRole'],
  },
  {
    code: 'RequestLimitExceeded',
    status: 503,
    message: 'Request limit exceeded.',
    on: 'ExecuteChangeSet',
    expected: transient('throttled'),
    says: ['throttling'],
  },
  {
    code: 'TooManyRequestsException',
    status: 429,
    message: 'Too Many Requests',
    on: 'ExecuteChangeSet',
    expected: transient('throttled'),
    says: ['throttling'],
  },
  {
    code: 'SlowDown',
    status: 503,
    message: 'Please reduce your request rate.',
    on: 'PutObject',
    expected: transient('throttled'),
    says: ['throttling', 's3:PutObject'],
  },
  {
    code: 'InternalFailure',
    status: 500,
    message: 'The request processing has failed because of an unknown error, exception or failure.',
    on: 'ExecuteChangeSet',
    expected: transient('service_error'),
    says: ['AWS failed internally', 'InternalFailure', 'try again'],
  },
  {
    code: 'ServiceUnavailable',
    status: 503,
    message: 'Service is unable to handle request.',
    on: 'ExecuteChangeSet',
    expected: transient('service_error'),
    says: ['ServiceUnavailable', 'try again'],
  },
  {
    code: 'SomethingNew',
    status: 502,
    message: 'Bad gateway',
    on: 'ExecuteChangeSet',
    expected: transient('service_error'),
    says: ['SomethingNew', 'try again'],
  },
  {
    code: 'SomethingNew',
    status: 400,
    message: 'A refusal nobody has seen yet',
    on: 'ExecuteChangeSet',
    expected: permanent('unknown'),
    says: ['SomethingNew', 'on change set promote-1', 'A refusal nobody has seen yet'],
  },
  {
    code: 'AccessDenied',
    status: 403,
    message: 'Access Denied',
    on: 'PutObject',
    expected: permanent('access_denied'),
    says: [ROLE, 's3:PutObject', 's3://templates/api/p-1.template'],
  },
];

/** Makes the call the row's fault is injected into, through the bot's clients for the prod role. */
async function failingCall(row: Row): Promise<unknown> {
  const clients = clientsOf();
  if (row.on === 'PutObject') {
    aws.failNext('PutObject', { code: row.code, message: row.message, status: row.status });
    return rejection(
      uploadTemplate(clients.s3(prod, 'U0REQ'), {
        bucket: 'templates',
        key: 'api/p-1.template',
        body: TEMPLATE,
        region: 'us-east-1',
      }),
    );
  }
  aws.failNext(row.on, { code: row.code, message: row.message, status: row.status });
  return rejection(executeChangeSet(clients.cloudFormation(prod, 'U0REQ'), CHANGE_SET, 'exec-1'));
}

const actionOf = (on: Call) =>
  on === 'AssumeRole' ? 'sts:AssumeRole' : on === 'PutObject' ? 's3:PutObject' : 'cloudformation:ExecuteChangeSet';

describe('classifyAwsError through the bot’s clients', () => {
  it.each(ROWS)('$code ($status) from $on is $expected.kind $expected.reason', async (row) => {
    const err = await failingCall(row);
    const fault = classifyAwsError(err);
    expect(fault).toMatchObject({ ...row.expected, code: row.sdkName ?? row.code, status: row.status });
    expect(fault.message).toBe(row.message);
    expect(fault.call).toBe(actionOf(row.on));
    expect(fault.region).toBe('us-east-1');
    if (row.expected.reason === 'access_denied' || row.expected.reason === 'assume_role_denied') {
      expect(fault).toMatchObject({ role: ROLE, account: ACCOUNT });
    }
    const text = explainAwsFault(fault);
    for (const part of row.says) expect(text).toContain(part);
    expectPlainText(text.replace(row.message, ''));
  });

  it('tags every failed call with the call, the role, its account and region, and what it named', async () => {
    aws.failNext('ExecuteChangeSet', { code: 'Throttling', message: 'Rate exceeded' });
    const err = await rejection(executeChangeSet(clientsOf().cloudFormation(prod, 'U0REQ'), CHANGE_SET, 'exec-1'));
    expect(awsCallOf(err)).toEqual({
      action: 'cloudformation:ExecuteChangeSet',
      role: ROLE,
      account: ACCOUNT,
      region: 'us-east-1',
      resource: CHANGE_SET,
    });
    aws.failNext('DescribeStacks', { code: 'Throttling', message: 'Rate exceeded' });
    const byStack = await rejection(describeStack(clientsOf().cloudFormation(prod, 'U0REQ'), 'api-prod'));
    expect(awsCallOf(byStack)).toMatchObject({ action: 'cloudformation:DescribeStacks', stack: 'api-prod' });
    // The tag does not show in logs or JSON: it is not enumerable.
    expect(Object.keys((err as Error).cause as object)).not.toContain('action');
  });

  it('tags calls of a stage without a role with its region only', async () => {
    aws.failNext('DescribeStacks', { code: 'AccessDenied', message: 'Access Denied', status: 403 });
    const err = await rejection(
      describeStack(clientsOf().cloudFormation({ region: 'us-east-1' }, 'U0REQ'), 'api-prod'),
    );
    const fault = classifyAwsError(err);
    expect(fault).toMatchObject({
      reason: 'access_denied',
      call: 'cloudformation:DescribeStacks',
      region: 'us-east-1',
    });
    expect(fault.role).toBeUndefined();
    expect(explainAwsFault(fault)).toContain("the bot's AWS credentials may not call cloudformation:DescribeStacks");
  });
});

describe('denials from the fake IAM', () => {
  it('explains an ExecuteChangeSet denial with the role, its account, the action and the stack', async () => {
    const arn = await availableChangeSet();
    aws.deny('cloudformation:ExecuteChangeSet');
    const err = await rejection(executeChangeSet(clientsOf().cloudFormation(prod, 'U0REQ'), arn, 'exec-1'));
    const fault = classifyAwsError(err);
    expect(fault).toMatchObject({
      kind: 'permanent',
      reason: 'access_denied',
      code: 'AccessDenied',
      status: 403,
      action: 'cloudformation:ExecuteChangeSet',
      role: ROLE,
      account: ACCOUNT,
      region: 'us-east-1',
      stack: 'api-prod',
    });
    expect(explainAwsFault(fault)).toBe(
      `the role ${ROLE} in ${ACCOUNT} may not call cloudformation:ExecuteChangeSet on api-prod: allow that action in the role's policy`,
    );
  });

  it('names the missing permission, not the call, when IAM names another action', async () => {
    aws.failNext('CreateChangeSet', {
      code: 'AccessDenied',
      status: 403,
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/promote-bot/promote-bot-U0REQ is not authorized to perform: iam:PassRole on resource: arn:aws:iam::${ACCOUNT}:role/cfn-exec because no identity-based policy allows the iam:PassRole action`,
    });
    const err = await rejection(
      createChangeSet(clientsOf().cloudFormation(prod, 'U0REQ'), {
        StackName: 'api-prod',
        ChangeSetName: 'promote-2',
        TemplateBody: NEXT,
      }),
    );
    const fault = classifyAwsError(err);
    expect(fault).toMatchObject({ action: 'iam:PassRole', call: 'cloudformation:CreateChangeSet', role: ROLE });
    expect(explainAwsFault(fault)).toContain('may not call iam:PassRole on api-prod');
  });

  it('says an explicit deny must be lifted rather than an allow added', async () => {
    aws.failNext('ExecuteChangeSet', {
      code: 'AccessDenied',
      status: 403,
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/promote-bot/s is not authorized to perform: cloudformation:ExecuteChangeSet on resource: arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/api-prod/1 with an explicit deny in a service control policy`,
    });
    const err = await rejection(executeChangeSet(clientsOf().cloudFormation(prod, 'U0REQ'), CHANGE_SET, 'exec-1'));
    const text = explainAwsFault(classifyAwsError(err));
    expect(text).toContain('explicit deny in a service control policy');
    expect(text).not.toContain('allow that action');
  });

  it('explains an AssumeRole denial with the role and its account, before any call of the stage runs', async () => {
    aws.denyAssumeRole(ROLE);
    const err = await rejection(describeStack(clientsOf().cloudFormation(prod, 'U0REQ'), 'api-prod'));
    const fault = classifyAwsError(err);
    expect(fault).toMatchObject({
      kind: 'permanent',
      reason: 'assume_role_denied',
      action: 'sts:AssumeRole',
      role: ROLE,
      account: ACCOUNT,
      principal: 'arn:aws:iam::000000000000:user/test',
    });
    const text = explainAwsFault(fault);
    expect(text).toContain(`the bot may not assume the role ${ROLE} in ${ACCOUNT}`);
    expect(text).toContain(
      "the role's trust policy must allow the bot's principal (arn:aws:iam::000000000000:user/test)",
    );
    expectPlainText(text);
    expect(aws.callsOf('DescribeStacks')).toEqual([]);
  });
});

describe('timeouts', () => {
  it('ends a hung CloudFormation call with a transient timeout fault', async () => {
    aws.hang('DescribeStacks', 1);
    const started = Date.now();
    const err = await rejection(
      describeStack(clientsOf({ requestTimeoutMs: 300 }).cloudFormation(prod, 'U0REQ'), 'api-prod'),
    );
    const elapsed = Date.now() - started;
    expect(classifyAwsError(err)).toMatchObject({
      kind: 'transient',
      reason: 'timeout',
      code: 'TimeoutError',
      call: 'cloudformation:DescribeStacks',
      stack: 'api-prod',
    });
    // Ended by the configured timeout, not by the test's own 5-second limit.
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    expect(aws.callsOf('DescribeStacks')).toHaveLength(1);
  });

  it('gives the STS client of the role credentials the same timeout', async () => {
    aws.hang('AssumeRole', 1);
    const err = await rejection(
      describeStack(clientsOf({ requestTimeoutMs: 300 }).cloudFormation(prod, 'U0REQ'), 'api-prod'),
    );
    expect(classifyAwsError(err)).toMatchObject({
      kind: 'transient',
      reason: 'timeout',
      call: 'sts:AssumeRole',
      role: ROLE,
      account: ACCOUNT,
    });
  });

  it('gives the S3 client the same timeout', async () => {
    aws.hang('PutObject', 1);
    const err = await rejection(
      uploadTemplate(clientsOf({ requestTimeoutMs: 300 }).s3(prod, 'U0REQ'), {
        bucket: 'templates',
        key: 't.template',
        body: TEMPLATE,
        region: 'us-east-1',
      }),
    );
    expect(classifyAwsError(err)).toMatchObject({ kind: 'transient', reason: 'timeout', call: 's3:PutObject' });
  });

  it('retries a hung call as the SDK retries any transient fault, and succeeds when AWS answers again', async () => {
    aws.hang('DescribeStacks', 1);
    const clients = createAwsClients({ maxAttempts: 2, requestTimeoutMs: 300 });
    const stack = await describeStack(clients.cloudFormation(prod, 'U0REQ'), 'api-prod');
    expect(stack?.StackName).toBe('api-prod');
    expect(aws.callsOf('DescribeStacks')).toHaveLength(2);
  });
});

describe('network failures', () => {
  /** A server that accepts each request and drops the connection without answering. */
  async function droppingServer(): Promise<string> {
    const server = createServer((req) => req.socket.destroy());
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A port nothing listens on: bound, then closed again. */
  async function closedPort(): Promise<string> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    return `http://127.0.0.1:${port}`;
  }

  it.each([
    { name: 'a dropped connection (socket hang up)', endpoint: droppingServer, code: 'ECONNRESET' },
    { name: 'a refused connection', endpoint: closedPort, code: 'ECONNREFUSED' },
  ])('$name is a transient network fault of the call', async ({ endpoint, code }) => {
    process.env.AWS_ENDPOINT_URL = await endpoint();
    const dev: StageAccess = { region: 'us-east-1' };
    const err = await rejection(describeStack(clientsOf().cloudFormation(dev, 'U0REQ'), 'api-dev'));
    const fault = classifyAwsError(err);
    expect(fault).toMatchObject({ kind: 'transient', reason: 'network', code, call: 'cloudformation:DescribeStacks' });
    expect(explainAwsFault(fault)).toContain(
      `could not reach AWS for cloudformation:DescribeStacks in us-east-1 (${code})`,
    );
  });
});

describe('classifyAwsError on errors as they are thrown', () => {
  const sdkError = (name: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client') =>
    Object.assign(new Error(`${name} happened`), { name, $fault: fault, $metadata: { httpStatusCode: status } });

  it('finds the AWS error under several layers of what was being done', async () => {
    const inner = sdkError('ThrottlingException', 400);
    const err = await rejection(
      doing('promoting api to prod', () => doing('executing change set x', () => Promise.reject(inner))),
    );
    expect(classifyAwsError(err)).toMatchObject({ kind: 'transient', throttled: true, code: 'ThrottlingException' });
    expect(isThrottling(err)).toBe(true);
  });

  it.each([
    { err: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), kind: 'transient', reason: 'network' },
    { err: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), kind: 'transient', reason: 'network' },
    { err: new Error('socket hang up'), kind: 'transient', reason: 'network' },
    { err: Object.assign(new Error('timed out'), { name: 'TimeoutError' }), kind: 'transient', reason: 'timeout' },
    { err: sdkError('InternalError', 500), kind: 'transient', reason: 'service_error' },
    { err: sdkError('Whatever', 504), kind: 'transient', reason: 'service_error' },
    { err: sdkError('Whatever', 429), kind: 'transient', reason: 'throttled' },
    { err: sdkError('SlowDown', 503), kind: 'transient', reason: 'throttled' },
    {
      err: Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      kind: 'permanent',
      reason: 'missing_credentials',
    },
    { err: new Error('CloudFormation returned no change set ID'), kind: 'permanent', reason: 'unknown' },
    { err: 'a string', kind: 'permanent', reason: 'unknown' },
  ])('classifies $err.name "$err.message" as $kind $reason', ({ err, kind, reason }) => {
    const fault = classifyAwsError(new Error('doing something', { cause: err }));
    expect(fault).toMatchObject({ kind, reason, throttled: reason === 'throttled' });
    expectPlainText(explainAwsFault(fault).replace(fault.message, ''));
  });

  it('keeps isThrottling true only for throttling', () => {
    expect(isThrottling(sdkError('Throttling', 400))).toBe(true);
    expect(isThrottling(sdkError('RequestLimitExceeded', 503))).toBe(true);
    expect(isThrottling(sdkError('InternalFailure', 500))).toBe(false);
    expect(isThrottling(sdkError('AccessDenied', 403))).toBe(false);
    expect(isThrottling(undefined)).toBe(false);
  });
});
