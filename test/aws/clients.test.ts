// The per-stage AWS clients against the fake AWS endpoint, configured only through the environment as the
// bot process is (AWS_ENDPOINT_URL, AWS_REGION, env credentials): STS AssumeRole per (role, actor) with the
// actor in the session name and as SourceIdentity, cached credentials, and the role's account.
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  APPROVERS_TAG,
  approversTagValue,
  createAwsClients,
  roleSessionName,
  type StageAccess,
  sourceIdentity,
} from '../../src/aws/clients.js';
import { describeStack } from '../../src/aws/cloudformation.js';
import { createBudgets } from '../../src/budgets.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';

const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_CLOUDFORMATION',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL_S3',
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

let aws: FakeAws;

const PROD_ROLE = 'arn:aws:iam::111111111111:role/promote-bot';
const prod: StageAccess = { region: 'us-east-1', role: PROD_ROLE, externalId: 'ext-123' };
const dev: StageAccess = { region: 'us-east-1' };
const TEMPLATE = JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: {} } } });

beforeAll(() => {
  for (const k of ENV_KEYS) savedEnv.set(k, process.env[k]);
});

beforeEach(async () => {
  aws = await startFakeAws();
  for (const k of ENV_KEYS) delete process.env[k];
  // Only the environment, as in the bot process; no profile or config file can interfere.
  process.env.AWS_ENDPOINT_URL = aws.url;
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  aws.putStack({ name: 'api-prod', account: '111111111111', template: TEMPLATE });
  aws.putStack({ name: 'api-dev', template: TEMPLATE }); // the default account of `test` credentials
});

afterEach(async () => {
  await aws.close();
});

afterAll(() => {
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('createAwsClients', () => {
  it('assumes the stage role through STS with the actor in RoleSessionName, as SourceIdentity, and the ExternalId', async () => {
    const clients = createAwsClients();
    const stack = await describeStack(clients.cloudFormation(prod, 'U0123ABC'), 'api-prod');
    expect(stack?.StackId).toBe(aws.stack('api-prod')?.stackId);
    expect(aws.assumeRoleCalls).toHaveLength(1);
    const call = aws.assumeRoleCalls[0]!;
    expect(call).toMatchObject({ RoleArn: PROD_ROLE, SourceIdentity: 'U0123ABC', ExternalId: 'ext-123' });
    expect(call.RoleSessionName).toContain('U0123ABC');
  });

  it('sends no ExternalId when the stage has none', async () => {
    const clients = createAwsClients();
    await describeStack(clients.cloudFormation({ region: 'us-east-1', role: PROD_ROLE }, 'U0123ABC'), 'api-prod');
    expect(aws.assumeRoleCalls).toHaveLength(1);
    expect(aws.assumeRoleCalls[0]!.ExternalId).toBeUndefined();
  });

  it('assumes the role once for many calls by the same actor', async () => {
    const clients = createAwsClients();
    for (let i = 0; i < 5; i++) await describeStack(clients.cloudFormation(prod, 'U0123ABC'), 'api-prod');
    await Promise.all(
      Array.from({ length: 5 }, () => describeStack(clients.cloudFormation(prod, 'U0123ABC'), 'api-prod')),
    );
    expect(aws.assumeRoleCalls).toHaveLength(1);
    const keys = new Set(aws.callsOf('DescribeStacks').map((c) => c.accessKeyId));
    expect(keys.size).toBe(1);
    expect(clients.cloudFormation(prod, 'U0123ABC')).toBe(clients.cloudFormation(prod, 'U0123ABC'));
  });

  it('assumes the role once even when the first calls of an actor run concurrently', async () => {
    const clients = createAwsClients();
    await Promise.all(
      Array.from({ length: 5 }, () => describeStack(clients.cloudFormation(prod, 'U0123ABC'), 'api-prod')),
    );
    expect(aws.assumeRoleCalls).toHaveLength(1);
  });

  it('gives an execution its own session with the approvers as a session tag, valid for STS', async () => {
    const clients = createAwsClients();
    await describeStack(clients.cloudFormation(prod, 'U0REQ'), 'api-prod');
    const exec = clients.cloudFormation(prod, 'U0REQ', { approvers: ['U0ALICE', 'U0BOB'] });
    expect(exec).not.toBe(clients.cloudFormation(prod, 'U0REQ'));
    expect(clients.cloudFormation(prod, 'U0REQ', { approvers: [] })).toBe(clients.cloudFormation(prod, 'U0REQ'));
    await describeStack(exec, 'api-prod');
    const many = Array.from({ length: 40 }, (_, i) => `U0APPROVER${String(i).padStart(3, '0')}`);
    await describeStack(clients.cloudFormation(prod, 'U0REQ', { approvers: many }), 'api-prod');
    expect(aws.assumeRoleCalls.map((c) => c.Tags)).toEqual([
      undefined,
      { [APPROVERS_TAG]: 'U0ALICE U0BOB' },
      { [APPROVERS_TAG]: approversTagValue(many) },
    ]);
    expect(aws.assumeRoleCalls.every((c) => c.SourceIdentity === 'U0REQ')).toBe(true);
  });

  it('gives another actor its own session, named after them', async () => {
    const clients = createAwsClients();
    await describeStack(clients.cloudFormation(prod, 'UALICE'), 'api-prod');
    await describeStack(clients.cloudFormation(prod, 'UBOB'), 'api-prod');
    await describeStack(clients.cloudFormation(prod, 'UALICE'), 'api-prod');
    expect(aws.assumeRoleCalls.map((c) => c.SourceIdentity)).toEqual(['UALICE', 'UBOB']);
    expect(aws.assumeRoleCalls[0]!.RoleSessionName).not.toBe(aws.assumeRoleCalls[1]!.RoleSessionName);
    const keys = aws.callsOf('DescribeStacks').map((c) => c.accessKeyId);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe(keys[0]);
  });

  it('acts in the role’s account: its stacks are visible, those of the default account are not', async () => {
    const clients = createAwsClients();
    const asProd = clients.cloudFormation(prod, 'U0123ABC');
    expect(await describeStack(asProd, 'api-prod')).toBeDefined();
    expect(await describeStack(asProd, 'api-dev')).toBeUndefined();
    for (const call of aws.callsOf('DescribeStacks')) expect(call.accessKeyId).toMatch(/^ASIA111111111111/);
  });

  it('uses the default credentials without STS for a stage without a role, whoever asks', async () => {
    const clients = createAwsClients();
    expect(await describeStack(clients.cloudFormation(dev, 'UALICE'), 'api-dev')).toBeDefined();
    expect(await describeStack(clients.cloudFormation(dev, 'UBOB'), 'api-prod')).toBeUndefined();
    expect(aws.assumeRoleCalls).toEqual([]);
    expect(aws.callsOf('DescribeStacks').map((c) => c.accessKeyId)).toEqual(['test', 'test']);
    // No per-person client when there is no per-person identity.
    expect(clients.cloudFormation(dev, 'UALICE')).toBe(clients.cloudFormation(dev, 'UBOB'));
  });

  it('signs for the stage region', async () => {
    aws.putStack({ name: 'api-eu', region: 'eu-west-1', account: '111111111111', template: TEMPLATE });
    const clients = createAwsClients();
    const eu = { ...prod, region: 'eu-west-1' };
    expect(await describeStack(clients.cloudFormation(eu, 'U0123ABC'), 'api-eu')).toBeDefined();
    expect(await describeStack(clients.cloudFormation(eu, 'U0123ABC'), 'api-prod')).toBeUndefined();
    expect(new Set(aws.calls.map((c) => c.region))).toEqual(new Set(['eu-west-1']));
  });

  it('gives S3 clients the same role session, path-style for a local endpoint', async () => {
    const clients = createAwsClients({ forcePathStyle: true });
    const s3 = clients.s3(prod, 'U0123ABC');
    await s3.send(new PutObjectCommand({ Bucket: 'templates', Key: 'api/t.json', Body: TEMPLATE }));
    expect(aws.s3Objects.get('templates/api/t.json')).toBe(TEMPLATE);
    expect(aws.callsOf('PutObject')[0]!.accessKeyId).toMatch(/^ASIA111111111111/);
    expect(aws.assumeRoleCalls.map((c) => c.SourceIdentity)).toEqual(['U0123ABC']);
  });

  it('shares one role session between the CloudFormation and S3 clients of the same person', async () => {
    const clients = createAwsClients({ forcePathStyle: true });
    await describeStack(clients.cloudFormation(prod, 'U0SHARE'), 'api-prod');
    await clients
      .s3(prod, 'U0SHARE')
      .send(new PutObjectCommand({ Bucket: 'templates', Key: 'share.json', Body: TEMPLATE }));
    expect(aws.assumeRoleCalls.filter((c) => c.SourceIdentity === 'U0SHARE')).toHaveLength(1);
  });

  it('drops the least recently used clients beyond maxClients', async () => {
    const clients = createAwsClients({ maxClients: 2 });
    const a = clients.cloudFormation(prod, 'UA');
    const b = clients.cloudFormation(prod, 'UB');
    expect(clients.cloudFormation(prod, 'UA')).toBe(a); // UA is now the most recent
    clients.cloudFormation(prod, 'UC'); // evicts UB
    expect(clients.cloudFormation(prod, 'UA')).toBe(a);
    expect(clients.cloudFormation(prod, 'UB')).not.toBe(b);
  });

  it('routes CloudFormation to AWS_ENDPOINT_URL_CLOUDFORMATION alone, through the SDK’s own endpoint chain', async () => {
    delete process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = aws.url;
    const clients = createAwsClients();
    const stack = await describeStack(clients.cloudFormation(dev, 'U0123ABC'), 'api-dev');
    expect(stack?.StackId).toBe(aws.stack('api-dev')?.stackId);
    expect(aws.callsOf('DescribeStacks')).toHaveLength(1);
  });

  it('routes STS to AWS_ENDPOINT_URL_STS and CloudFormation to its own variable for a stage with a role', async () => {
    delete process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = aws.url;
    process.env.AWS_ENDPOINT_URL_STS = aws.url;
    const clients = createAwsClients();
    expect(await describeStack(clients.cloudFormation(prod, 'U0123ABC'), 'api-prod')).toBeDefined();
    expect(aws.assumeRoleCalls).toHaveLength(1);
  });
});

// STS: RoleSessionName and SourceIdentity are 2–64 characters of [\w+=,.@-]; SourceIdentity must not start with "aws:".
const STS_NAME = /^[\w+=,.@-]{2,64}$/;

describe('roleSessionName and sourceIdentity', () => {
  it.each([
    { actor: 'U0123ABC', session: 'promote-bot-U0123ABC', identity: 'U0123ABC' },
    { actor: 'W0123ABC', session: 'promote-bot-W0123ABC', identity: 'W0123ABC' },
    { actor: 'jane.doe@example.com', session: 'promote-bot-jane.doe@example.com', identity: 'jane.doe@example.com' },
    { actor: 'Jane Doe/ops:admin*', session: 'promote-bot-Jane-Doe-ops-admin-', identity: 'Jane-Doe-ops-admin-' },
    { actor: 'aws:root', session: 'promote-bot-aws-root', identity: 'aws-root' },
    { actor: 'U', session: 'promote-bot-U', identity: 'slack-U' },
    { actor: '', session: 'promote-bot-', identity: 'slack-' },
    { actor: 'é🚀', session: undefined, identity: undefined },
    { actor: 'U'.repeat(100), session: undefined, identity: 'U'.repeat(64) },
  ])('for actor "$actor" are valid STS names', ({ actor, session, identity }) => {
    const s = roleSessionName(actor);
    const id = sourceIdentity(actor);
    expect(s).toMatch(STS_NAME);
    expect(id).toMatch(STS_NAME);
    expect(id.startsWith('aws:')).toBe(false);
    if (session) expect(s).toBe(session);
    if (identity) expect(id).toBe(identity);
  });

  it.each(['U0123ABC', 'Jane Doe/ops:admin*', 'aws:root', '', 'é🚀', 'U'.repeat(100)])(
    'lets STS accept the session of actor "%s"',
    async (actor) => {
      const clients = createAwsClients({ maxAttempts: 1 });
      expect(await describeStack(clients.cloudFormation(prod, actor), 'api-prod')).toBeDefined();
      expect(aws.assumeRoleCalls).toEqual([
        expect.objectContaining({ RoleSessionName: roleSessionName(actor), SourceIdentity: sourceIdentity(actor) }),
      ]);
    },
  );
});

describe('onCall', () => {
  it('reports every attempt, the SDK’s retries of a throttled call and STS AssumeRole included', async () => {
    const calls: Array<{ service: string; operation: string; result: string }> = [];
    const clients = createAwsClients({
      onCall: ({ service, operation, result, durationMs }) => {
        expect(durationMs).toBeGreaterThanOrEqual(0);
        calls.push({ service, operation, result });
      },
    });
    aws.throttle('DescribeStacks', 1);
    expect((await describeStack(clients.cloudFormation(prod, 'U1'), 'api-prod'))?.StackName).toBe('api-prod');
    aws.failNext('DescribeStacks', { code: 'AccessDenied', message: 'no', status: 403 });
    await expect(describeStack(clients.cloudFormation(prod, 'U1'), 'api-prod')).rejects.toThrow();
    expect(calls).toEqual([
      { service: 'sts', operation: 'AssumeRole', result: 'ok' },
      { service: 'cloudformation', operation: 'DescribeStacks', result: 'throttled' },
      { service: 'cloudformation', operation: 'DescribeStacks', result: 'ok' },
      { service: 'cloudformation', operation: 'DescribeStacks', result: 'access_denied' },
    ]);
  });
});

describe('budget', () => {
  it('makes every CloudFormation attempt wait for its account and region’s budget, and reports throttling to it', async () => {
    const log: string[] = [];
    const scopes: Array<{ account?: string; region: string }> = [];
    const clients = createAwsClients({
      budget: (scope) => {
        scopes.push(scope);
        const name = `${scope.account ?? 'default'}/${scope.region}`;
        return {
          take: async () => {
            log.push(`take ${name}`);
          },
          throttled: () => log.push(`throttled ${name}`),
        };
      },
      onCall: ({ operation, result }) => log.push(`${operation} ${result}`),
    });
    aws.throttle('DescribeStacks', 1);
    await describeStack(clients.cloudFormation(prod, 'U1'), 'api-prod');
    await describeStack(clients.cloudFormation(dev, 'U1'), 'api-dev');
    expect(scopes).toEqual([
      { account: '111111111111', region: 'us-east-1' },
      { account: undefined, region: 'us-east-1' },
    ]);
    // Each attempt (the SDK's retry included) took a token first; STS AssumeRole is not CloudFormation's budget.
    expect(log).toEqual([
      'AssumeRole ok',
      'take 111111111111/us-east-1',
      'DescribeStacks throttled',
      'throttled 111111111111/us-east-1',
      'take 111111111111/us-east-1',
      'DescribeStacks ok',
      'take default/us-east-1',
      'DescribeStacks ok',
    ]);
  });
});

describe('background calls', () => {
  // One budget of 4 calls a second without burst (src/budgets.ts over the memory store): every call but the first
  // waits, and the order in which the fake receives them is the order the budget served them.
  const budgeted = (backgroundPatienceMs?: number) => {
    const budget = createBudgets({ store: createMemoryStore() }).get('cfn', 'cfn', { ratePerSec: 4, burst: 1 });
    const clients = createAwsClients({
      budget: () => budget,
      ...(backgroundPatienceMs !== undefined ? { backgroundPatienceMs } : {}),
    });
    return { budget, clients };
  };
  const served = () => aws.callsOf('DescribeStacks').map((c) => c.params.StackName);
  const run = async ({ budget, clients }: ReturnType<typeof budgeted>) => {
    await describeStack(clients.cloudFormation(prod, 'U1'), 'api-prod'); // takes the one token there is
    const background = clients.cloudFormation(prod, 'U1', { background: true });
    const reads = [describeStack(background, 'api-prod')];
    while (budget.waiting() === 0) await new Promise((r) => setTimeout(r, 2)); // the background read waits first
    for (let i = 0; i < 4; i++) reads.push(describeStack(clients.cloudFormation(prod, 'U1'), `other-${i}`));
    await Promise.all(reads);
  };

  it('serves a background call (following a stack) after the calls that came after it', async () => {
    await run(budgeted());
    expect(served()).toEqual(['api-prod', 'other-0', 'other-1', 'other-2', 'other-3', 'api-prod']);
  });

  it('serves it in turn once it has waited its patience out: following never starves', async () => {
    // 300 ms of patience, calls 250 ms apart: the background read goes before the calls that came after it once
    // it has waited 300 ms, i.e. after one of them (two if the machine is slow to wake the budget up).
    await run(budgeted(300));
    const order = served();
    expect(order).toHaveLength(6);
    expect(order.lastIndexOf('api-prod')).toBeGreaterThanOrEqual(1);
    expect(order.lastIndexOf('api-prod')).toBeLessThanOrEqual(3);
  });

  it('is a client of its own, sharing the role session of the same person', async () => {
    const clients = createAwsClients();
    const background = clients.cloudFormation(prod, 'U1', { background: true });
    expect(background).not.toBe(clients.cloudFormation(prod, 'U1'));
    expect(background).toBe(clients.cloudFormation(prod, 'U1', { background: true }));
    await describeStack(background, 'api-prod');
    await describeStack(clients.cloudFormation(prod, 'U1'), 'api-prod');
    expect(aws.callsOf('AssumeRole')).toHaveLength(1);
  });
});

describe('budget and signing', () => {
  it('signs each attempt after its budget wait: a call that waited longer than AWS accepts a signature still goes through', async () => {
    // AWS refuses a request that arrives more than 5 minutes after its X-Amz-Date; here the fake refuses after 2 s
    // and the budget makes the call wait 3 s.
    await aws.close();
    aws = await startFakeAws({ signatureMaxAgeMs: 2_000 });
    process.env.AWS_ENDPOINT_URL = aws.url;
    aws.putStack({ name: 'api-dev', template: TEMPLATE });
    const clients = createAwsClients({
      budget: () => ({ take: () => new Promise((r) => setTimeout(r, 3_000)), throttled: () => undefined }),
      maxAttempts: 1,
    });
    const stack = await describeStack(clients.cloudFormation(dev, 'U1'), 'api-dev');
    expect(stack?.StackName).toBe('api-dev');
    expect(aws.callsOf('DescribeStacks')).toHaveLength(1);
  });
});

describe('approversTagValue', () => {
  it('joins whole user IDs with spaces within 256 characters, counting those left out', () => {
    expect(approversTagValue(['U0ALICE'])).toBe('U0ALICE');
    const many = Array.from({ length: 40 }, (_, i) => `U0APPROVER${String(i).padStart(3, '0')}`);
    const v = approversTagValue(many);
    expect(v.length).toBeLessThanOrEqual(256);
    const [shown, more] = v.split(' +');
    expect(shown!.split(' ').every((id) => many.includes(id))).toBe(true);
    expect(shown!.split(' ').length + Number(more)).toBe(40);
    expect(approversTagValue(['U1,<x>'])).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u);
  });
});

describe('warmUpAwsSdk', () => {
  // In a fresh Node process (this one has loaded the SDK's STS client long ago), on the built bot as `npm start` runs it.
  const script = `
    import { createRequire } from 'node:module';
    const cache = createRequire(import.meta.url).cache;
    const stsLoaded = () => Object.keys(cache).some((k) => /nested-clients[\\\\/]dist-cjs[\\\\/]submodules[\\\\/]sts/.test(k));
    const { warmUpAwsSdk } = await import(process.argv[1]);
    const before = stsLoaded();
    await warmUpAwsSdk();
    console.log(JSON.stringify({ before, after: stsLoaded() }));
  `;

  it('loads the STS client that fromTemporaryCredentials would load at the first AssumeRole, and sends nothing', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script, pathToFileURL('dist/aws/clients.js').href],
        { env: process.env, timeout: 20_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ before: false, after: true });
    expect(aws.calls).toEqual([]);
  });
});
