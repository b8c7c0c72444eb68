// The one place that knows what an AWS failure means: permanent (retrying cannot help; a person must act) or
// transient (retry with backoff), which call of which role failed, and what a person should do about it.
// Error names are the `Code` of AWS's error response, which the SDK puts in `name`; network failures come
// from Node with a `code` (ECONNRESET…), timeouts from the SDK's HTTP handler as `TimeoutError`.
// Codes: docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html,
// docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, the SDK's own throttling and transient lists
// (smithy-typescript packages/service-error-classification/src/constants.ts).

/** What the SDK middleware in clients.ts records on an error: which call failed, for which role and region. */
export interface AwsCallTag {
  /** IAM-style action of the call, e.g. `cloudformation:ExecuteChangeSet`, `sts:AssumeRole`, `s3:PutObject` */
  action: string;
  role?: string;
  account?: string;
  region?: string;
  stack?: string;
  /** What else the call named: a change set ARN, `s3://bucket/key` */
  resource?: string;
}

export type AwsFaultReason =
  | 'access_denied'
  | 'assume_role_denied'
  | 'expired_credentials'
  | 'invalid_credentials'
  | 'missing_credentials'
  | 'validation'
  | 'change_set_not_found'
  | 'insufficient_capabilities'
  | 'limit_exceeded'
  | 'throttled'
  | 'timeout'
  | 'network'
  | 'service_error'
  | 'unknown';

export interface AwsFault {
  /** permanent: retrying cannot help, a person must act; transient: retry with bounded backoff */
  kind: 'permanent' | 'transient';
  reason: AwsFaultReason;
  /** AWS asked us to slow down (a transient fault) */
  throttled: boolean;
  /** AWS's error code (the SDK's error name), or Node's network error code, or `TimeoutError` */
  code: string;
  /** AWS's own message */
  message: string;
  status?: number;
  /** The permission that was missing when AWS names one, else the call, e.g. `cloudformation:ExecuteChangeSet` */
  action?: string;
  /** The API call that failed, when known (may differ from `action`: CreateChangeSet denied `iam:PassRole`) */
  call?: string;
  role?: string;
  account?: string;
  region?: string;
  stack?: string;
  resource?: string;
  /** Who AWS says was refused (the bot's own identity for an AssumeRole denial) */
  principal?: string;
  /** AWS's reason for a denial: "no identity-based policy allows …", "an explicit deny in …" */
  why?: string;
}

const CALL_TAG = Symbol.for('promote-bot.aws-call');
const MAX_DEPTH = 10;

/** Records which call an error came from, unless an inner layer (the credential provider) already did. */
export function tagAwsCall(err: unknown, tag: AwsCallTag): void {
  if (!err || typeof err !== 'object' || Object.hasOwn(err, CALL_TAG)) return;
  try {
    Object.defineProperty(err, CALL_TAG, { value: tag, enumerable: false, configurable: true });
  } catch {
    // a frozen error keeps no tag; classification then relies on AWS's message
  }
}

/** The call tag of the first error in the cause chain that has one. */
export function awsCallOf(err: unknown): AwsCallTag | undefined {
  for (const e of chain(err)) {
    const tag = (e as Record<symbol, AwsCallTag | undefined>)[CALL_TAG];
    if (tag) return tag;
  }
  return undefined;
}

function chain(err: unknown): object[] {
  const out: object[] = [];
  let cur = err;
  while (cur && typeof cur === 'object' && out.length < MAX_DEPTH && !out.includes(cur)) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

interface Rule {
  codes: string[];
  kind: AwsFault['kind'];
  reason: AwsFaultReason;
}

const NETWORK_CODES = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
];

/** First match wins; codes are AWS error codes, Node network codes, or SDK error names. */
const RULES: Rule[] = [
  {
    codes: [
      'Throttling',
      'ThrottlingException',
      'ThrottledException',
      'RequestThrottledException',
      'RequestThrottled',
      'RequestLimitExceeded',
      'TooManyRequestsException',
      'ProvisionedThroughputExceededException',
      'BandwidthLimitExceeded',
      'SlowDown',
      'EC2ThrottledException',
      'PriorRequestNotComplete',
      'TransactionInProgressException',
    ],
    kind: 'transient',
    reason: 'throttled',
  },
  {
    codes: ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError', 'Forbidden'],
    kind: 'permanent',
    reason: 'access_denied',
  },
  {
    codes: ['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired'],
    kind: 'permanent',
    reason: 'expired_credentials',
  },
  {
    codes: [
      'InvalidClientTokenId',
      'UnrecognizedClientException',
      'SignatureDoesNotMatch',
      'InvalidAccessKeyId',
      'IncompleteSignature',
      'MissingAuthenticationToken',
    ],
    kind: 'permanent',
    reason: 'invalid_credentials',
  },
  { codes: ['CredentialsProviderError'], kind: 'permanent', reason: 'missing_credentials' },
  { codes: ['ChangeSetNotFound', 'ChangeSetNotFoundException'], kind: 'permanent', reason: 'change_set_not_found' },
  {
    codes: ['InsufficientCapabilities', 'InsufficientCapabilitiesException'],
    kind: 'permanent',
    reason: 'insufficient_capabilities',
  },
  { codes: ['LimitExceeded', 'LimitExceededException'], kind: 'permanent', reason: 'limit_exceeded' },
  {
    codes: [
      'ValidationError',
      'ValidationException',
      'InvalidParameterValue',
      'InvalidParameterCombination',
      'MissingParameter',
      'MalformedPolicyDocument',
      'PackedPolicyTooLarge',
      'RegionDisabledException',
      'NoSuchBucket',
    ],
    kind: 'permanent',
    reason: 'validation',
  },
  {
    codes: ['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'ETIMEDOUT', 'ESOCKETTIMEDOUT'],
    kind: 'transient',
    reason: 'timeout',
  },
  {
    codes: [
      'InternalFailure',
      'InternalError',
      'InternalServiceError',
      'InternalServerError',
      'ServiceUnavailable',
      'ServiceUnavailableException',
      'Unavailable',
      'BadGateway',
      'GatewayTimeout',
    ],
    kind: 'transient',
    reason: 'service_error',
  },
  { codes: NETWORK_CODES, kind: 'transient', reason: 'network' },
];

const RULE_OF = new Map(RULES.flatMap((r) => r.codes.map((c) => [c, r] as const)));

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/**
 * The codes an error answers to: its name unless generic, and its `code` (Node's network errors). A network
 * code comes first: the SDK's HTTP handler renames ECONNRESET and EPIPE errors `TimeoutError`, keeping the code.
 */
function codesOf(e: ErrorLike): string[] {
  const out: string[] = [];
  if (typeof e.code === 'string' && NETWORK_CODES.includes(e.code)) out.push(e.code);
  if (typeof e.name === 'string' && e.name && !/^(?:Error|TypeError|RangeError)$/.test(e.name)) out.push(e.name);
  if (typeof e.code === 'string' && e.code) out.push(e.code);
  if (typeof e.message === 'string' && /socket hang up/i.test(e.message)) out.push('ECONNRESET');
  return out;
}

const statusOf = (e: ErrorLike) => e.$metadata?.httpStatusCode ?? e.$response?.statusCode;

/** The error in the chain that AWS (or the network under it) produced: the outermost that looks like one. */
function awsErrorIn(err: unknown): ErrorLike | undefined {
  const links = chain(err) as ErrorLike[];
  return (
    links.find((e) => codesOf(e).some((c) => RULE_OF.has(c))) ??
    links.find((e) => e.$fault !== undefined || statusOf(e) !== undefined)
  );
}

/** A stack named by a CloudFormation ARN (`arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID`) or plainly. */
export function stackNameOf(nameOrArn: string | undefined): string | undefined {
  if (!nameOrArn) return undefined;
  const arn = /^arn:[\w-]+:cloudformation:[\w-]*:\d*:stack\/([^/]+)/.exec(nameOrArn);
  if (arn) return arn[1];
  return nameOrArn.startsWith('arn:') ? undefined : nameOrArn;
}

/** The role ARN of an IAM role or of an STS session of it (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`). */
function roleOf(arn: string): string | undefined {
  const assumed = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(arn);
  if (assumed) return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
  return /^arn:[\w-]+:iam::\d{12}:role\//.test(arn) ? arn : undefined;
}

const accountOf = (arn: string | undefined) => (arn ? /^arn:[\w-]+:[\w-]+:[\w-]*:(\d{12}):/.exec(arn)?.[1] : undefined);
const regionOf = (arn: string | undefined) => (arn ? /^arn:[\w-]+:[\w-]+:([\w-]+):\d{12}:/.exec(arn)?.[1] : undefined);

/**
 * IAM's denial message: "User: PRINCIPAL is not authorized to perform: ACTION [on resource: RESOURCE]
 * [because REASON]" (docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
 */
function parseDenial(
  message: string,
): { principal: string; action: string; resource?: string; why?: string } | undefined {
  const m =
    /User: (\S+) is not authorized to perform: ([\w-]+:[\w*]+)(?: on resource: (\S+))?(?:\s+(?:because|with) (.+))?/s.exec(
      message,
    );
  if (!m) return undefined;
  const trim = (s: string | undefined) => s?.replace(/[.\s]+$/, '');
  return { principal: m[1]!, action: m[2]!, resource: trim(m[3]), why: trim(m[4]) };
}

/**
 * What an AWS failure means, found anywhere in the cause chain (our adapters wrap with what was being done).
 * Anything not recognised is permanent: an unknown failure is ended and explained, never retried blindly.
 */
export function classifyAwsError(err: unknown): AwsFault {
  const e = awsErrorIn(err) ?? ((chain(err).at(-1) ?? {}) as ErrorLike);
  const tag = awsCallOf(err);
  const codes = codesOf(e);
  const status = statusOf(e);
  const rule = codes.map((c) => RULE_OF.get(c)).find((r) => r !== undefined);
  const code =
    (rule && codes.find((c) => rule.codes.includes(c))) ?? codes[0] ?? (status ? `HTTP ${status}` : 'Unknown');
  const message = typeof e.message === 'string' ? e.message : String(err);

  let kind: AwsFault['kind'] = 'permanent';
  let reason: AwsFaultReason = 'unknown';
  if (rule) {
    kind = rule.kind;
    reason = rule.reason;
  } else if (status === 429) {
    kind = 'transient';
    reason = 'throttled';
  } else if (e.$fault === 'server' || (status !== undefined && status >= 500)) {
    kind = 'transient';
    reason = 'service_error';
  }

  const denial = parseDenial(message);
  const call = tag?.action;
  const action = denial?.action ?? call;
  if (reason === 'access_denied' && action === 'sts:AssumeRole') reason = 'assume_role_denied';

  const resourceArn = denial?.resource;
  let role = tag?.role;
  let principal = denial?.principal;
  if (reason === 'assume_role_denied') {
    role = (resourceArn && roleOf(resourceArn)) ?? role;
  } else if (principal) {
    role = roleOf(principal) ?? role;
  }
  if (principal && role && roleOf(principal) === role) principal = undefined; // the role says it all
  const stack = tag?.stack ?? stackNameOf(resourceArn?.includes(':stack/') ? resourceArn : undefined);

  const fault: AwsFault = {
    kind,
    reason,
    throttled: reason === 'throttled',
    code,
    message,
    status,
    action,
    call,
    role,
    account:
      (reason === 'assume_role_denied' ? accountOf(role) : undefined) ??
      tag?.account ??
      accountOf(role) ??
      accountOf(resourceArn),
    region: tag?.region ?? regionOf(resourceArn),
    stack,
    resource: tag?.resource ?? (resourceArn && !stack && resourceArn !== role ? resourceArn : undefined),
    principal,
    why: denial?.why,
  };
  for (const k of Object.keys(fault) as Array<keyof AwsFault>) if (fault[k] === undefined) delete fault[k];
  return fault;
}

/** True when AWS asked to slow down (the SDK's own throttling codes, S3's SlowDown, HTTP 429). */
export function isThrottlingFault(err: unknown): boolean {
  return classifyAwsError(err).throttled;
}

function serviceOf(action: string | undefined): string {
  const svc = action?.split(':')[0];
  return svc === 'cloudformation' ? 'CloudFormation' : svc === 's3' ? 'S3' : svc === 'sts' ? 'STS' : 'AWS';
}

/**
 * What a person should read: what failed and what to do, in plain text (no Slack markup; the caller escapes).
 * e.g. "the role arn:aws:iam::333333333333:role/promote-bot in 333333333333 may not call
 * cloudformation:ExecuteChangeSet on api-prod: allow that action in the role's policy"
 */
export function explainAwsFault(f: AwsFault): string {
  const calling = f.action ?? f.call ?? 'AWS';
  const changeSet = f.resource && /^arn:[\w-]+:cloudformation:[\w-]*:\d*:changeSet\/([^/]+)/.exec(f.resource)?.[1];
  const target = f.stack
    ? ` on ${f.stack}`
    : changeSet
      ? ` on change set ${changeSet}`
      : f.resource
        ? ` on ${f.resource}`
        : '';
  const inRegion = f.region ? ` in ${f.region}` : '';
  const code = `(${f.code})`;
  switch (f.reason) {
    case 'access_denied': {
      const who = f.role
        ? `the role ${f.role}${f.account ? ` in ${f.account}` : ''}`
        : f.principal
          ? `the bot's identity ${f.principal}`
          : "the bot's AWS credentials";
      const where = f.role ? "the role's policy" : "the policy of the bot's identity";
      const explicit = f.why && /explicit deny/i.test(f.why);
      const fix = explicit
        ? `AWS says ${f.why}: that deny has to be lifted by whoever manages it`
        : `allow ${f.action ? 'that action' : 'the call'} in ${where}`;
      return `${who} may not call ${calling}${target}: ${fix}`;
    }
    case 'assume_role_denied': {
      const role = f.role ? `the role ${f.role}${f.account ? ` in ${f.account}` : ''}` : 'the stage role';
      const principal = f.principal ? ` (${f.principal})` : '';
      return (
        `the bot may not assume ${role}: the role's trust policy must allow the bot's principal${principal} ` +
        'sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession, and its sts:ExternalId condition must match ' +
        "the stage's externalId"
      );
    }
    case 'expired_credentials':
      return (
        `the bot's AWS credentials have expired ${code} calling ${calling}: renew the credentials the bot runs ` +
        'with (its session token, profile or instance role)'
      );
    case 'invalid_credentials':
      return (
        `AWS did not accept the bot's own credentials ${code} calling ${calling}${inRegion}: check the access key ` +
        'and secret the bot runs with, and that they belong to the right account'
      );
    case 'missing_credentials':
      return `the bot found no AWS credentials to call ${calling}: give it credentials (environment, profile or instance role)`;
    case 'validation':
      return `${serviceOf(calling)} refused ${calling}${target} as invalid: ${f.message}`;
    case 'change_set_not_found':
      return (
        `the change set${f.stack ? ` on ${f.stack}` : ''} no longer exists (deleted, or dropped when another change set ` +
        'on the stack ran): plan the change again'
      );
    case 'insufficient_capabilities':
      return `CloudFormation requires capabilities that were not acknowledged${target} (${f.message}): plan the change again`;
    case 'limit_exceeded':
      return (
        `an AWS quota was reached calling ${calling}${f.account ? ` in account ${f.account}` : ''}${inRegion} (${f.message}): ` +
        'delete unused stacks or change sets, or raise the quota in Service Quotas'
      );
    case 'throttled':
      return (
        `AWS is throttling ${calling}${inRegion} ${code}: too many calls in this account and region, ` +
        'other tools included; it usually passes within minutes, then try again'
      );
    case 'timeout':
      return `${calling}${target} got no answer in time ${code}: try again; if it persists, check the network path to AWS`;
    case 'network':
      return `the bot could not reach AWS for ${calling}${inRegion} ${code}: check the network and the endpoint, then try again`;
    case 'service_error':
      return `AWS failed internally on ${calling}${inRegion} ${code}: try again shortly; if it persists, check the AWS Health Dashboard`;
    default:
      return `${serviceOf(calling)} refused ${calling}${target} ${code}: ${f.message}`;
  }
}

/** Whether a fault came from an AWS call (anywhere in its cause chain): a tagged call or an SDK service error. */
export function isAwsError(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 8 && e && typeof e === 'object'; i++) {
    const x = e as ErrorLike;
    if (awsCallOf(x) || x.$metadata !== undefined || x.$fault !== undefined) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
