// A fake AWS endpoint for tests: CloudFormation and STS over the awsQuery protocol, and enough S3
// (path-style PUT/GET) for TemplateURL uploads. The bot under test talks to it with the real SDK
// clients through AWS_ENDPOINT_URL; tests steer it (throttling, failures, scripted executions,
// outside updates) and inspect it (calls, stacks, events, change sets).
//
//   const aws = await startFakeAws({ changeSetStepMs: 20, eventIntervalMs: 10 });
//   aws.putStack({ name: 'api-prod', template, parameters: { Env: 'prod' } });
//   // … run the bot with AWS_ENDPOINT_URL=aws.url …
//   expect(aws.stack('api-prod')?.status).toBe('UPDATE_COMPLETE');
//   await aws.close();
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StackEvent } from '@aws-sdk/client-cloudformation';
import { type Caller, CloudFormationFake, type ExecutionScript, Scheduler, type StackRec } from './aws-cfn.js';
import {
  AwsError,
  credentialScope,
  decodeAwsChunked,
  type Params,
  parseForm,
  queryErrorBody,
  queryResponse,
  requestId,
  s3ErrorBody,
  validationError,
} from './aws-wire.js';

export interface FakeAwsOptions {
  /**
   * Time between change set states CREATE_PENDING → CREATE_IN_PROGRESS → CREATE_COMPLETE/FAILED. Default 150.
   * A function draws it for each change set (e.g. at random, as real change sets take varying times).
   */
  changeSetStepMs?: number | (() => number);
  /** Time between stack events of an operation. Default 50. */
  eventIntervalMs?: number;
  /** Page size of DescribeChangeSet changes, DescribeStackEvents, DescribeStacks, ListChangeSets. Default 100. */
  pageSize?: number;
  /** Account of the plain (non-assumed) credentials, e.g. AWS_ACCESS_KEY_ID=test. Default '000000000000'. */
  defaultAccount?: string;
  /** How long one minute of a change set's MonitoringTimeInMinutes lasts here (a test-time scale). Default 50. */
  monitoringMinuteMs?: number;
  /**
   * How long each request waits before it is handled and answered, as a real endpoint's network and service
   * time (ms, or a function of the action, e.g. a random 40–120 ms). Default 0. Calls are recorded when handled.
   */
  latencyMs?: number | ((action: string, service: FakeService) => number);
  /**
   * CloudFormation and STS answer 403 SignatureDoesNotMatch "Signature expired" to a request whose X-Amz-Date is
   * older than this when it arrives, as AWS does after 5 minutes (the default; docs.aws.amazon.com/IAM/latest/UserGuide/signing-elements.html:
   * "the request must reach AWS within five minutes of the time stamp").
   */
  signatureMaxAgeMs?: number;
  /**
   * Stack events carry the ClientRequestToken of the operation that made them, as CloudFormation's do. Default
   * true; false: none does, as some CloudFormation emulators answer (moto's DescribeStackEvents has no token).
   */
  eventTokens?: boolean;
}

export type FakeService = 'cloudformation' | 'sts' | 's3';

export interface FakeCall {
  service: FakeService;
  action: string;
  /** awsQuery parameters as sent (without Action/Version); for S3 { Bucket, Key }. */
  params: Record<string, string>;
  region?: string;
  accessKeyId?: string;
  at: number;
  /** Date.now() when the answer was handed to the socket (its body built); undefined until then, or never sent */
  answeredAt?: number;
}

export interface FakeChangeSetView {
  name: string;
  arn: string;
  status: string;
  executionStatus: string;
  statusReason?: string;
  /** Date.now() when the change set reached CREATE_COMPLETE or FAILED; undefined while it is being created. */
  settledAt?: number;
  /** The rollback triggers (alarm ARNs) and monitoring minutes its execution watches. */
  rollback: { triggers: string[]; minutes: number };
  includeNestedStacks: boolean;
  /** ARNs of the nested change sets it created (IncludeNestedStacks), and of its root when it is one of those. */
  nested: string[];
  root?: string;
}

export interface FakeStackView {
  name: string;
  region: string;
  account: string;
  stackId: string;
  /** Current template text. */
  template: string;
  parameters: Record<string, string>;
  outputs: Record<string, string>;
  tags: Record<string, string>;
  status: string;
  statusReason?: string;
  creationTime: Date;
  lastUpdatedTime?: Date;
  /** Newest first, as DescribeStackEvents returns them. */
  events: StackEvent[];
  changeSets: FakeChangeSetView[];
  /** Rollback triggers saved with the stack (by its last execution). */
  rollback: { triggers: string[]; minutes: number };
  /** A nested stack's parent stack ID. */
  parentId?: string;
}

export interface PutStackInput {
  name: string;
  /** Default us-east-1. */
  region?: string;
  /** Default the defaultAccount option. Only callers with credentials of this account see the stack. */
  account?: string;
  /** JSON or YAML text. */
  template: string;
  parameters?: Record<string, string>;
  outputs?: Record<string, string>;
  tags?: Record<string, string>;
  /** Default UPDATE_COMPLETE. */
  status?: string;
  lastUpdatedTime?: Date;
}

export interface AssumeRoleCall {
  RoleArn: string;
  RoleSessionName: string;
  SourceIdentity?: string;
  ExternalId?: string;
  DurationSeconds?: string;
  /** Session tags (Tags.member.N.Key / .Value), when any were sent */
  Tags?: Record<string, string>;
}

export interface FakeAws {
  /** e.g. http://127.0.0.1:PORT — the bot's AWS_ENDPOINT_URL. */
  url: string;
  close(): Promise<void>;
  /** Creates a stack, or replaces the template/parameters/status of an existing one (as an outside deploy would). */
  putStack(o: PutStackInput): void;
  /** Without region: the first stack of that name in any region/account. */
  stack(name: string, region?: string, account?: string): FakeStackView | undefined;
  calls: FakeCall[];
  callsOf(action: string): FakeCall[];
  /** The next `times` calls of the action ('*' = any) answer 400 Throttling "Rate exceeded" (S3: 503 SlowDown). */
  throttle(action: string, times: number): void;
  /** The next call of the action fails with this error (status default 400). Queued: call twice for two failures. */
  failNext(action: string, err: { code: string; message: string; status?: number }): void;
  /** The next change set on that stack reports exactly these ResourceChange (or Change) objects instead of the diff. */
  overrideNextChanges(stackName: string, changes: object[]): void;
  /** How the next ExecuteChangeSet on that stack behaves. */
  scriptExecution(stackName: string, s: ExecutionScript): void;
  /** The stack goes UPDATE_IN_PROGRESS as if someone else deployed; durationMs default 1000, Infinity = until cancelled. */
  startOutsideUpdate(stackName: string, o?: { durationMs?: number }): void;
  /** "bucket/key" → body. Tests may put templates here directly (nested stacks' TemplateURL, say). */
  s3Objects: Map<string, string>;
  /**
   * Sets a CloudWatch alarm's state (every alarm is OK until set). An alarm going to ALARM rolls back the
   * updates whose change sets name it as a rollback trigger, while their resources update or during their
   * monitoring time, with the stack event reason "Rollback triggered by alarm <ARN>".
   */
  setAlarm(arn: string, state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA'): void;
  /** The nested stack behind a parent stack's AWS::CloudFormation::Stack resource (created from its TemplateURL). */
  nestedStack(parentName: string, logicalId: string): FakeStackView | undefined;
  /** Every AssumeRole request in order, including those that failed. */
  assumeRoleCalls: AssumeRoleCall[];
  /**
   * Calls of the action ('ExecuteChangeSet', 'cloudformation:ExecuteChangeSet', 's3:PutObject', '*') answer
   * 403 AccessDenied as IAM does ("User: … is not authorized to perform: cloudformation:ExecuteChangeSet on
   * resource: <stack ARN> because no identity-based policy allows …"; S3: "Access Denied"). Only callers of
   * `account` when given; the next `times` calls, or until allow(action) when omitted.
   */
  deny(action: string, o?: { account?: string; times?: number }): void;
  /** Ends every deny() of that action. */
  allow(action: string): void;
  /** AssumeRole of that role answers 403 AccessDenied (its trust policy does not allow the caller) until allowAssumeRole. */
  denyAssumeRole(roleArn: string): void;
  allowAssumeRole(roleArn: string): void;
  /** The next `times` calls of the action ('*' = any) are read and never answered, until close(). */
  hang(action: string, times: number): void;
  /** Every call of any service is throttled for the next `ms` (a throttling storm). */
  throttleFor(ms: number): void;
  /**
   * Runs `hook` when a call of the action ('*' = any) arrives, before it is handled and answered: a test can
   * kill the bot the moment its request reaches AWS (the call still takes effect; the bot never sees the answer).
   */
  onCall(action: string, hook: (call: FakeCall) => void): void;
}

const CFN_XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

interface Identity {
  account: string;
  arn: string;
  userId: string;
}

interface Denial {
  service?: FakeService;
  action: string;
  account?: string;
  /** Infinity until allow() */
  left: number;
}

interface Injected {
  throttles: Map<string, number>;
  failures: Map<string, Array<{ code: string; message: string; status?: number }>>;
  denials: Denial[];
  deniedRoles: Set<string>;
  hangs: Map<string, number>;
  /** Date.now() until which every call is throttled */
  stormUntil: number;
}

/** 'cloudformation:ExecuteChangeSet' → that service only; 'ExecuteChangeSet' or '*' → any service. */
function parseAction(action: string): { service?: FakeService; action: string } {
  const [svc, name] = action.includes(':') ? action.split(':', 2) : [undefined, action];
  return { service: svc as FakeService | undefined, action: name ?? action };
}

const throttled = (service: FakeService) =>
  service === 's3'
    ? new AwsError('SlowDown', 'Please reduce your request rate.', 503)
    : new AwsError('Throttling', 'Rate exceeded');

/** Takes a pending hang of this action (action-specific first, then '*'). */
function takeHang(inj: Injected, action: string): boolean {
  for (const key of [action, '*']) {
    const left = inj.hangs.get(key) ?? 0;
    if (left > 0) {
      inj.hangs.set(key, left - 1);
      return true;
    }
  }
  return false;
}

/**
 * Takes the next injected error for this call, if any: a denial, a queued failure, a counted throttle
 * (action-specific first, then '*'), then a throttling storm.
 */
function takeInjected(
  inj: Injected,
  action: string,
  service: FakeService,
  account: string,
  denied: () => AwsError,
): AwsError | undefined {
  const denial = inj.denials.find(
    (d) =>
      d.left > 0 &&
      (d.action === action || d.action === '*') &&
      (!d.service || d.service === service) &&
      (!d.account || d.account === account),
  );
  if (denial) {
    denial.left--;
    return denied();
  }
  const failure = inj.failures.get(action)?.shift();
  if (failure) return new AwsError(failure.code, failure.message, failure.status ?? 400);
  for (const key of [action, '*']) {
    const left = inj.throttles.get(key) ?? 0;
    if (left > 0) {
      inj.throttles.set(key, left - 1);
      return throttled(service);
    }
  }
  if (Date.now() < inj.stormUntil) return throttled(service);
  return undefined;
}

/** IAM's wording for an action no policy allows (docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html). */
function notAuthorized(principal: string, action: string, resource: string): AwsError {
  return new AwsError(
    'AccessDenied',
    `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
    403,
  );
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Where a TemplateURL points: virtual-hosted S3 (bucket.s3[.region].amazonaws.com), path-style S3, or this fake. */
export function s3Location(url: string, ownHost: string): { bucket: string; key: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const path = u.pathname.split('/').slice(1).map(decodeURIComponent);
  const virtual =
    /^(.+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com$/.exec(u.hostname) ?? /^(.+)\.s3\.amazonaws\.com$/.exec(u.hostname);
  if (virtual) return { bucket: virtual[1]!, key: path.join('/') };
  const pathStyle = /^s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$/.test(u.hostname) || u.host === ownHost;
  if (pathStyle && path.length >= 2) return { bucket: path[0]!, key: path.slice(1).join('/') };
  return undefined;
}

/** Session tags of an AssumeRole request (awsQuery: Tags.member.N.Key / Tags.member.N.Value). */
function tagsOf(p: Record<string, string | undefined>): Record<string, string> | undefined {
  const tags: Record<string, string> = {};
  for (let i = 1; p[`Tags.member.${i}.Key`] !== undefined; i++) {
    tags[p[`Tags.member.${i}.Key`]!] = p[`Tags.member.${i}.Value`] ?? '';
  }
  return Object.keys(tags).length ? tags : undefined;
}

export async function startFakeAws(opts: FakeAwsOptions = {}): Promise<FakeAws> {
  const defaultAccount = opts.defaultAccount ?? '000000000000';
  const scheduler = new Scheduler();
  const s3Objects = new Map<string, string>();
  const calls: FakeCall[] = [];
  const assumeRoleCalls: AssumeRoleCall[] = [];
  const issued = new Map<string, Identity>();
  const injected: Injected = {
    throttles: new Map(),
    failures: new Map(),
    denials: [],
    deniedRoles: new Set(),
    hangs: new Map(),
    stormUntil: 0,
  };
  const hooks: Array<{ action: string; hook: (call: FakeCall) => void }> = [];
  const runHooks = (call: FakeCall) => {
    for (const h of hooks) if (h.action === call.action || h.action === '*') h.hook(call);
  };
  let ownHost = '';

  const cfn = new CloudFormationFake(
    {
      changeSetStepMs: opts.changeSetStepMs ?? 150,
      eventIntervalMs: opts.eventIntervalMs ?? 50,
      pageSize: opts.pageSize ?? 100,
      monitoringMinuteMs: opts.monitoringMinuteMs ?? 50,
      eventTokens: opts.eventTokens ?? true,
      readTemplateUrl: (url) => {
        const loc = s3Location(url, ownHost);
        if (!loc) throw validationError('TemplateURL must be a supported URL.');
        return s3Objects.get(`${loc.bucket}/${loc.key}`);
      },
    },
    scheduler,
  );

  // The access key identifies the caller: keys issued by AssumeRole carry the role's account,
  // `ASIA<12 digits>…` keys that account, anything else (e.g. `test`) is the default account.
  const identityOf = (accessKeyId: string | undefined): Identity => {
    const known = accessKeyId ? issued.get(accessKeyId) : undefined;
    if (known) return known;
    const account = /^ASIA(\d{12})/.exec(accessKeyId ?? '')?.[1] ?? defaultAccount;
    const user = accessKeyId || 'anonymous';
    return { account, arn: `arn:aws:iam::${account}:user/${user}`, userId: `AIDA${user.toUpperCase()}` };
  };

  const sts = (action: string, p: Params, who: Identity): object | undefined => {
    if (action === 'GetCallerIdentity') return { UserId: who.userId, Account: who.account, Arn: who.arn };
    if (action !== 'AssumeRole') {
      throw new AwsError('InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
    }
    const roleArn = p.RoleArn ?? '';
    const role = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    if (!role) {
      throw validationError(
        `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint`,
      );
    }
    const session = p.RoleSessionName ?? '';
    if (!/^[\w+=,.@-]{2,64}$/.test(session)) {
      throw validationError(
        `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    const duration = p.DurationSeconds === undefined ? 3600 : Number(p.DurationSeconds);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200) {
      throw validationError(
        `1 validation error detected: Value '${p.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    // A trust policy that does not name the caller: IAM answers as for any other denied action.
    if (injected.deniedRoles.has(roleArn)) throw notAuthorized(who.arn, 'sts:AssumeRole', roleArn);
    if (p.ExternalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(p.ExternalId)) {
      throw validationError(`1 validation error detected: Value at 'externalId' failed to satisfy constraint`);
    }
    if (
      p.SourceIdentity !== undefined &&
      (!/^[\w+=,.@-]{2,64}$/.test(p.SourceIdentity) || p.SourceIdentity.startsWith('aws:'))
    ) {
      throw validationError(`1 validation error detected: Value at 'sourceIdentity' failed to satisfy constraint`);
    }
    // STS Tag: key 1–128, value 0–256 characters, both of [\p{L}\p{Z}\p{N}_.:/=+\-@] (API_Tag).
    for (const [k, v] of Object.entries(tagsOf(p) ?? {})) {
      const ok = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
      if (k.length < 1 || k.length > 128 || v.length > 256 || !ok.test(k) || !ok.test(v)) {
        throw validationError(`1 validation error detected: Value at 'tags' failed to satisfy constraint`);
      }
    }
    const account = role[1]!;
    const roleId = `AROA${randomBytes(8).toString('hex').toUpperCase()}`;
    const arn = `arn:aws:sts::${account}:assumed-role/${role[2]}/${session}`;
    const accessKeyId = `ASIA${account}${randomBytes(4).toString('hex').toUpperCase()}`;
    issued.set(accessKeyId, { account, arn, userId: `${roleId}:${session}` });
    return {
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: randomBytes(20).toString('base64'),
        SessionToken: randomBytes(48).toString('base64'),
        Expiration: new Date(Date.now() + duration * 1000),
      },
      AssumedRoleUser: { AssumedRoleId: `${roleId}:${session}`, Arn: arn },
      PackedPolicySize: p.Policy ? 10 : undefined,
      SourceIdentity: p.SourceIdentity,
    };
  };

  const send = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  };

  const handleQuery = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const params = parseForm(body.toString('utf8'));
    const { Action: action = '', Version: version, ...rest } = params;
    const scope = credentialScope(req.headers.authorization, new URLSearchParams());
    const service: FakeService = scope?.service === 'sts' || version === '2011-06-15' ? 'sts' : 'cloudformation';
    calls.push({
      service,
      action,
      params: rest,
      region: scope?.region,
      accessKeyId: scope?.accessKeyId,
      at: Date.now(),
    });
    const call = calls[calls.length - 1]!;
    runHooks(call);
    // Every AssumeRole attempt is recorded, also those that fail validation or an injected error.
    if (service === 'sts' && action === 'AssumeRole') {
      assumeRoleCalls.push({
        RoleArn: rest.RoleArn ?? '',
        RoleSessionName: rest.RoleSessionName ?? '',
        SourceIdentity: rest.SourceIdentity,
        ExternalId: rest.ExternalId,
        DurationSeconds: rest.DurationSeconds,
        ...(tagsOf(rest) ? { Tags: tagsOf(rest) } : {}),
      });
    }
    const id = requestId();
    const xmlns = service === 'sts' ? STS_XMLNS : CFN_XMLNS;
    const headers = { 'content-type': 'text/xml', 'x-amzn-requestid': id };
    if (takeHang(injected, action)) return; // read, never answered: the client's timeout must end it
    try {
      const who = identityOf(scope?.accessKeyId);
      const caller: Caller = { account: who.account, region: scope?.region ?? 'us-east-1' };
      const err = takeInjected(injected, action, service, who.account, () =>
        notAuthorized(
          who.arn,
          `${service}:${action}`,
          service === 'sts' ? (rest.RoleArn ?? '*') : cfn.resourceArn(rest, caller),
        ),
      );
      if (err) throw err;
      const result = service === 'sts' ? sts(action, rest, who) : cfn.handle(action, rest, caller);
      send(res, 200, queryResponse(action, xmlns, result, id), headers);
      call.answeredAt = Date.now();
    } catch (cause) {
      const err =
        cause instanceof AwsError
          ? cause
          : new AwsError('InternalFailure', `fake AWS: ${(cause as Error).message}`, 500, 'Receiver');
      if (!(cause instanceof AwsError)) console.error('fake AWS: handler threw', cause);
      send(res, err.status, queryErrorBody(err, xmlns, id), headers);
    }
  };

  const handleS3 = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const scope = credentialScope(req.headers.authorization, url.searchParams);
    const [bucket = '', ...keyParts] = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const key = keyParts.join('/');
    const method = req.method ?? 'GET';
    const action =
      method === 'PUT' ? (key ? 'PutObject' : 'CreateBucket') : method === 'HEAD' ? 'HeadObject' : 'GetObject';
    calls.push({
      service: 's3',
      action,
      params: { Bucket: bucket, Key: key },
      region: scope?.region,
      accessKeyId: scope?.accessKeyId,
      at: Date.now(),
    });
    runHooks(calls[calls.length - 1]!);
    const id = requestId();
    const headers = { 'x-amz-request-id': id };
    if (takeHang(injected, action)) return;
    try {
      const who = identityOf(scope?.accessKeyId);
      const err = takeInjected(
        injected,
        action,
        's3',
        who.account,
        () => new AwsError('AccessDenied', 'Access Denied', 403),
      );
      if (err) throw err;
      if (!bucket)
        throw new AwsError('NotImplemented', 'The fake S3 supports only path-style bucket/key requests', 501);
      if (action === 'CreateBucket') return send(res, 200, '', headers);
      if (action === 'PutObject') {
        // Recent SDKs send uploads aws-chunked with a trailing checksum.
        const chunked =
          String(req.headers['content-encoding'] ?? '').includes('aws-chunked') ||
          String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
        const data = chunked ? decodeAwsChunked(body) : body;
        s3Objects.set(`${bucket}/${key}`, data.toString('utf8'));
        const etag = `"${createHash('md5').update(data).digest('hex')}"`;
        return send(res, 200, '', { ...headers, etag });
      }
      const object = s3Objects.get(`${bucket}/${key}`);
      if (object === undefined) throw new AwsError('NoSuchKey', 'The specified key does not exist.', 404);
      const data = Buffer.from(object, 'utf8');
      const objectHeaders = {
        ...headers,
        etag: `"${createHash('md5').update(data).digest('hex')}"`,
        'content-type': 'application/octet-stream',
      };
      if (action === 'HeadObject') {
        res.writeHead(200, { ...objectHeaders, 'content-length': String(data.length) });
        return res.end();
      }
      return send(res, 200, data, objectHeaders);
    } catch (cause) {
      const err = cause instanceof AwsError ? cause : new AwsError('InternalError', (cause as Error).message, 500);
      if (method === 'HEAD') {
        res.writeHead(err.status, headers);
        return res.end();
      }
      return send(res, err.status, s3ErrorBody(err, id), { ...headers, 'content-type': 'application/xml' });
    }
  };

  const latency = opts.latencyMs ?? 0;
  const delayFor = (isQuery: boolean, body: Buffer): number => {
    if (typeof latency === 'number') return latency;
    if (!isQuery) return latency('', 's3');
    const params = new URLSearchParams(body.toString('utf8'));
    return latency(params.get('Action') ?? '', params.get('Version') === '2011-06-15' ? 'sts' : 'cloudformation');
  };
  const server = createServer((req, res) => {
    const expired = signatureExpired(req.headers['x-amz-date'], Date.now(), opts.signatureMaxAgeMs ?? 5 * 60_000);
    readBody(req)
      .then(async (body) => {
        const isQuery =
          req.method === 'POST' &&
          (req.url ?? '/').split('?')[0] === '/' &&
          String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
        const wait = delayFor(isQuery, body);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (isQuery && expired) {
          const err = new AwsError('SignatureDoesNotMatch', expired, 403);
          const sts = String(req.headers.authorization ?? '').includes('/sts/aws4_request');
          return send(res, 403, queryErrorBody(err, sts ? STS_XMLNS : CFN_XMLNS, requestId()), {
            'content-type': 'text/xml',
          });
        }
        if (isQuery) handleQuery(req, res, body);
        else handleS3(req, res, body);
      })
      .catch((err: unknown) => {
        console.error('fake AWS: request failed', err);
        if (!res.headersSent) send(res, 500, 'fake AWS: internal error');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ownHost = `127.0.0.1:${port}`;

  const view = (s: StackRec): FakeStackView => ({
    name: s.name,
    region: s.region,
    account: s.account,
    stackId: s.stackId,
    template: s.template.body,
    parameters: { ...s.parameters },
    outputs: Object.fromEntries(s.outputs.map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])),
    tags: Object.fromEntries(s.tags.map((t) => [t.Key ?? '', t.Value ?? ''])),
    status: s.status,
    statusReason: s.statusReason,
    creationTime: s.creationTime,
    lastUpdatedTime: s.lastUpdatedTime,
    events: [...s.events].reverse(),
    changeSets: s.changeSets.map((c) => ({
      name: c.name,
      arn: c.arn,
      status: c.status,
      executionStatus: cfn.executionStatus(c),
      statusReason: c.statusReason,
      settledAt: c.settledAt,
      rollback: { triggers: [...c.rollback.triggers], minutes: c.rollback.minutes },
      includeNestedStacks: c.includeNested,
      nested: c.nested.map((n) => n.arn),
      ...(c.root ? { root: c.root.arn } : {}),
    })),
    rollback: { triggers: [...s.rollback.triggers], minutes: s.rollback.minutes },
    ...(s.parentId ? { parentId: s.parentId } : {}),
  });

  return {
    url: `http://${ownHost}`,
    async close() {
      scheduler.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    putStack(o) {
      cfn.putStack({ ...o, region: o.region ?? 'us-east-1', account: o.account ?? defaultAccount });
    },
    stack(name, region, account) {
      const s = cfn.findStackByName(name, region, account);
      return s ? view(s) : undefined;
    },
    calls,
    callsOf: (action) => calls.filter((c) => c.action === action),
    throttle(action, times) {
      injected.throttles.set(action, (injected.throttles.get(action) ?? 0) + times);
    },
    failNext(action, err) {
      const queue = injected.failures.get(action) ?? [];
      queue.push(err);
      injected.failures.set(action, queue);
    },
    overrideNextChanges: (stackName, changes) => cfn.overrideNextChanges(stackName, changes),
    scriptExecution: (stackName, s) => cfn.scriptExecution(stackName, s),
    startOutsideUpdate(stackName, o) {
      const s = cfn.findStackByName(stackName);
      if (!s) throw new Error(`fake AWS: no stack named ${stackName}`);
      cfn.startOutsideUpdate(s, o?.durationMs ?? 1000);
    },
    s3Objects,
    setAlarm: (arn, state) => cfn.setAlarm(arn, state),
    nestedStack(parentName, logicalId) {
      const parent = cfn.findStackByName(parentName);
      const nested = parent ? cfn.nestedStack(parent, logicalId) : undefined;
      return nested ? view(nested) : undefined;
    },
    assumeRoleCalls,
    deny(action, o = {}) {
      injected.denials.push({ ...parseAction(action), account: o.account, left: o.times ?? Infinity });
    },
    allow(action) {
      const a = parseAction(action);
      injected.denials = injected.denials.filter(
        (d) => d.action !== a.action || (a.service && d.service !== a.service),
      );
    },
    denyAssumeRole: (roleArn) => void injected.deniedRoles.add(roleArn),
    allowAssumeRole: (roleArn) => void injected.deniedRoles.delete(roleArn),
    hang(action, times) {
      const key = parseAction(action).action;
      injected.hangs.set(key, (injected.hangs.get(key) ?? 0) + times);
    },
    throttleFor(ms) {
      injected.stormUntil = Math.max(injected.stormUntil, Date.now() + ms);
    },
    onCall(action, hook) {
      hooks.push({ action, hook });
    },
  };
}

export type { ExecutionScript } from './aws-cfn.js';

/** AWS's message for a request signed too long before it arrived (X-Amz-Date: 20261202T101500Z), or undefined. */
export function signatureExpired(
  amzDate: string | string[] | undefined,
  now: number,
  maxAgeMs: number,
): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(amzDate ?? ''));
  if (!m) return undefined;
  const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (now - signedAt <= maxAgeMs) return undefined;
  const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, '');
  return `Signature expired: ${m[0]} is now earlier than ${stamp(now - maxAgeMs)} (${stamp(now)} - ${maxAgeMs / 60_000} min.)`;
}
