// Turns the ResourceChanges of a described change set into reviewed, ranked changes.
// Pure: no I/O. Every field of a ResourceChange may be missing, and a missing field never
// makes a change look safer (CloudFormation leaves fields out for nested stacks, Dynamic
// actions and some resource providers).
import type { ResourceChange, ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import { type ClassifiedChange, IMPACT_ORDER, type Impact, type Plan, type PropertyChange } from './types.js';

// ---------------------------------------------------------------------------------------------
// Resource types we know something about.
// ---------------------------------------------------------------------------------------------

interface TypeInfo {
  /** Human noun for messages ("table", "bucket"). */
  noun: string;
  /** Deleting or replacing it loses data that the template cannot recreate. */
  data?: true;
  /** Any change to it changes who may do what (IAM, resource policies, network rules). */
  security?: true;
  /** Only some of its properties are security-relevant (see SECURITY_PROPERTY); unknown details count as security. */
  securityProps?: true;
  /** Routine churn reviewers do not need to see (only when nothing worse applies). */
  noise?: true;
}

/**
 * Data-bearing types start from cfn-lint's StatefulResources.json (what CDK retains by default) and
 * add what it misses (platform-facts §2.7: Kinesis, OpenSearch, KMS keys, ECR, …).
 * AWS::SSM::Parameter is deliberately NOT data-bearing: CloudFormation cannot create SecureString
 * parameters, so every value it manages is in the template and a replacement recreates it.
 */
const TYPES: Readonly<Record<string, TypeInfo>> = {
  'AWS::DynamoDB::Table': { noun: 'table', data: true },
  'AWS::DynamoDB::GlobalTable': { noun: 'global table', data: true },
  'AWS::RDS::DBInstance': { noun: 'database', data: true },
  'AWS::RDS::DBCluster': { noun: 'database cluster', data: true },
  'AWS::RDS::GlobalCluster': { noun: 'global database cluster', data: true },
  'AWS::S3::Bucket': { noun: 'bucket', data: true },
  'AWS::S3Express::DirectoryBucket': { noun: 'directory bucket', data: true },
  'AWS::EFS::FileSystem': { noun: 'file system', data: true },
  'AWS::FSx::FileSystem': { noun: 'file system', data: true },
  'AWS::ElastiCache::CacheCluster': { noun: 'cache cluster', data: true },
  'AWS::ElastiCache::ReplicationGroup': { noun: 'cache replication group', data: true },
  'AWS::ElastiCache::ServerlessCache': { noun: 'serverless cache', data: true },
  'AWS::Elasticsearch::Domain': { noun: 'search domain', data: true },
  'AWS::OpenSearchService::Domain': { noun: 'search domain', data: true },
  'AWS::OpenSearchServerless::Collection': { noun: 'search collection', data: true },
  'AWS::Kinesis::Stream': { noun: 'stream', data: true },
  'AWS::SQS::Queue': { noun: 'queue', data: true },
  'AWS::Cognito::UserPool': { noun: 'user pool', data: true },
  'AWS::SecretsManager::Secret': { noun: 'secret', data: true },
  // Deleting a key makes everything encrypted with it unreadable; KeyPolicy is a permission.
  'AWS::KMS::Key': { noun: 'KMS key', data: true, securityProps: true },
  'AWS::Logs::LogGroup': { noun: 'log group', data: true, noise: true },
  'AWS::DocDB::DBCluster': { noun: 'database cluster', data: true },
  'AWS::DocDB::DBInstance': { noun: 'database', data: true },
  'AWS::Neptune::DBCluster': { noun: 'graph database cluster', data: true },
  'AWS::Neptune::DBInstance': { noun: 'graph database', data: true },
  'AWS::Redshift::Cluster': { noun: 'cluster', data: true },
  'AWS::Backup::BackupVault': { noun: 'backup vault', data: true },
  // Deleting or replacing a nested stack deletes every resource in it.
  'AWS::CloudFormation::Stack': { noun: 'nested stack', data: true },
  'AWS::EC2::Volume': { noun: 'volume', data: true },
  'AWS::EMR::Cluster': { noun: 'cluster', data: true },
  'AWS::QLDB::Ledger': { noun: 'ledger', data: true },
  'AWS::SDB::Domain': { noun: 'domain', data: true },
  'AWS::ECR::Repository': { noun: 'image repository', data: true },
  'AWS::Timestream::Database': { noun: 'database', data: true },
  'AWS::Timestream::Table': { noun: 'table', data: true },
  'AWS::MSK::Cluster': { noun: 'cluster', data: true },
  'AWS::MSK::ServerlessCluster': { noun: 'cluster', data: true },
  'AWS::MemoryDB::Cluster': { noun: 'cluster', data: true },
  // Glue tables are also filled by crawlers and jobs (partitions): recreating loses them.
  'AWS::Glue::Database': { noun: 'database', data: true },
  'AWS::Glue::Table': { noun: 'table', data: true },
  'AWS::SSM::Parameter': { noun: 'parameter' },

  'AWS::IAM::Role': { noun: 'IAM role', securityProps: true },
  'AWS::IAM::Policy': { noun: 'IAM policy', security: true },
  'AWS::IAM::ManagedPolicy': { noun: 'IAM managed policy', security: true },
  'AWS::IAM::User': { noun: 'IAM user', security: true },
  'AWS::IAM::Group': { noun: 'IAM group', security: true },
  'AWS::IAM::AccessKey': { noun: 'IAM access key', security: true },
  'AWS::IAM::InstanceProfile': { noun: 'instance profile', security: true },
  'AWS::EC2::SecurityGroup': { noun: 'security group', securityProps: true },
  'AWS::EC2::SecurityGroupIngress': { noun: 'security group ingress rule', security: true },
  'AWS::EC2::SecurityGroupEgress': { noun: 'security group egress rule', security: true },
  'AWS::Lambda::Permission': { noun: 'Lambda permission', security: true },
  'AWS::Lambda::LayerVersionPermission': { noun: 'Lambda layer permission', security: true },
  'AWS::SSO::PermissionSet': { noun: 'SSO permission set', security: true },
  'AWS::SSO::Assignment': { noun: 'SSO assignment', security: true },
  'AWS::S3::BucketPolicy': { noun: 'bucket policy', security: true },
  'AWS::SQS::QueuePolicy': { noun: 'queue policy', security: true },
  'AWS::SNS::TopicPolicy': { noun: 'topic policy', security: true },
  // Named *Policy but about scaling or snapshots, not about permissions.
  'AWS::AutoScaling::ScalingPolicy': { noun: 'scaling policy' },
  'AWS::ApplicationAutoScaling::ScalingPolicy': { noun: 'scaling policy' },
  'AWS::DLM::LifecyclePolicy': { noun: 'snapshot lifecycle policy' },

  // CDK rotates their logical IDs or content on every deploy.
  'AWS::Lambda::Version': { noun: 'Lambda version', noise: true },
  'AWS::ApiGateway::Deployment': { noun: 'API deployment', noise: true },
  'AWS::ApiGatewayV2::Deployment': { noun: 'API deployment', noise: true },
  'AWS::CDK::Metadata': { noun: 'CDK metadata', noise: true },

  'AWS::Lambda::Function': { noun: 'function' },
  'AWS::SNS::Topic': { noun: 'topic' },
  'AWS::SNS::Subscription': { noun: 'subscription' },
};

/** Properties whose change is a permission change on any type (cdk diff's IAM/security scrutiny). */
const SECURITY_PROPERTIES = new Set([
  'ManagedPolicyArns',
  'Policies',
  'PermissionsBoundary',
  'SecurityGroupIngress',
  'SecurityGroupEgress',
  // Not named *Policy, but it decides whether a bucket can be made public.
  'PublicAccessBlockConfiguration',
]);

/** Properties named *Policy that are not about permissions (same exclusions as cdk diff). */
const NOT_SECURITY_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::SNS::Subscription': ['DeliveryPolicy', 'FilterPolicy'],
  'AWS::SQS::Queue': ['RedrivePolicy'],
};

/**
 * The table's own entry for a key that came from AWS: `TYPES['constructor']` would otherwise be Object's
 * constructor (a ResourceType or property name is any string CloudFormation, or a template, hands us).
 */
function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** True when deleting or replacing a resource of this CloudFormation type loses data. */
export function isDataBearing(type: string): boolean {
  return own(TYPES, type)?.data === true;
}

function typeInfo(type: string): TypeInfo {
  const known = own(TYPES, type);
  if (known) return known;
  if (type === 'unknown') return { noun: 'resource' };
  if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') return { noun: 'custom resource' };
  const last = type.split('::').at(-1) ?? type;
  // Any other `*Policy` type carries a policy document (S3 access point policy, Logs resource policy, …).
  if (last.endsWith('Policy') && type.startsWith('AWS::')) return { noun: words(last), security: true };
  if (type.startsWith('AWS::IAM::')) return { noun: `IAM ${words(last)}`, security: true };
  return { noun: words(last) };
}

/** "SecurityGroupIngress" → "security group ingress", "DBCluster" → "DB cluster". */
function words(name: string): string {
  const parts = name.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+/g) ?? [name];
  return parts.map((w) => (w.length > 1 && w === w.toUpperCase() ? w : w.toLowerCase())).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Facts about one change, then the rule table that turns facts into an impact and a reason.
// ---------------------------------------------------------------------------------------------

interface Facts {
  logicalId: string;
  type: string;
  action: string;
  replacement?: string;
  policyAction?: string;
  info: TypeInfo;
  /** Data-bearing, or type unknown (could be). */
  data: boolean;
  properties: PropertyChange[];
  /** Whether we know which properties change (Details or contexts were present). */
  propertiesKnown: boolean;
  forcedBy: string[];
  /** Security-relevant properties touched; '(unnamed property)' when a detail named none. */
  securityProperties: string[];
}

interface Rule {
  impact: Impact;
  when: (f: Facts) => boolean;
  reason: (f: Facts) => string;
}

const isModify = (f: Facts) => f.action === 'Modify' || f.action === 'SyncWithActual';
const isSecurity = (f: Facts) =>
  f.info.security === true ||
  f.securityProperties.length > 0 ||
  (f.info.securityProps === true && !f.propertiesKnown && f.action !== 'Remove');
const subject = (f: Facts) => `${f.info.noun} ${f.logicalId}`;
const forced = (f: Facts) => (f.forcedBy.length ? `replacement forced by ${list(f.forcedBy)}` : '');
const paren = (s: string) => (s ? ` (${s})` : '');
const dataMayBeLost = (f: Facts) => (f.data ? '; data may be lost' : '');
const alsoSecurity = (f: Facts) =>
  f.securityProperties.length ? `; also changes permissions (${list(f.securityProperties)})` : '';

/**
 * What CloudFormation keeps when it removes or replaces a resource (PolicyAction, from the template's
 * DeletionPolicy / UpdateReplacePolicy), for any resource type: a retained topic is not a removed one.
 * See the PolicyAction entry of ResourceChange in the CloudFormation API reference.
 */
const removalKept = (f: Facts) =>
  f.action !== 'Remove'
    ? ''
    : f.policyAction === 'Retain'
      ? 'removed from the stack, retained'
      : f.policyAction === 'Snapshot'
        ? 'deleted, snapshot taken'
        : '';

/**
 * The classification: the first matching row wins. Rows run from worst to mildest so a change is
 * reported at its worst; the Retain/Snapshot rows come first only because they soften the
 * "data will be lost" (and, for a retained IAM resource, "permissions change") rows below them.
 * Reasons are plain text starting with a verb (LOUD_VERBS in capitals for what reviewers must look at),
 * then the noun and the logical ID.
 */
const RULES: readonly Rule[] = [
  {
    impact: 'removes',
    when: (f) => removalKept(f) !== '',
    reason: (f) => `REMOVES ${subject(f)} — ${removalKept(f)}`,
  },
  {
    impact: 'destroys',
    when: (f) => f.action === 'Remove' && f.data,
    reason: (f) =>
      `DELETES ${subject(f)} — ${f.type === 'unknown' ? 'CloudFormation did not say its type; data may be lost' : 'data will be lost'}`,
  },
  {
    impact: 'replaces',
    when: (f) => f.replacement === 'True' && f.policyAction === 'ReplaceAndRetain',
    reason: (f) => `REPLACES ${subject(f)} — replaced, old one retained${paren(forced(f))}${alsoSecurity(f)}`,
  },
  {
    impact: 'replaces',
    when: (f) => f.replacement === 'True' && f.policyAction === 'ReplaceAndSnapshot',
    reason: (f) => `REPLACES ${subject(f)} — replaced, snapshot taken${paren(forced(f))}${alsoSecurity(f)}`,
  },
  {
    impact: 'destroys',
    when: (f) => f.replacement === 'True' && f.data,
    reason: (f) => `REPLACES ${subject(f)} — data will be lost${paren(forced(f))}${alsoSecurity(f)}`,
  },
  {
    impact: 'replaces',
    when: (f) => f.replacement === 'True',
    reason: (f) => `REPLACES ${subject(f)}${forced(f) ? ` — ${forced(f)}` : ''}${alsoSecurity(f)}`,
  },
  {
    impact: 'may-replace',
    when: (f) => f.action === 'Dynamic',
    reason: (f) => `MAY REPLACE ${subject(f)} — CloudFormation cannot tell yet what will happen${dataMayBeLost(f)}`,
  },
  {
    impact: 'may-replace',
    when: (f) => f.action === 'unknown',
    reason: (f) => `MAY REPLACE ${subject(f)} — CloudFormation did not say what it will do${dataMayBeLost(f)}`,
  },
  {
    impact: 'may-replace',
    when: (f) => f.replacement === 'Conditional',
    reason: (f) => {
      const kept =
        f.policyAction === 'ReplaceAndRetain'
          ? '; the old one would be retained'
          : f.policyAction === 'ReplaceAndSnapshot'
            ? '; a snapshot would be taken'
            : dataMayBeLost(f);
      return `MAY REPLACE ${subject(f)} — ${forced(f) || 'replacement depends on values known only at deploy time'}${kept}${alsoSecurity(f)}`;
    },
  },
  {
    impact: 'may-replace',
    when: (f) => isModify(f) && f.replacement === undefined,
    reason: (f) =>
      `MAY REPLACE ${subject(f)} — CloudFormation did not say whether this replaces it${dataMayBeLost(f)}${alsoSecurity(f)}`,
  },
  {
    impact: 'security',
    when: isSecurity,
    reason: (f) => `${loudVerb(f.action)} ${subject(f)} — ${securityWhat(f)}`,
  },
  {
    impact: 'removes',
    when: (f) => f.action === 'Remove',
    reason: (f) => `REMOVES ${subject(f)}`,
  },
  {
    impact: 'minor',
    // Imports stay visible: bringing an existing resource under the stack is worth a look.
    when: (f) => f.info.noise === true && f.action !== 'Import',
    reason: (f) => `${quietVerb(f.action)} ${subject(f)}`,
  },
  {
    impact: 'minor',
    // Only reached when no policy property changed (the security row is above).
    when: (f) => f.type === 'AWS::IAM::Role' && isModify(f) && f.propertiesKnown,
    reason: (f) => `${quietVerb(f.action)} ${subject(f)} — no permission change`,
  },
  {
    impact: 'modify',
    when: isModify,
    reason: (f) => `modifies ${subject(f)}`,
  },
  {
    impact: 'add',
    when: (f) => f.action === 'Import',
    reason: (f) => `imports ${subject(f)} — imported into the stack`,
  },
  {
    impact: 'add',
    when: (f) => f.action === 'Add',
    reason: (f) => `adds ${subject(f)}`,
  },
  {
    // An action newer than this code: unknown, so never safe.
    impact: 'may-replace',
    when: () => true,
    reason: (f) => `MAY REPLACE ${subject(f)} — unrecognised action ${f.action}${dataMayBeLost(f)}`,
  },
];

/** Capitalised verbs a reason may start with; views make them bold. */
export const LOUD_VERBS = ['MAY REPLACE', 'DELETES', 'REPLACES', 'REMOVES', 'ADDS', 'MODIFIES', 'IMPORTS'] as const;

function loudVerb(action: string): string {
  switch (action) {
    case 'Add':
      return 'ADDS';
    case 'Remove':
      return 'REMOVES';
    case 'Import':
      return 'IMPORTS';
    default:
      return 'MODIFIES';
  }
}

function quietVerb(action: string): string {
  return loudVerb(action).toLowerCase();
}

function securityWhat(f: Facts): string {
  if (f.securityProperties.length) return `permissions change (${list(f.securityProperties)})`;
  if (f.info.securityProps) {
    return f.action === 'Add' || f.action === 'Import'
      ? 'CloudFormation did not show its properties, it may grant access'
      : 'CloudFormation did not list the changed properties, permissions may change';
  }
  if (f.type.startsWith('AWS::IAM::')) return 'IAM permissions change';
  if (f.type.startsWith('AWS::SSO::')) return 'SSO access change';
  if (f.type.startsWith('AWS::EC2::SecurityGroup')) return 'network access rule change';
  if (f.type.startsWith('AWS::Lambda::')) return 'changes who may invoke it';
  return 'resource policy change';
}

function list(names: readonly string[], max = 4): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} +${names.length - max} more` : shown;
}

// ---------------------------------------------------------------------------------------------
// Property changes: from Details, values filled from BeforeContext/AfterContext when missing.
// ---------------------------------------------------------------------------------------------

const RECREATION_RANK: Readonly<Record<string, number>> = { Never: 1, Conditionally: 2, Always: 3 };

/** Top-level property name a detail touches, or undefined when it is not about Properties. */
function propertyName(d: ResourceChangeDetail): string | undefined {
  const t = d.Target;
  if (!t || (t.Attribute !== undefined && t.Attribute !== 'Properties')) return undefined;
  if (t.Name) return t.Name;
  // Target.Path is a JSON pointer such as /Properties/Tags/0/Value.
  const fromPath = t.Path?.split('/').filter(Boolean);
  return fromPath?.[0] === 'Properties' ? fromPath[1] : undefined;
}

function detailPath(d: ResourceChangeDetail): string {
  const t = d.Target;
  const name = propertyName(d);
  if (name) return `Properties.${name}`;
  if (t?.Attribute && t.Attribute !== 'Properties') return t.Name ? `${t.Attribute}.${t.Name}` : t.Attribute;
  return '(unnamed property)';
}

/** Parses a Before/AfterContext JSON string into its top-level properties; undefined when absent or unreadable. */
function contextProperties(json: string | undefined): Record<string, unknown> | undefined {
  if (!json) return undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    const props = (parsed as Record<string, unknown>).Properties;
    if (props && typeof props === 'object' && !Array.isArray(props)) return props as Record<string, unknown>;
    return parsed as Record<string, unknown>;
  } catch {
    return undefined; // a context we cannot read tells us nothing; the Details still count
  }
}

function stringify(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function propertiesOf(rc: ResourceChange): { properties: PropertyChange[]; known: boolean } {
  const before = contextProperties(rc.BeforeContext);
  const after = contextProperties(rc.AfterContext);
  const details = rc.Details ?? [];
  const byPath = new Map<string, PropertyChange>();

  for (const d of details) {
    const path = detailPath(d);
    const t = d.Target;
    const next: PropertyChange = {
      path,
      before: t?.BeforeValue,
      after: t?.AfterValue,
      requiresRecreation: t?.RequiresRecreation,
      changeSource: d.ChangeSource,
    };
    const seen = byPath.get(path);
    if (!seen) {
      byPath.set(path, next);
      continue;
    }
    // CloudFormation repeats a property once per cause (DirectModification, ResourceReference, …).
    seen.before ??= next.before;
    seen.after ??= next.after;
    if (
      (own(RECREATION_RANK, next.requiresRecreation ?? '') ?? 0) >
      (own(RECREATION_RANK, seen.requiresRecreation ?? '') ?? 0)
    ) {
      seen.requiresRecreation = next.requiresRecreation;
    }
    if (next.changeSource && seen.changeSource !== next.changeSource) {
      seen.changeSource = seen.changeSource ? `${seen.changeSource}, ${next.changeSource}` : next.changeSource;
    }
  }

  if (byPath.size === 0 && (before || after)) {
    // No Details: diff the top-level properties of the two contexts.
    const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
    for (const key of [...keys].sort()) {
      const b = stringify(before?.[key]);
      const a = stringify(after?.[key]);
      if (a !== b) byPath.set(`Properties.${key}`, { path: `Properties.${key}`, before: b, after: a });
    }
    return { properties: [...byPath.values()], known: true };
  }

  for (const p of byPath.values()) {
    if (p.before !== undefined || p.after !== undefined || !p.path.startsWith('Properties.')) continue;
    const key = p.path.slice('Properties.'.length);
    p.before = stringify(before?.[key]);
    p.after = stringify(after?.[key]);
  }
  return { properties: [...byPath.values()], known: byPath.size > 0 };
}

function securityPropertiesOf(rc: ResourceChange, type: string, info: TypeInfo): string[] {
  const excluded = own(NOT_SECURITY_PROPERTIES, type) ?? [];
  const names = new Set<string>();
  for (const d of rc.Details ?? []) {
    const name = propertyName(d);
    if (name === undefined) {
      // A Properties detail that names nothing could be the policy; only matters where policies live.
      const aboutProperties = d.Target?.Attribute === undefined || d.Target.Attribute === 'Properties';
      if (aboutProperties && info.securityProps) names.add('(unnamed property)');
      continue;
    }
    if (isSecurityProperty(name, excluded)) names.add(name);
  }
  if (!rc.Details?.length) {
    const before = contextProperties(rc.BeforeContext) ?? {};
    const after = contextProperties(rc.AfterContext) ?? {};
    for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (isSecurityProperty(name, excluded) && JSON.stringify(before[name]) !== JSON.stringify(after[name])) {
        names.add(name);
      }
    }
  }
  return [...names].sort();
}

function isSecurityProperty(name: string, excluded: readonly string[]): boolean {
  if (excluded.includes(name)) return false;
  return SECURITY_PROPERTIES.has(name) || /policy/i.test(name);
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** Classifies one CloudFormation ResourceChange. Missing fields are treated as unknown, never as safe. */
export function classifyChange(rc: ResourceChange, stack?: string): ClassifiedChange {
  const type = rc.ResourceType || 'unknown';
  const info = typeInfo(type);
  const { properties, known } = propertiesOf(rc);
  const forcedBy = [
    ...new Set(
      (rc.Details ?? [])
        .filter((d) => d.Target?.RequiresRecreation === 'Always' || d.Target?.RequiresRecreation === 'Conditionally')
        .map((d) => propertyName(d) ?? d.Target?.Attribute ?? '(unnamed property)'),
    ),
  ];
  const facts: Facts = {
    logicalId: rc.LogicalResourceId || rc.PhysicalResourceId || '(no logical ID)',
    type,
    action: rc.Action || 'unknown',
    replacement: rc.Replacement,
    policyAction: rc.PolicyAction,
    info,
    // An unknown type could be a table: treat it as data-bearing so its removal is not played down.
    data: isDataBearing(type) || type === 'unknown',
    properties,
    propertiesKnown: known,
    forcedBy,
    securityProperties: securityPropertiesOf(rc, type, info),
  };
  // The last row matches everything, so find() always succeeds.
  const rule = RULES.find((r) => r.when(facts))!;
  return {
    logicalId: facts.logicalId,
    ...(rc.PhysicalResourceId ? { physicalId: rc.PhysicalResourceId } : {}),
    resourceType: type,
    action: facts.action,
    ...(rc.Replacement ? { replacement: rc.Replacement } : {}),
    ...(rc.PolicyAction ? { policyAction: rc.PolicyAction } : {}),
    impact: rule.impact,
    reason: rule.reason(facts),
    forcedBy,
    properties,
    dataBearing: facts.data,
    ...(stack ? { stack } : {}),
  };
}

/**
 * Whether a classified change changes permissions: reported as a security change, or a change of another
 * impact (a replacement, a possible replacement) that also touches a security type or property. A removal
 * CloudFormation retains changes nobody's access.
 */
export function changesPermissions(c: ClassifiedChange): boolean {
  if (c.impact === 'security') return true;
  if (c.action === 'Remove') return false;
  const info = typeInfo(c.resourceType);
  if (info.security) return true;
  if (info.securityProps && c.properties.length === 0) return true;
  const excluded = own(NOT_SECURITY_PROPERTIES, c.resourceType) ?? [];
  return c.properties.some(
    (p) =>
      (p.path.startsWith('Properties.') && isSecurityProperty(p.path.slice('Properties.'.length), excluded)) ||
      (p.path === '(unnamed property)' && info.securityProps === true),
  );
}

const rank = (impact: Impact) => IMPACT_ORDER.indexOf(impact);
// Numeric-aware so Table2 sorts before Table10, as people read them. The bot's one use of Intl: the collator is
// native, and it sorts a 2,500-change plan in bench row 3 about 10 ms faster than the same order written in
// TypeScript did (41 against 47-56 ms, last page answered → summary); its collation data costs about 2 MB of RSS
// (file-backed, bench row 4).
const byLogicalId = new Intl.Collator('en', { numeric: true }).compare;
const byStack = (a: string | undefined, b: string | undefined) =>
  a === b ? 0 : a === undefined ? -1 : b === undefined ? 1 : byLogicalId(a, b);

/** The worst impact among the changes (IMPACT_ORDER), or undefined when there are none. */
export function worstImpact(changes: readonly ClassifiedChange[]): Impact | undefined {
  let worst: Impact | undefined;
  for (const c of changes) if (worst === undefined || rank(c.impact) < rank(worst)) worst = c.impact;
  return worst;
}

/** The changes of one stack of an operation: `stack` undefined for the operation's own stack. */
export interface StackChanges {
  stack?: string;
  changes: readonly ResourceChange[];
}

/** Classifies every change, sorts worst first then by logical ID, and counts them. */
export function buildPlan(rcs: readonly ResourceChange[]): Plan {
  return buildStackedPlan([{ changes: rcs }]);
}

/**
 * One plan over several stacks (a stack and its nested stacks): every change classified by the same rules and
 * sorted as one list, worst first, so a destructive change inside a nested stack ranks with those at the top.
 * Within an impact, the top stack's changes come first, then each stack's together, then by logical ID.
 */
export function buildStackedPlan(groups: readonly StackChanges[]): Plan {
  const builder = planBuilder();
  for (const g of groups) builder.add(g);
  return builder.plan();
}

/**
 * buildStackedPlan a page at a time: `add` classifies each page of changes as it arrives (while the next is
 * asked for), and `plan` only sorts and counts, so a plan of thousands of changes is ready soon after its last
 * page.
 */
export function planBuilder(): { add(group: StackChanges): ClassifiedChange[]; plan(): Plan } {
  const classified: ClassifiedChange[] = [];
  return {
    /** Classifies a page of changes; returns them classified (the plan will hold these same objects) */
    add(g) {
      const page = g.changes.map((rc) => classifyChange(rc, g.stack));
      classified.push(...page);
      return page;
    },
    plan: () => sortAndCount(classified),
  };
}

function sortAndCount(classified: readonly ClassifiedChange[]): Plan {
  const changes = [...classified].sort(
    (a, b) => rank(a.impact) - rank(b.impact) || byStack(a.stack, b.stack) || byLogicalId(a.logicalId, b.logicalId),
  );
  const counts = { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: changes.length };
  for (const c of changes) {
    if (c.action === 'Add' || c.action === 'Import') counts.added++;
    else if (c.action === 'Remove') counts.removed++;
    else counts.modified++;
    if (c.replacement === 'True' || c.replacement === 'Conditional') counts.replaced++;
    if (c.impact === 'minor') counts.minor++;
  }
  return { changes, counts };
}
