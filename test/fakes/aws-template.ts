// CloudFormation template handling for the fake: parsing (JSON or YAML with the short-form tags),
// parameter resolution with CloudFormation's rules, capability checks, and the resource diff that a
// change set reports. Pure functions; the stateful service lives in aws-cfn.ts.
import type { ParameterDeclaration, ResourceChange, ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import { parse as parseYaml, type Tags as YamlTags } from 'yaml';
import { AwsError, validationError } from './aws-wire.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ParameterDecl {
  key: string;
  type: string;
  default?: string;
  noEcho: boolean;
  description?: string;
  allowedValues?: string[];
  allowedPattern?: string;
}

export interface ResourceDecl {
  logicalId: string;
  type: string;
  properties: JsonObject;
  metadata?: Json;
  deletionPolicy?: string;
  updateReplacePolicy?: string;
  condition?: string;
}

export interface Template {
  body: string;
  description?: string;
  version?: string;
  transforms: string[];
  parameters: ParameterDecl[];
  resources: ResourceDecl[];
  conditions: JsonObject;
  mappings: JsonObject;
  /** Export names of its Outputs (literal names only), which other stacks of the account and region may import */
  exports: string[];
  /** Export names it imports with Fn::ImportValue (literal names only) */
  imports: string[];
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

// The YAML short forms (`!Ref X`, `!GetAtt A.B`, `!Sub [...]`) expand to the long JSON forms.
const SHORT_FORMS = [
  'Ref',
  'Condition',
  'Sub',
  'GetAtt',
  'Join',
  'Select',
  'Split',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'FindInMap',
  'Base64',
  'Cidr',
  'ImportValue',
  'GetAZs',
  'Transform',
  'Length',
  'ToJsonString',
];
const longName = (n: string) => (n === 'Ref' || n === 'Condition' ? n : `Fn::${n}`);
const CFN_YAML_TAGS: YamlTags = SHORT_FORMS.flatMap((n) => [
  {
    tag: `!${n}`,
    resolve: (v: string) => ({ [longName(n)]: n === 'GetAtt' ? v.split('.') : v }),
  },
  {
    tag: `!${n}`,
    collection: 'seq' as const,
    resolve: (v: unknown) => ({ [longName(n)]: (v as { toJSON(): unknown }).toJSON() }),
  },
  {
    tag: `!${n}`,
    collection: 'map' as const,
    resolve: (v: unknown) => ({ [longName(n)]: (v as { toJSON(): unknown }).toJSON() }),
  },
]) as unknown as YamlTags;

const formatError = (msg: string) => validationError(`Template format error: ${msg}`);

/** Parses and checks a template body the way CreateChangeSet/GetTemplateSummary do (JSON first, then YAML). */
export function parseTemplate(body: string): Template {
  let doc: unknown;
  if (body.trimStart().startsWith('{')) {
    try {
      doc = JSON.parse(body);
    } catch (cause) {
      throw formatError(`JSON not well-formed. (${(cause as Error).message})`);
    }
  } else {
    try {
      doc = parseYaml(body, { customTags: CFN_YAML_TAGS, prettyErrors: false });
    } catch (cause) {
      throw formatError(`YAML not well-formed. (${(cause as Error).message})`);
    }
  }
  if (!isObject(doc)) throw formatError('template must be a JSON or YAML object');
  const resourcesDoc = doc.Resources;
  if (!isObject(resourcesDoc) || Object.keys(resourcesDoc).length === 0) {
    throw formatError('At least one Resources member must be defined.');
  }
  const resources = Object.entries(resourcesDoc).map(([logicalId, r]): ResourceDecl => {
    if (!isObject(r) || typeof r.Type !== 'string') {
      throw formatError(`[/Resources/${logicalId}] Every Resources object must contain a Type member.`);
    }
    return {
      logicalId,
      type: r.Type,
      properties: isObject(r.Properties) ? r.Properties : {},
      metadata: r.Metadata ?? undefined,
      deletionPolicy: typeof r.DeletionPolicy === 'string' ? r.DeletionPolicy : undefined,
      updateReplacePolicy: typeof r.UpdateReplacePolicy === 'string' ? r.UpdateReplacePolicy : undefined,
      condition: typeof r.Condition === 'string' ? r.Condition : undefined,
    };
  });
  const parameters = Object.entries(isObject(doc.Parameters) ? doc.Parameters : {}).map(([key, p]): ParameterDecl => {
    const decl = isObject(p) ? p : {};
    return {
      key,
      type: typeof decl.Type === 'string' ? decl.Type : 'String',
      default: decl.Default === undefined ? undefined : scalarText(decl.Default),
      noEcho: decl.NoEcho === true || decl.NoEcho === 'true',
      description: typeof decl.Description === 'string' ? decl.Description : undefined,
      allowedValues: Array.isArray(decl.AllowedValues) ? decl.AllowedValues.map(scalarText) : undefined,
      allowedPattern: typeof decl.AllowedPattern === 'string' ? decl.AllowedPattern : undefined,
    };
  });
  const transform = doc.Transform;
  const tpl: Template = {
    body,
    description: typeof doc.Description === 'string' ? doc.Description : undefined,
    version: doc.AWSTemplateFormatVersion === undefined ? undefined : String(doc.AWSTemplateFormatVersion),
    transforms: typeof transform === 'string' ? [transform] : Array.isArray(transform) ? transform.map(String) : [],
    parameters,
    resources,
    conditions: isObject(doc.Conditions) ? doc.Conditions : {},
    mappings: isObject(doc.Mappings) ? doc.Mappings : {},
    exports: Object.values(isObject(doc.Outputs) ? doc.Outputs : {}).flatMap((o) =>
      isObject(o) && isObject(o.Export) && typeof o.Export.Name === 'string' ? [o.Export.Name] : [],
    ),
    imports: [...new Set(importsIn(resourcesDoc))],
  };
  checkReferences(tpl);
  return tpl;
}

/** Literal names given to Fn::ImportValue anywhere in `v`. */
function importsIn(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(importsIn);
  if (!isObject(v)) return [];
  return Object.entries(v).flatMap(([k, x]) => (k === 'Fn::ImportValue' && typeof x === 'string' ? [x] : importsIn(x)));
}

function scalarText(v: Json | undefined): string {
  if (Array.isArray(v)) return v.map(scalarText).join(',');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// A Ref/GetAtt/Sub to something that is neither a parameter, a resource nor a pseudo parameter
// fails template validation synchronously in CloudFormation.
function checkReferences(tpl: Template): void {
  const known = new Set([...tpl.parameters.map((p) => p.key), ...tpl.resources.map((r) => r.logicalId)]);
  const missing = new Set<string>();
  for (const r of tpl.resources) {
    for (const ref of references(r.properties)) {
      if (!known.has(ref.target) && !ref.target.startsWith('AWS::')) missing.add(ref.target);
    }
  }
  if (missing.size > 0) {
    throw formatError(
      `Unresolved resource dependencies [${[...missing].join(', ')}] in the Resources block of the template`,
    );
  }
}

interface Reference {
  target: string;
  attribute?: string;
  via: 'Ref' | 'GetAtt' | 'Sub';
}

/** Every Ref / Fn::GetAtt / ${Name} in Fn::Sub within a value. */
export function references(v: Json | undefined): Reference[] {
  const out: Reference[] = [];
  const walk = (x: Json | undefined, subVars: Set<string>) => {
    if (Array.isArray(x)) {
      for (const i of x) walk(i, subVars);
      return;
    }
    if (!isObject(x)) return;
    const keys = Object.keys(x);
    if (keys.length === 1) {
      const [fn] = keys as [string];
      const arg = x[fn];
      if (fn === 'Ref' && typeof arg === 'string') {
        out.push({ target: arg, via: 'Ref' });
        return;
      }
      if (fn === 'Fn::GetAtt') {
        const [target, attribute] = typeof arg === 'string' ? arg.split('.') : Array.isArray(arg) ? arg : [];
        if (typeof target === 'string') out.push({ target, attribute: scalarText(attribute ?? null), via: 'GetAtt' });
        return;
      }
      if (fn === 'Fn::Sub') {
        const [text, vars] = typeof arg === 'string' ? [arg, undefined] : Array.isArray(arg) ? arg : [];
        const local = new Set(isObject(vars) ? Object.keys(vars) : []);
        if (typeof text === 'string') {
          for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
            const [target, attribute] = m[1]!.trim().split('.');
            if (target && !local.has(target)) out.push({ target, attribute, via: 'Sub' });
          }
        }
        if (vars !== undefined) walk(vars, subVars);
        return;
      }
    }
    for (const k of keys) walk(x[k], subVars);
  };
  walk(v, new Set());
  return out;
}

/** One entry of CreateChangeSet's Parameters list. */
export interface ParameterInput {
  key: string;
  value?: string;
  usePrevious: boolean;
}

/**
 * Final parameter values for an update. CloudFormation quirk: a key left out of the request does NOT
 * keep its previous value, it falls back to the template Default (or fails when there is none).
 */
export function resolveParameterValues(
  tpl: Template,
  inputs: ParameterInput[],
  previous: Record<string, string> | undefined,
): Record<string, string> {
  const declared = new Set(tpl.parameters.map((p) => p.key));
  const unknown = inputs.filter((i) => !declared.has(i.key)).map((i) => i.key);
  if (unknown.length > 0) throw validationError(`Parameters: [${unknown.join(', ')}] do not exist in the template`);
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const decl of tpl.parameters) {
    const input = inputs.find((i) => i.key === decl.key);
    let value: string | undefined;
    if (input?.usePrevious) {
      value = previous?.[decl.key];
      if (value === undefined) {
        throw validationError(
          `Invalid input for parameter key ${decl.key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template`,
        );
      }
    } else {
      value = input?.value ?? decl.default;
    }
    if (value === undefined) {
      missing.push(decl.key);
      continue;
    }
    if (decl.allowedValues && !decl.allowedValues.includes(value)) {
      throw validationError(`Parameter '${decl.key}' must be one of AllowedValues`);
    }
    if (decl.allowedPattern && !new RegExp(`^(?:${decl.allowedPattern})$`).test(value)) {
      throw validationError(`Parameter '${decl.key}' must match pattern ${decl.allowedPattern}`);
    }
    out[decl.key] = value;
  }
  if (missing.length > 0) throw validationError(`Parameters: [${missing.join(', ')}] must have values`);
  return out;
}

// IAM types that need CAPABILITY_IAM, and the property whose presence (a custom name) raises
// the requirement to CAPABILITY_NAMED_IAM.
const IAM_TYPES: ReadonlyMap<string, string | undefined> = new Map([
  ['AWS::IAM::Role', 'RoleName'],
  ['AWS::IAM::User', 'UserName'],
  ['AWS::IAM::Group', 'GroupName'],
  ['AWS::IAM::ManagedPolicy', 'ManagedPolicyName'],
  ['AWS::IAM::InstanceProfile', 'InstanceProfileName'],
  ['AWS::IAM::Policy', undefined],
  ['AWS::IAM::AccessKey', undefined],
  ['AWS::IAM::UserToGroupAddition', undefined],
]);

export interface CapabilityNeed {
  capability?: 'CAPABILITY_IAM' | 'CAPABILITY_NAMED_IAM';
  resourceTypes: string[];
}

export function requiredCapabilities(tpl: Template): CapabilityNeed {
  const iam = tpl.resources.filter((r) => IAM_TYPES.has(r.type));
  if (iam.length === 0) return { resourceTypes: [] };
  const named = iam.some((r) => {
    const nameProp = IAM_TYPES.get(r.type);
    return nameProp !== undefined && r.properties[nameProp] !== undefined;
  });
  return {
    capability: named ? 'CAPABILITY_NAMED_IAM' : 'CAPABILITY_IAM',
    resourceTypes: [...new Set(iam.map((r) => r.type))],
  };
}

export function checkCapabilities(tpl: Template, given: string[]): void {
  const { capability } = requiredCapabilities(tpl);
  if (!capability) return;
  // CAPABILITY_NAMED_IAM implies CAPABILITY_IAM, not the other way round.
  const ok = given.includes('CAPABILITY_NAMED_IAM') || (capability === 'CAPABILITY_IAM' && given.includes(capability));
  if (!ok) throw new AwsError('InsufficientCapabilitiesException', `Requires capabilities : [${capability}]`);
}

/** GetTemplateSummary / ValidateTemplate output. */
export function templateSummary(tpl: Template) {
  const need = requiredCapabilities(tpl);
  const declarations: ParameterDeclaration[] = tpl.parameters.map((p) => ({
    ParameterKey: p.key,
    DefaultValue: p.default,
    ParameterType: p.type,
    NoEcho: p.noEcho,
    Description: p.description,
    ParameterConstraints: p.allowedValues ? { AllowedValues: p.allowedValues } : undefined,
  }));
  return {
    Parameters: declarations,
    Description: tpl.description,
    Capabilities: need.capability ? [need.capability] : undefined,
    CapabilitiesReason: need.capability
      ? `The following resource(s) require capabilities: [${need.resourceTypes.join(', ')}]`
      : undefined,
    ResourceTypes: [...new Set(tpl.resources.map((r) => r.type))],
    Version: tpl.version,
    DeclaredTransforms: tpl.transforms,
  };
}

// ---------------------------------------------------------------------------------------------
// Evaluation: resolve parameters, pseudo parameters, conditions and the simple intrinsics so that
// a parameter change shows up as a property change, as it does in a real change set.

const NO_VALUE = Symbol('AWS::NoValue');
type Resolved = Json | typeof NO_VALUE;

export interface EvalContext {
  params: Record<string, string>;
  region: string;
  account: string;
  stackName: string;
  stackId: string;
}

export interface EvaluatedResource {
  decl: ResourceDecl;
  /** Properties with parameters and the simple intrinsics resolved. */
  props: JsonObject;
}

class Resolver {
  private readonly values = new Map<string, Json>();
  private readonly conditionCache = new Map<string, boolean>();

  constructor(
    private readonly tpl: Template,
    ctx: EvalContext,
  ) {
    for (const p of tpl.parameters) {
      const v = ctx.params[p.key];
      if (v === undefined) continue;
      const isList = p.type === 'CommaDelimitedList' || p.type.startsWith('List<');
      this.values.set(p.key, isList ? v.split(',').map((s) => s.trim()) : v);
    }
    this.values.set('AWS::Region', ctx.region);
    this.values.set('AWS::AccountId', ctx.account);
    this.values.set('AWS::StackName', ctx.stackName);
    this.values.set('AWS::StackId', ctx.stackId);
    this.values.set('AWS::Partition', 'aws');
    this.values.set('AWS::URLSuffix', 'amazonaws.com');
  }

  condition(name: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    this.conditionCache.set(name, false); // breaks cycles
    const result = truthy(this.resolve(this.tpl.conditions[name] ?? false));
    this.conditionCache.set(name, result);
    return result;
  }

  resolve(v: Json): Resolved {
    if (Array.isArray(v)) return v.map((i) => this.resolve(i)).filter((i): i is Json => i !== NO_VALUE);
    if (!isObject(v)) return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const fn = keys[0]!;
      const fnResult = this.intrinsic(fn, v[fn] as Json);
      if (fnResult !== undefined) return fnResult;
    }
    const out: JsonObject = {};
    for (const k of keys) {
      const r = this.resolve(v[k] as Json);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  /** undefined = not an intrinsic this fake evaluates; the caller resolves the arguments only. */
  private intrinsic(fn: string, arg: Json): Resolved | undefined {
    switch (fn) {
      case 'Ref':
        if (arg === 'AWS::NoValue') return NO_VALUE;
        return typeof arg === 'string' && this.values.has(arg) ? this.values.get(arg)! : undefined;
      case 'Condition':
        return typeof arg === 'string' ? this.condition(arg) : undefined;
      case 'Fn::If': {
        if (!Array.isArray(arg) || typeof arg[0] !== 'string') return undefined;
        return this.resolve((this.condition(arg[0]) ? arg[1] : arg[2]) ?? null);
      }
      case 'Fn::Equals': {
        if (!Array.isArray(arg)) return undefined;
        const [a, b] = arg.map((x) => this.resolve(x));
        return canonical(a) === canonical(b);
      }
      case 'Fn::Not':
        return Array.isArray(arg) ? !truthy(this.resolve(arg[0] ?? false)) : undefined;
      case 'Fn::And':
        return Array.isArray(arg) ? arg.every((c) => truthy(this.resolve(c))) : undefined;
      case 'Fn::Or':
        return Array.isArray(arg) ? arg.some((c) => truthy(this.resolve(c))) : undefined;
      case 'Fn::Sub':
        return this.sub(arg);
      case 'Fn::Join': {
        if (!Array.isArray(arg) || typeof arg[0] !== 'string') return undefined;
        const list = this.resolve(arg[1] ?? []);
        if (Array.isArray(list) && list.every((i) => typeof i === 'string' || typeof i === 'number')) {
          return list.join(arg[0]);
        }
        return { 'Fn::Join': [arg[0], list === NO_VALUE ? [] : list] };
      }
      case 'Fn::Select': {
        if (!Array.isArray(arg)) return undefined;
        const index = this.resolve(arg[0] ?? null);
        const list = this.resolve(arg[1] ?? null);
        const item = Array.isArray(list) ? list[Number(index)] : undefined;
        return item === undefined ? { 'Fn::Select': [index as Json, list as Json] } : item;
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || typeof arg[0] !== 'string') return undefined;
        const source = this.resolve(arg[1] ?? null);
        return typeof source === 'string' ? source.split(arg[0]) : { 'Fn::Split': [arg[0], source as Json] };
      }
      case 'Fn::FindInMap': {
        if (!Array.isArray(arg)) return undefined;
        const [map, k1, k2] = arg.map((x) => this.resolve(x));
        const top = typeof map === 'string' ? this.tpl.mappings[map] : undefined;
        const second = isObject(top) && typeof k1 === 'string' ? top[k1] : undefined;
        const value = isObject(second) && typeof k2 === 'string' ? second[k2] : undefined;
        return value === undefined ? { 'Fn::FindInMap': [map, k1, k2] as Json[] } : value;
      }
      default:
        return undefined;
    }
  }

  private sub(arg: Json): Resolved {
    const [text, varsRaw] = typeof arg === 'string' ? [arg, undefined] : Array.isArray(arg) ? arg : [undefined];
    if (typeof text !== 'string') return undefined as unknown as Resolved;
    const vars = varsRaw === undefined ? {} : this.resolve(varsRaw);
    const local = isObject(vars) ? vars : {};
    let unresolved = false;
    const replaced = text.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return whole;
      const key = name.trim();
      const value = key in local ? local[key] : this.values.get(key);
      if (typeof value === 'string' || typeof value === 'number') return String(value);
      unresolved = true;
      return whole;
    });
    if (unresolved) return { 'Fn::Sub': varsRaw === undefined ? replaced : [replaced, local] };
    // `${!Literal}` renders as the literal `${Literal}`.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JS
    return replaced.replace(/\$\{!([^}]*)\}/g, '${$1}');
  }
}

function truthy(v: Resolved): boolean {
  return v === true || v === 'true';
}

/** Stable text of a value for comparison: sorted keys, scalars as text ("5" and 5 are the same to CloudFormation). */
export function canonical(v: Resolved | undefined): string {
  if (v === undefined || v === NO_VALUE) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v === null ? null : String(v));
}

/** The resources that exist under these parameter values (Condition false = absent), with resolved properties. */
export function evaluateTemplate(tpl: Template, ctx: EvalContext): Map<string, EvaluatedResource> {
  const resolver = new Resolver(tpl, ctx);
  const out = new Map<string, EvaluatedResource>();
  for (const decl of tpl.resources) {
    if (decl.condition && !resolver.condition(decl.condition)) continue;
    const props = resolver.resolve(decl.properties);
    out.set(decl.logicalId, { decl, props: isObject(props) ? props : {} });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Diff

type Recreation = 'Never' | 'Conditionally' | 'Always';

// A small slice of the CloudFormation resource specification: properties whose update replaces the
// resource ("Replacement" = Always) or may ("Some interruptions or replacement" = Conditionally).
const RECREATION: Record<string, Record<string, Recreation>> = {
  'AWS::DynamoDB::Table': { TableName: 'Always', KeySchema: 'Always', LocalSecondaryIndexes: 'Always' },
  'AWS::S3::Bucket': { BucketName: 'Always' },
  'AWS::RDS::DBInstance': {
    DBInstanceIdentifier: 'Always',
    DBName: 'Always',
    Engine: 'Conditionally',
    AllocatedStorage: 'Conditionally',
    AvailabilityZone: 'Conditionally',
    StorageEncrypted: 'Always',
    KmsKeyId: 'Always',
  },
  'AWS::RDS::DBCluster': { DBClusterIdentifier: 'Always', Engine: 'Always', DatabaseName: 'Always' },
  'AWS::SQS::Queue': { QueueName: 'Always', FifoQueue: 'Always' },
  'AWS::SNS::Topic': { TopicName: 'Always', FifoTopic: 'Always' },
  'AWS::Lambda::Function': { FunctionName: 'Always', PackageType: 'Always' },
  'AWS::IAM::Role': { RoleName: 'Always', Path: 'Always' },
  'AWS::EC2::SecurityGroup': { GroupName: 'Always', GroupDescription: 'Always', VpcId: 'Always' },
  'AWS::EC2::Instance': {
    ImageId: 'Always',
    AvailabilityZone: 'Always',
    SubnetId: 'Always',
    InstanceType: 'Conditionally',
    UserData: 'Conditionally',
  },
  'AWS::Logs::LogGroup': { LogGroupName: 'Always' },
  'AWS::Kinesis::Stream': { Name: 'Always' },
  'AWS::ECR::Repository': { RepositoryName: 'Always' },
  'AWS::SecretsManager::Secret': { Name: 'Always' },
  'AWS::KMS::Key': {},
};

export function requiresRecreation(type: string, property: string): Recreation {
  return RECREATION[type]?.[property] ?? 'Never';
}

// CloudFormation quirk: RDS clusters, and DB instances outside a cluster, default to Snapshot, not Delete.
function defaultsToSnapshot(r: ResourceDecl): boolean {
  return (
    r.type === 'AWS::RDS::DBCluster' ||
    (r.type === 'AWS::RDS::DBInstance' && r.properties.DBClusterIdentifier === undefined)
  );
}

function removePolicyAction(r: ResourceDecl): 'Delete' | 'Retain' | 'Snapshot' {
  const policy = r.deletionPolicy ?? (defaultsToSnapshot(r) ? 'Snapshot' : 'Delete');
  return policy === 'Retain' || policy === 'RetainExceptOnCreate'
    ? 'Retain'
    : policy === 'Snapshot'
      ? 'Snapshot'
      : 'Delete';
}

function replacePolicyAction(r: ResourceDecl): 'ReplaceAndDelete' | 'ReplaceAndRetain' | 'ReplaceAndSnapshot' {
  const policy = r.updateReplacePolicy ?? (defaultsToSnapshot(r) ? 'Snapshot' : 'Delete');
  return policy === 'Retain' ? 'ReplaceAndRetain' : policy === 'Snapshot' ? 'ReplaceAndSnapshot' : 'ReplaceAndDelete';
}

const valueText = (v: Json | undefined): string | undefined =>
  v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);

/** Placeholder CloudFormation shows for a value only known once the referenced resource is replaced. */
export const KNOWN_AFTER_APPLY = '{{changeSet:KNOWN_AFTER_APPLY}}';

export interface DiffResult {
  /** Full ResourceChange objects, with BeforeContext/AfterContext and values (stripped on describe unless asked for). */
  changes: ResourceChange[];
  /** Logical IDs whose Type changed: CloudFormation fails the change set for these. */
  typeChanged: string[];
}

/**
 * The change set CloudFormation would compute between two evaluated templates.
 * `physicalId` gives the current physical ID of an existing resource.
 */
export function diffResources(
  before: Map<string, EvaluatedResource>,
  after: Map<string, EvaluatedResource>,
  physicalId: (logicalId: string) => string | undefined,
): DiffResult {
  const changes = new Map<string, ResourceChange>();
  const typeChanged: string[] = [];
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b) {
      changes.set(id, {
        Action: 'Add',
        LogicalResourceId: id,
        ResourceType: a.decl.type,
        Scope: [],
        Details: [],
        AfterContext: JSON.stringify({ Properties: a.props }),
      });
      continue;
    }
    if (b.decl.type !== a.decl.type) {
      typeChanged.push(id);
      continue;
    }
    const details = staticDetails(b, a);
    if (details.length > 0) changes.set(id, modifyChange(id, b, a, details, physicalId(id)));
  }
  for (const [id, b] of before) {
    if (after.has(id)) continue;
    changes.set(id, {
      Action: 'Remove',
      LogicalResourceId: id,
      PhysicalResourceId: physicalId(id),
      ResourceType: b.decl.type,
      PolicyAction: removePolicyAction(b.decl),
      Scope: [],
      Details: [],
      BeforeContext: JSON.stringify({ Properties: b.props }),
    });
  }
  addDynamicDetails(before, after, changes, physicalId);
  for (const change of changes.values()) finishModify(change, after.get(change.LogicalResourceId!));
  // Template order: the new template's resources, then the removed ones.
  const order = [...after.keys(), ...[...before.keys()].filter((id) => !after.has(id))];
  const ordered = order.flatMap((id) => changes.get(id) ?? []);
  return { changes: ordered, typeChanged };
}

function staticDetails(b: EvaluatedResource, a: EvaluatedResource): ResourceChangeDetail[] {
  const details: ResourceChangeDetail[] = [];
  const names = [...new Set([...Object.keys(a.props), ...Object.keys(b.props)])];
  for (const name of names) {
    const bv = b.props[name];
    const av = a.props[name];
    if (canonical(bv) === canonical(av)) continue;
    // Same text in both templates but a different value: the change comes from a parameter.
    const fromParameter = canonical(b.decl.properties[name]) === canonical(a.decl.properties[name]);
    const causingParameter = fromParameter
      ? references(a.decl.properties[name]).find((r) => r.via !== 'GetAtt')?.target
      : undefined;
    const isTags = name === 'Tags';
    details.push({
      Target: {
        Attribute: isTags ? 'Tags' : 'Properties',
        Name: isTags ? undefined : name,
        RequiresRecreation: requiresRecreation(a.decl.type, name),
        Path: `/Properties/${name}`,
        BeforeValue: valueText(bv),
        AfterValue: valueText(av),
        AttributeChangeType: bv === undefined ? 'Add' : av === undefined ? 'Remove' : 'Modify',
      },
      Evaluation: 'Static',
      ChangeSource: fromParameter ? 'ParameterReference' : 'DirectModification',
      CausingEntity: causingParameter,
    });
  }
  const attributes: Array<['Metadata' | 'DeletionPolicy' | 'UpdateReplacePolicy', Json | undefined, Json | undefined]> =
    [
      ['Metadata', b.decl.metadata, a.decl.metadata],
      ['DeletionPolicy', b.decl.deletionPolicy, a.decl.deletionPolicy],
      ['UpdateReplacePolicy', b.decl.updateReplacePolicy, a.decl.updateReplacePolicy],
    ];
  for (const [attribute, bv, av] of attributes) {
    if (canonical(bv) === canonical(av)) continue;
    details.push({
      Target: {
        Attribute: attribute,
        RequiresRecreation: 'Never',
        BeforeValue: valueText(bv),
        AfterValue: valueText(av),
        AttributeChangeType: bv === undefined ? 'Add' : av === undefined ? 'Remove' : 'Modify',
      },
      Evaluation: 'Static',
      ChangeSource: 'DirectModification',
    });
  }
  return details;
}

function modifyChange(
  id: string,
  b: EvaluatedResource,
  a: EvaluatedResource,
  details: ResourceChangeDetail[],
  physical: string | undefined,
): ResourceChange {
  return {
    Action: 'Modify',
    LogicalResourceId: id,
    PhysicalResourceId: physical,
    ResourceType: a.decl.type,
    Details: details,
    BeforeContext: JSON.stringify({ Properties: b.props }),
    AfterContext: JSON.stringify({ Properties: a.props }),
  };
}

// CloudFormation quirk: a resource that references (Ref/GetAtt/Sub) a resource being replaced gets a
// Dynamic detail (ChangeSource ResourceReference/ResourceAttribute, CausingEntity = the referenced one);
// a Dynamic detail on a replacement-forcing property makes it Replacement: Conditional. This ripples on.
function addDynamicDetails(
  before: Map<string, EvaluatedResource>,
  after: Map<string, EvaluatedResource>,
  changes: Map<string, ResourceChange>,
  physicalId: (logicalId: string) => string | undefined,
): void {
  let grew = true;
  while (grew) {
    grew = false;
    const replaced = new Set(
      [...changes.values()]
        .filter((c) => c.Action === 'Modify' && replacementOf(c.Details ?? []) !== 'False')
        .map((c) => c.LogicalResourceId!),
    );
    for (const [id, a] of after) {
      const b = before.get(id);
      if (!b || b.decl.type !== a.decl.type) continue;
      const existing = changes.get(id);
      if (existing && existing.Action !== 'Modify') continue;
      const details = [...(existing?.Details ?? [])];
      for (const [name, raw] of Object.entries(a.decl.properties)) {
        if (details.some((d) => d.Target?.Name === name)) continue;
        const ref = references(raw).find((r) => replaced.has(r.target));
        if (!ref) continue;
        details.push({
          Target: {
            Attribute: 'Properties',
            Name: name,
            RequiresRecreation: requiresRecreation(a.decl.type, name),
            Path: `/Properties/${name}`,
            BeforeValue: valueText(b.props[name]),
            AfterValue: KNOWN_AFTER_APPLY,
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Dynamic',
          ChangeSource: ref.via === 'GetAtt' ? 'ResourceAttribute' : 'ResourceReference',
          CausingEntity: ref.attribute ? `${ref.target}.${ref.attribute}` : ref.target,
        });
      }
      if (details.length === (existing?.Details?.length ?? 0)) continue;
      const before0 = existing ? replacementOf(existing.Details ?? []) : 'False';
      changes.set(id, modifyChange(id, b, a, details, physicalId(id)));
      if (replacementOf(details) !== before0) grew = true;
    }
  }
}

function replacementOf(details: ResourceChangeDetail[]): 'True' | 'False' | 'Conditional' {
  let worst: 'True' | 'False' | 'Conditional' = 'False';
  for (const d of details) {
    const rr = d.Target?.RequiresRecreation;
    if (rr === 'Always' && d.Evaluation === 'Static') return 'True';
    if (rr === 'Always' || rr === 'Conditionally') worst = 'Conditional';
  }
  return worst;
}

function finishModify(change: ResourceChange, after: EvaluatedResource | undefined): void {
  if (change.Action !== 'Modify' || !after) return;
  const details = change.Details ?? [];
  change.Replacement = replacementOf(details);
  change.Scope = [...new Set(details.map((d) => d.Target?.Attribute).filter((x): x is NonNullable<typeof x> => !!x))];
  if (change.Replacement !== 'False') change.PolicyAction = replacePolicyAction(after.decl);
}
