// One CloudFormation/S3 client per (region, role, person). Role credentials come from STS AssumeRole
// through @aws-sdk/credential-providers, which caches them and refreshes them before they expire,
// so there is no AssumeRole per API call. Endpoints come from the SDK's own chain (AWS_ENDPOINT_URL…).
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';

type AwsCredentialIdentityProvider = ReturnType<typeof fromTemporaryCredentials>;
type AwsCredentialIdentity = Awaited<ReturnType<AwsCredentialIdentityProvider>>;

/** Role credentials are renewed when less than this is left (the SDK's own margin). */
const REFRESH_BEFORE_MS = 5 * 60_000;

export interface StageAccess {
  region: string;
  role?: string;
  externalId?: string;
}

export interface AwsClients {
  cloudFormation(access: StageAccess, actor: string): CloudFormationClient;
  s3(access: StageAccess, actor: string): S3Client;
}

export interface AwsClientOptions {
  /** SDK attempts per call (throttling included); the SDK default is 3 */
  maxAttempts?: number;
  /** Path-style S3 URLs: needed when AWS_ENDPOINT_URL points at a local endpoint */
  forcePathStyle?: boolean;
  /** Most clients kept; the least recently used are dropped beyond it */
  maxClients?: number;
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

export function createAwsClients(opts: AwsClientOptions = {}): AwsClients {
  const maxClients = opts.maxClients ?? 200;
  const cache = new Map<string, CloudFormationClient | S3Client>();

  const providers = new Map<string, AwsCredentialIdentityProvider>();

  /**
   * One provider per (role, person), shared by the CloudFormation and S3 clients: a single AssumeRole
   * serves both, and the credentials are fetched again only when less than 5 minutes remain.
   */
  function credentialsFor(access: StageAccess, actor: string): AwsCredentialIdentityProvider | undefined {
    if (!access.role) return undefined; // the SDK's default chain
    const key = [access.region, access.role, access.externalId ?? '', actor].join('|');
    const hit = providers.get(key);
    if (hit) return hit;
    const assume = fromTemporaryCredentials({
      params: {
        RoleArn: access.role,
        RoleSessionName: roleSessionName(actor),
        SourceIdentity: sourceIdentity(actor),
        ExternalId: access.externalId,
        DurationSeconds: 3600,
      },
      clientConfig: { region: access.region },
    });
    let current: Promise<AwsCredentialIdentity> | undefined;
    const provider: AwsCredentialIdentityProvider = async () => {
      const fresh = current ? await current.catch(() => undefined) : undefined;
      if (!fresh || (fresh.expiration && fresh.expiration.getTime() - Date.now() < REFRESH_BEFORE_MS)) {
        current = assume();
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

  const keyOf = (kind: string, a: StageAccess, actor: string) =>
    [kind, a.region, a.role ?? '', a.externalId ?? '', a.role ? actor : ''].join('|');

  return {
    cloudFormation(access, actor) {
      return cached(
        keyOf('cfn', access, actor),
        () =>
          new CloudFormationClient({
            region: access.region,
            credentials: credentialsFor(access, actor),
            maxAttempts: opts.maxAttempts ?? 5,
          }),
      );
    },
    s3(access, actor) {
      return cached(
        keyOf('s3', access, actor),
        () =>
          new S3Client({
            region: access.region,
            credentials: credentialsFor(access, actor),
            maxAttempts: opts.maxAttempts ?? 5,
            forcePathStyle: opts.forcePathStyle,
          }),
      );
    },
  };
}
