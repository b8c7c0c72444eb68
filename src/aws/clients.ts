// One CloudFormation/S3 client per (region, role, person). Role credentials come from STS AssumeRole
// through @aws-sdk/credential-providers, which caches them and refreshes them before they expire,
// so there is no AssumeRole per API call. Endpoints come from the SDK's own chain (AWS_ENDPOINT_URL…).
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';

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

  function credentialsFor(access: StageAccess, actor: string) {
    if (!access.role) return undefined; // the SDK's default chain
    return fromTemporaryCredentials({
      params: {
        RoleArn: access.role,
        RoleSessionName: roleSessionName(actor),
        SourceIdentity: sourceIdentity(actor),
        ExternalId: access.externalId,
        DurationSeconds: 3600,
      },
      clientConfig: { region: access.region },
    });
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
