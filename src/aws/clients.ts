// One CloudFormation/S3 client per (region, role, person), and per approvers for an execution's start call. Role credentials come from STS AssumeRole
// through @aws-sdk/credential-providers, which caches them and refreshes them before they expire,
// so there is no AssumeRole per API call. Endpoints come from the SDK's own chain (AWS_ENDPOINT_URL…).
// Every client, the STS client inside fromTemporaryCredentials included, has connection and request timeouts,
// and every error leaves with a tag saying which call of which role failed (read by errors.ts).
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { PRIORITY } from '../budgets.js';
import { type AwsCallTag, classifyAwsError, stackNameOf, tagAwsCall } from './errors.js';
import { FastXmlQueryProtocol } from './xml-parse.js';
import { readLongTextsFast } from './xml-text.js';

type AwsCredentialIdentityProvider = ReturnType<typeof fromTemporaryCredentials>;
type AwsCredentialIdentity = Awaited<ReturnType<AwsCredentialIdentityProvider>>;

/** Role credentials are renewed when less than this is left (the SDK's own margin). */
const REFRESH_BEFORE_MS = 5 * 60_000;

export interface StageAccess {
  region: string;
  role?: string;
  externalId?: string;
}

/** Who approved the operation a client acts for: sent as session tags, so CloudTrail shows them. */
export interface SessionContext {
  approvers?: string[];
  /**
   * Following a running stack: the client's calls wait behind the account's other calls (planning, starts,
   * recovery, end effects) in its budget, for at most BACKGROUND_PATIENCE_MS each, then queue as their equals.
   */
  background?: boolean;
}

export interface AwsClients {
  /**
   * A client acting for `actor` (SourceIdentity and session name). With `session.approvers`, its role session
   * also carries them as the session tag `promote-bot:approvers`: use it for the execution's start call.
   */
  cloudFormation(access: StageAccess, actor: string, session?: SessionContext): CloudFormationClient;
  s3(access: StageAccess, actor: string): S3Client;
}

export interface AwsClientOptions {
  /** SDK attempts per call (throttling included); the SDK default is 3 */
  maxAttempts?: number;
  /** Path-style S3 URLs: needed when AWS_ENDPOINT_URL points at a local endpoint */
  forcePathStyle?: boolean;
  /** Most clients kept; the least recently used are dropped beyond it */
  maxClients?: number;
  /** Time to establish a connection before giving up with a TimeoutError. Default 3 s. */
  connectTimeoutMs?: number;
  /** Time for a whole request and its response before giving up with a TimeoutError. Default 20 s. */
  requestTimeoutMs?: number;
  /** Told about every attempt (the SDK's retries each count), for metrics */
  onCall?: (call: AwsCallRecord) => void;
  /**
   * The request budget every CloudFormation attempt of a stage's account and region waits for (src/budgets.ts),
   * retries included; a throttled answer is reported back to it.
   */
  budget?: (scope: { account?: string; region: string }) => CallBudget;
  /** How long a background call lets the other calls of its budget go first; default BACKGROUND_PATIENCE_MS */
  backgroundPatienceMs?: number;
}

/** What the clients need of a request budget (src/budgets.ts Budget). */
export interface CallBudget {
  /** `priority` as in src/budgets.ts: lower goes first, a function is read whenever the next caller is chosen */
  take(priority?: number | (() => number)): Promise<unknown>;
  throttled(): void;
}

/**
 * How long a background call (SessionContext.background) lets the other calls of its budget go first. Past it,
 * it is served in turn with them, so following never starves, whatever else runs in the account.
 */
export const BACKGROUND_PATIENCE_MS = 5_000;

/** One attempt of an AWS API call. */
export interface AwsCallRecord {
  /** 'cloudformation', 's3', 'sts' */
  service: string;
  /** e.g. 'CreateChangeSet' */
  operation: string;
  /** 'ok', or the fault's reason (errors.ts): 'throttled', 'access_denied', 'timeout', 'network'… */
  result: string;
  durationMs: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000;

/**
 * NodeHttpHandler options (@smithy/node-http-handler): without `throwOnRequestTimeout` a request over
 * `requestTimeout` is only logged as a warning and keeps waiting.
 */
function requestHandlerOf(opts: AwsClientOptions) {
  return {
    connectionTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeout: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  };
}

const accountOfRole = (role: string | undefined) => (role ? /^arn:[\w-]+:iam::(\d{12}):/.exec(role)?.[1] : undefined);

interface WithMiddleware {
  middlewareStack: {
    add(middleware: unknown, options: unknown): void;
    addRelativeTo(middleware: unknown, options: unknown): void;
  };
}

type Next = (args: { input: unknown }) => Promise<unknown>;

/**
 * Tags every error a client's call throws with the call (`cloudformation:ExecuteChangeSet`), the client's role,
 * account and region, and the stack or object it named. Added first in the initialize step, so it sees the
 * final error after the SDK's retries, credential (AssumeRole) failures included.
 */
function tagFaults(client: WithMiddleware, service: string, access: StageAccess): void {
  client.middlewareStack.add(
    (next: Next, context: { commandName?: string }) => async (args: { input: unknown }) => {
      try {
        return await next(args);
      } catch (err) {
        const input = (args.input ?? {}) as Record<string, unknown>;
        const str = (k: string) => (typeof input[k] === 'string' ? (input[k] as string) : undefined);
        const tag: AwsCallTag = {
          action: `${service}:${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`,
          role: access.role,
          account: accountOfRole(access.role),
          region: access.region,
          stack: stackNameOf(str('StackName')),
          resource:
            str('Bucket') !== undefined
              ? `s3://${str('Bucket')}${str('Key') ? `/${str('Key')}` : ''}`
              : str('ChangeSetName')?.startsWith('arn:')
                ? str('ChangeSetName')
                : undefined,
        };
        for (const k of Object.keys(tag) as Array<keyof AwsCallTag>) if (tag[k] === undefined) delete tag[k];
        tagAwsCall(err, tag);
        throw err;
      }
    },
    { step: 'initialize', priority: 'high', name: 'promoteBotFaultTags' },
  );
}

/**
 * Reports every attempt to `onCall`. In the deserialize step, inside the SDK's retry loop (finalizeRequest), so
 * a throttled attempt that a retry then got through is counted too: that is what shows throttling.
 */
function countCalls(client: WithMiddleware, service: string, onCall: ((c: AwsCallRecord) => void) | undefined): void {
  if (!onCall) return;
  client.middlewareStack.add(
    (next: Next, context: { commandName?: string }) => async (args: { input: unknown }) => {
      const started = performance.now();
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const report = (result: string) => {
        try {
          onCall({ service, operation, result, durationMs: performance.now() - started });
        } catch {
          // metrics never break a call
        }
      };
      try {
        const out = await next(args);
        report('ok');
        return out;
      } catch (err) {
        report(classifyAwsError(err).reason);
        throw err;
      }
    },
    { step: 'deserialize', priority: 'high', name: 'promoteBotCallCounter' },
  );
}

/**
 * Every attempt waits for a token of the account and region's budget before it goes out, and a throttled answer
 * slows the budget down (CloudFormation throttles per account and region:
 * repost.aws/knowledge-center/cloudformation-rate-exceeded-error). In the finalizeRequest step after the SDK's
 * retry middleware, so each retry waits too, and before its signing middleware, so each attempt is signed once its
 * token is granted: AWS refuses a request that reaches it more than 5 minutes after the time it was signed at
 * (docs.aws.amazon.com/IAM/latest/UserGuide/signing-elements.html), and a wait can be longer when many operations
 * share an account. The wait is not part of the measured call duration.
 */
function budgetCalls(client: WithMiddleware, budget: CallBudget | undefined, patienceMs?: number): void {
  if (!budget) return;
  client.middlewareStack.addRelativeTo(
    (next: Next) => async (args: { input: unknown }) => {
      if (patienceMs === undefined) await budget.take();
      else {
        // A background call: served after the others until it has waited patienceMs, then in turn with them.
        const since = performance.now();
        await budget.take(() => (performance.now() - since < patienceMs ? PRIORITY.progress : PRIORITY.urgent));
      }
      try {
        return await next(args);
      } catch (err) {
        if (classifyAwsError(err).reason === 'throttled') budget.throttled();
        throw err;
      }
    },
    { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'promoteBotBudget' },
  );
}

/** Applies countCalls to the STS client fromTemporaryCredentials makes (AssumeRole). */
function stsPlugin(onCall: (c: AwsCallRecord) => void) {
  return {
    applyToStack: (stack: WithMiddleware['middlewareStack']) => countCalls({ middlewareStack: stack }, 'sts', onCall),
  };
}

/** STS: RoleSessionName 2–64 chars of [\w+=,.@-]. */
export function roleSessionName(actor: string): string {
  const clean = actor.replace(/[^\w+=,.@-]/g, '-');
  return `promote-bot-${clean}`.slice(0, 64);
}

/** STS: SourceIdentity 2–64 chars of [\w+=,.@-], not starting with "aws:"; CloudTrail shows it. */
export function sourceIdentity(actor: string): string {
  const clean = actor.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return clean.length >= 2 ? clean : `slack-${clean}`;
}

/** The session tag naming the approvers (STS: key ≤ 128, value ≤ 256 characters). */
export const APPROVERS_TAG = 'promote-bot:approvers';

const TAG_VALUE_MAX = 256;

/**
 * Approvers as one session tag value: user IDs separated by spaces (STS tag values allow letters, digits,
 * spaces and `_.:/=+-@`, not commas). Whole IDs only; those past 256 characters are counted as ` +N`.
 */
export function approversTagValue(approvers: string[]): string {
  const ids = approvers.map((a) => a.replace(/[^\p{L}\p{N}_.:/=+@-]/gu, '-')).filter((a) => a.length > 0);
  let value = '';
  for (let i = 0; i < ids.length; i++) {
    const next = value ? `${value} ${ids[i]}` : ids[i]!;
    const rest = ids.length - i - 1;
    const suffix = rest > 0 ? ` +${rest}` : '';
    if ((next + suffix).length > TAG_VALUE_MAX) return `${value} +${ids.length - i}`.trim().slice(0, TAG_VALUE_MAX);
    value = next;
  }
  return value;
}

export function createAwsClients(opts: AwsClientOptions = {}): AwsClients {
  const maxClients = opts.maxClients ?? 200;
  const cache = new Map<string, CloudFormationClient | S3Client>();

  const providers = new Map<string, AwsCredentialIdentityProvider>();

  /**
   * One provider per (role, person), shared by the CloudFormation and S3 clients: a single AssumeRole
   * serves both, and the credentials are fetched again only when less than 5 minutes remain.
   */
  function credentialsFor(
    access: StageAccess,
    actor: string,
    approvers = '',
  ): AwsCredentialIdentityProvider | undefined {
    if (!access.role) return undefined; // the SDK's default chain
    const key = [access.region, access.role, access.externalId ?? '', actor, approvers].join('|');
    const hit = providers.get(key);
    if (hit) return hit;
    const assume = fromTemporaryCredentials({
      params: {
        RoleArn: access.role,
        RoleSessionName: roleSessionName(actor),
        SourceIdentity: sourceIdentity(actor),
        ExternalId: access.externalId,
        DurationSeconds: 3600,
        ...(approvers ? { Tags: [{ Key: APPROVERS_TAG, Value: approvers }] } : {}),
      },
      clientConfig: { region: access.region, requestHandler: requestHandlerOf(opts), maxAttempts: opts.maxAttempts },
      ...(opts.onCall ? { clientPlugins: [stsPlugin(opts.onCall)] } : {}),
    });
    const role = access.role;
    let current: Promise<AwsCredentialIdentity> | undefined;
    const provider: AwsCredentialIdentityProvider = async () => {
      const fresh = current ? await current.catch(() => undefined) : undefined;
      if (!fresh || (fresh.expiration && fresh.expiration.getTime() - Date.now() < REFRESH_BEFORE_MS)) {
        current = assume().catch((err: unknown) => {
          tagAwsCall(err, { action: 'sts:AssumeRole', role, account: accountOfRole(role), region: access.region });
          throw err;
        });
      }
      return current!;
    };
    providers.set(key, provider);
    if (providers.size > maxClients) providers.delete(providers.keys().next().value as string);
    return provider;
  }

  function cached<T extends CloudFormationClient | S3Client>(key: string, make: () => T): T {
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit as T;
    }
    const client = make();
    cache.set(key, client);
    if (cache.size > maxClients) {
      const oldest = cache.keys().next().value as string;
      cache.get(oldest)?.destroy();
      cache.delete(oldest);
    }
    return client;
  }

  const keyOf = (kind: string, a: StageAccess, actor: string, approvers = '') =>
    [kind, a.region, a.role ?? '', a.externalId ?? '', a.role ? actor : '', a.role ? approvers : ''].join('|');

  return {
    cloudFormation(access, actor, session) {
      const approvers = session?.approvers?.length ? approversTagValue(session.approvers) : '';
      const background = session?.background === true;
      return cached(keyOf(background ? 'cfn-background' : 'cfn', access, actor, approvers), () => {
        const client = new CloudFormationClient({
          region: access.region,
          credentials: credentialsFor(access, actor, approvers),
          maxAttempts: opts.maxAttempts ?? 5,
          requestHandler: requestHandlerOf(opts),
          protocol: FastXmlQueryProtocol,
        });
        readLongTextsFast(client);
        tagFaults(client, 'cloudformation', access);
        countCalls(client, 'cloudformation', opts.onCall);
        budgetCalls(
          client,
          opts.budget?.({ account: accountOfRole(access.role), region: access.region }),
          background ? (opts.backgroundPatienceMs ?? BACKGROUND_PATIENCE_MS) : undefined,
        );
        return client;
      });
    },
    s3(access, actor) {
      return cached(keyOf('s3', access, actor), () => {
        const client = new S3Client({
          region: access.region,
          credentials: credentialsFor(access, actor),
          maxAttempts: opts.maxAttempts ?? 5,
          forcePathStyle: opts.forcePathStyle,
          requestHandler: requestHandlerOf(opts),
        });
        tagFaults(client, 's3', access);
        countCalls(client, 's3', opts.onCall);
        return client;
      });
    },
  };
}

/** A request handler that sends nothing: every request fails at once, before any connection. */
const SEND_NOTHING = {
  handle: async (): Promise<never> => {
    throw new Error('not sent: warm-up');
  },
};
const WARM_UP_CREDENTIALS = { accessKeyId: 'warm-up', secretAccessKey: 'warm-up' };

/**
 * Loads at start-up what the AWS SDK would otherwise load during the first promotion, and runs it once.
 * fromTemporaryCredentials requires its STS client only when it is first asked for credentials
 * (`@aws-sdk/credential-providers`: "loadSts", a require of `@aws-sdk/nested-clients/sts`), so the first
 * AssumeRole after start-up read and compiled that module on the event loop, then built the first STS client,
 * while Slack requests waited behind it (16–28 ms of CPU for a first AssumeRole in a fresh process, 2–3 ms for
 * the next ones; README, Performance: seventh session). Here an AssumeRole and a DescribeStacks each go
 * through their whole client (configuration, middleware, signing) into a request handler that refuses them, and
 * so does an S3 upload: nothing leaves the process and no credentials are looked up. On Node.js 20 the first
 * client built also emits the SDK's NodeVersionSupportWarning now, at start-up (logged: `logProcessWarnings`,
 * src/log.ts).
 */
export async function warmUpAwsSdk(): Promise<void> {
  const assume = fromTemporaryCredentials({
    params: { RoleArn: 'arn:aws:iam::000000000000:role/warm-up', RoleSessionName: 'warm-up' },
    masterCredentials: WARM_UP_CREDENTIALS,
    clientConfig: { region: 'us-east-1', requestHandler: SEND_NOTHING, maxAttempts: 1 },
  });
  await assume().catch(() => undefined);
  const cfn = new CloudFormationClient({
    region: 'us-east-1',
    credentials: WARM_UP_CREDENTIALS,
    requestHandler: SEND_NOTHING,
    maxAttempts: 1,
    protocol: FastXmlQueryProtocol,
  });
  readLongTextsFast(cfn);
  await cfn.send(new DescribeStacksCommand({ StackName: 'warm-up' })).catch(() => undefined);
  cfn.destroy();
  // The first upload of a template too large for TemplateBody held the event loop for 31–47 ms (the S3 client's
  // first request: its configuration, middleware and checksum code), later ones 1–6 ms; after a warm-up upload
  // 7 ms (an ad-hoc script, two runs of each).
  const s3 = new S3Client({
    region: 'us-east-1',
    credentials: WARM_UP_CREDENTIALS,
    requestHandler: SEND_NOTHING,
    maxAttempts: 1,
  });
  await s3.send(new PutObjectCommand({ Bucket: 'warm-up', Key: 'warm-up', Body: '{}' })).catch(() => undefined);
  s3.destroy();
}
