// The CloudFormation part of the fake AWS endpoint: stacks, change sets, executions with stack events,
// cancel and continue-rollback, all moving over time like the real service. Handlers take the flat
// awsQuery parameters and return the <XResult> object (or throw AwsError).
import { randomUUID } from 'node:crypto';
import type { Change, Output, Parameter, ResourceChange, StackEvent, Tag } from '@aws-sdk/client-cloudformation';
import {
  checkCapabilities,
  diffResources,
  evaluateTemplate,
  type ParameterInput,
  parseTemplate,
  resolveParameterValues,
  type Template,
  templateSummary,
} from './aws-template.js';
import { AwsError, memberList, memberStructs, type Params, validationError } from './aws-wire.js';

export interface Caller {
  account: string;
  region: string;
}

export interface CfnOptions {
  /** ms, or a function drawing each change set's step (e.g. at random) */
  changeSetStepMs: number | (() => number);
  eventIntervalMs: number;
  pageSize: number;
  /** How long one minute of a change set's MonitoringTimeInMinutes lasts in the fake (tests keep it short). */
  monitoringMinuteMs: number;
  /** Stack events carry their operation's ClientRequestToken (FakeAwsOptions.eventTokens). */
  eventTokens: boolean;
  /** Reads an uploaded template for TemplateURL; undefined when there is no such object. */
  readTemplateUrl: (url: string) => string | undefined;
}

export interface ExecutionScript {
  failResource?: { logicalId: string; reason: string };
  rollbackFails?: boolean;
  eventIntervalMs?: number;
  holdInProgress?: boolean;
}

/** Timers that close() can clear, so a closed fake leaves nothing running. */
export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();

  after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      try {
        fn();
      } catch (err) {
        console.error('fake AWS: scheduled step threw', err);
      }
    }, ms);
    this.timers.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** A RollbackConfiguration in effect: alarm ARNs (rollback triggers) and MonitoringTimeInMinutes. */
export interface RollbackConfig {
  triggers: string[];
  minutes: number;
}

export interface ChangeSetRec {
  name: string;
  arn: string;
  stack: StackRec;
  status: string;
  executionStatus: string;
  statusReason?: string;
  creationTime: Date;
  description?: string;
  clientToken?: string;
  template: Template;
  parameters: Record<string, string>;
  capabilities: string[];
  tags: Tag[];
  changes: Change[];
  /** Changes given by overrideNextChanges are reported exactly as given. */
  overridden: boolean;
  /** stack.version when created: a later stack update makes an AVAILABLE change set OBSOLETE. */
  baseVersion: number;
  /** Date.now() when it reached CREATE_COMPLETE or FAILED (read by the benchmarks). */
  settledAt?: number;
  /** What the execution watches: the request's, or the stack's triggers when the request named none. */
  rollback: RollbackConfig;
  includeNested: boolean;
  /** Nested change sets (IncludeNestedStacks): created, executed and deleted with their root. */
  nested: ChangeSetRec[];
  parent?: ChangeSetRec;
  root?: ChangeSetRec;
}

export interface StackRec {
  name: string;
  region: string;
  account: string;
  stackId: string;
  template: Template;
  parameters: Record<string, string>;
  outputs: Output[];
  tags: Tag[];
  status: string;
  statusReason?: string;
  creationTime: Date;
  lastUpdatedTime?: Date;
  capabilities: string[];
  lastChangeSetId?: string;
  /** Oldest first; DescribeStackEvents reverses. */
  events: StackEvent[];
  changeSets: ChangeSetRec[];
  usedTokens: Set<string>;
  physicalIds: Map<string, string>;
  version: number;
  op?: { runner: Runner; ctx: ExecContext };
  /** After UPDATE_ROLLBACK_FAILED: what ContinueUpdateRollback still has to do. */
  pendingRollback?: { failed: ExecItem[]; cleanup: ExecItem[] };
  /** Rollback triggers saved with the stack; later updates use them unless they name others. */
  rollback: RollbackConfig;
  /** A nested stack's parent and root stack IDs. */
  parentId?: string;
  rootId?: string;
}

interface ExecItem {
  logicalId: string;
  type: string;
  action: string;
  replaced: boolean;
  policyAction?: string;
  oldPhysical?: string;
  newPhysical?: string;
}

interface ExecContext {
  stack: StackRec;
  cs?: ChangeSetRec;
  items: ExecItem[];
  token?: string;
  operationId: string;
  /** Resources the update got to (completed, failed or in progress), in order. */
  touched: ExecItem[];
  inProgress?: ExecItem;
  /** update: rollback triggers are watched (the resources, then the monitoring time); later phases ignore them */
  phase?: 'update' | 'rollback' | 'cleanup';
}

interface Step {
  delayMs?: number;
  run: () => void;
}

/** Runs steps one after the other, `intervalMs` apart; the first runs at once (the API call's own effect). */
class Runner {
  private queue: Step[] = [];
  private timer?: NodeJS.Timeout;
  /** Bumped by start(): a step that restarts the runner (failure → rollback) must not schedule the old queue. */
  private generation = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly intervalMs: number,
  ) {}

  start(steps: Step[]): void {
    this.scheduler.cancel(this.timer);
    this.timer = undefined;
    this.generation++;
    this.queue = [...steps];
    this.next();
  }

  stop(): void {
    this.scheduler.cancel(this.timer);
    this.queue = [];
  }

  private next(): void {
    const step = this.queue.shift();
    if (!step) return;
    const generation = this.generation;
    step.run();
    if (generation !== this.generation) return;
    const following = this.queue[0];
    if (following) this.timer = this.scheduler.after(following.delayMs ?? this.intervalMs, () => this.next());
  }
}

const UPDATABLE = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'UPDATE_FAILED',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
]);

const NO_CHANGES_REASON =
  "The submitted information didn't contain changes. Submit different information to create a change set.";
const NAME_PATTERN = /^[a-zA-Z][-a-zA-Z0-9]*$/;
const TOKEN_PATTERN = /^[a-zA-Z0-9][-a-zA-Z0-9]*$/;
const MAX_TEMPLATE_BODY = 51_200;
const MAX_TEMPLATE_URL = 1_000_000;

const encodeToken = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
function decodeToken<T>(t: string | undefined): T | undefined {
  if (!t) return undefined;
  try {
    return JSON.parse(Buffer.from(t, 'base64url').toString('utf8')) as T;
  } catch {
    throw validationError('Invalid NextToken');
  }
}

const randomSuffix = () => randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase();
const bool = (v: string | undefined) => v === 'true';

/** A nested stack resource whose TemplateURL the fake can read. */
interface NestedDecl {
  logicalId: string;
  template: Template;
  parameters: Record<string, string>;
}

export class CloudFormationFake {
  readonly stacks: StackRec[] = [];
  private readonly scripts = new Map<string, ExecutionScript>();
  private readonly overrides = new Map<string, object[]>();
  /** CloudWatch alarm states by ARN (a rollback trigger no test set is OK). */
  private readonly alarms = new Map<string, string>();

  constructor(
    private readonly opts: CfnOptions,
    private readonly scheduler: Scheduler,
  ) {}

  // ------------------------------------------------------------------ test controls

  putStack(o: {
    name: string;
    region: string;
    account: string;
    template: string;
    parameters?: Record<string, string>;
    outputs?: Record<string, string>;
    tags?: Record<string, string>;
    status?: string;
    lastUpdatedTime?: Date;
  }): StackRec {
    const template = parseTemplate(o.template);
    const parameters = resolveParameterValues(
      template,
      Object.entries(o.parameters ?? {}).map(([key, value]) => ({ key, value, usePrevious: false })),
      undefined,
    );
    const status = o.status ?? 'UPDATE_COMPLETE';
    const now = new Date();
    const lastUpdatedTime = o.lastUpdatedTime ?? (status.startsWith('CREATE_') ? undefined : now);
    const existing = this.stacks.find((s) => s.name === o.name && s.region === o.region && s.account === o.account);
    const stack: StackRec = existing ?? {
      name: o.name,
      region: o.region,
      account: o.account,
      stackId: `arn:aws:cloudformation:${o.region}:${o.account}:stack/${o.name}/${randomUUID()}`,
      template,
      parameters,
      outputs: [],
      tags: [],
      status,
      creationTime: new Date((lastUpdatedTime ?? now).getTime() - 86_400_000),
      capabilities: [],
      events: [],
      changeSets: [],
      usedTokens: new Set(),
      physicalIds: new Map(),
      version: 0,
      rollback: { triggers: [], minutes: 0 },
    };
    stack.op?.runner.stop();
    stack.op = undefined;
    stack.template = template;
    stack.parameters = parameters;
    stack.outputs = Object.entries(o.outputs ?? {}).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));
    stack.tags = Object.entries(o.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
    stack.status = status;
    stack.statusReason = undefined;
    stack.lastUpdatedTime = lastUpdatedTime;
    stack.version++;
    if (!existing) this.stacks.push(stack);
    this.emit(stack, this.stackResource(stack), status, undefined, undefined, randomUUID());
    for (const n of this.nestedDecls(stack, template, parameters)) this.putNested(stack, n);
    return stack;
  }

  /**
   * The nested stacks of a template (AWS::CloudFormation::Stack resources whose TemplateURL the fake can read,
   * e.g. a template a test put in the fake S3), with their parameters evaluated.
   */
  private nestedDecls(stack: StackRec, template: Template, params: Record<string, string>): NestedDecl[] {
    const ctx = { region: stack.region, account: stack.account, stackName: stack.name, stackId: stack.stackId };
    const out: NestedDecl[] = [];
    for (const [logicalId, r] of evaluateTemplate(template, { ...ctx, params })) {
      if (r.decl.type !== 'AWS::CloudFormation::Stack' || typeof r.props.TemplateURL !== 'string') continue;
      let body: string | undefined;
      try {
        body = this.opts.readTemplateUrl(r.props.TemplateURL);
      } catch {
        body = undefined; // not a URL the fake serves: a plain resource
      }
      if (body === undefined) continue;
      const nestedTemplate = parseTemplate(body);
      const given = r.props.Parameters;
      const inputs: ParameterInput[] =
        given && typeof given === 'object' && !Array.isArray(given)
          ? Object.entries(given).map(([key, value]) => ({ key, value: String(value), usePrevious: false }))
          : [];
      out.push({ logicalId, template: nestedTemplate, parameters: resolveParameterValues(nestedTemplate, inputs, {}) });
    }
    return out;
  }

  /** Creates or updates the nested stack of `parent`'s resource (its physical ID is the nested stack's ID). */
  private putNested(parent: StackRec, n: NestedDecl): StackRec {
    const existing = this.nestedStack(parent, n.logicalId);
    const name = existing?.name ?? `${parent.name}-${n.logicalId}-${randomSuffix()}`;
    const nested = this.putStack({
      name,
      region: parent.region,
      account: parent.account,
      template: n.template.body,
      parameters: n.parameters,
      status: existing?.status ?? 'CREATE_COMPLETE',
    });
    nested.parentId = parent.stackId;
    nested.rootId = parent.rootId ?? parent.stackId;
    parent.physicalIds.set(n.logicalId, nested.stackId);
    return nested;
  }

  /** The nested stack behind `parent`'s resource `logicalId`, if it is one. */
  nestedStack(parent: StackRec, logicalId: string): StackRec | undefined {
    const id = parent.physicalIds.get(logicalId);
    return id ? this.stacks.find((s) => s.stackId === id && s.parentId === parent.stackId) : undefined;
  }

  /**
   * Sets a CloudWatch alarm's state. An alarm going to ALARM rolls back every update that watches it (its
   * change set's rollback triggers), while the resources are updated or during the monitoring time.
   */
  setAlarm(arn: string, state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA'): void {
    this.alarms.set(arn, state);
    if (state !== 'ALARM') return;
    for (const stack of this.stacks) {
      const ctx = stack.op?.ctx;
      if (ctx) this.fireTriggers(ctx);
    }
  }

  /** Starts the rollback when a watched alarm is in ALARM; true when it did. */
  private fireTriggers(ctx: ExecContext): boolean {
    if (ctx.phase !== 'update' || !ctx.cs) return false;
    const fired = ctx.cs.rollback.triggers.find((arn) => this.alarms.get(arn) === 'ALARM');
    if (!fired) return false;
    ctx.cs.executionStatus = 'EXECUTE_FAILED';
    // ⚠ CloudFormation's wording for this reason is not documented; the bot relies only on the alarm ARN in it.
    ctx.stack.op?.runner.start(this.rollbackSteps(ctx, `Rollback triggered by alarm ${fired}`, false));
    return true;
  }

  scriptExecution(stackName: string, s: ExecutionScript): void {
    this.scripts.set(stackName, s);
  }

  overrideNextChanges(stackName: string, changes: object[]): void {
    this.overrides.set(stackName, changes);
  }

  startOutsideUpdate(stack: StackRec, durationMs: number): void {
    if (stack.status.endsWith('_IN_PROGRESS')) throw new Error(`stack ${stack.name} is already ${stack.status}`);
    const ctx: ExecContext = {
      stack,
      items: [],
      token: `Console-UpdateStack-${randomUUID()}`,
      operationId: randomUUID(),
      touched: [],
    };
    const runner = new Runner(this.scheduler, this.opts.eventIntervalMs);
    stack.op = { runner, ctx };
    const steps: Step[] = [
      {
        run: () => {
          stack.version++;
          stack.lastUpdatedTime = new Date();
          this.stackEvent(ctx, 'UPDATE_IN_PROGRESS', 'User Initiated');
        },
      },
    ];
    if (Number.isFinite(durationMs)) {
      steps.push(
        { delayMs: durationMs, run: () => this.stackEvent(ctx, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS') },
        { run: () => this.finishOp(ctx, 'UPDATE_COMPLETE') },
      );
    }
    runner.start(steps);
  }

  findStackByName(name: string, region?: string, account?: string): StackRec | undefined {
    return this.stacks.find(
      (s) => s.name === name && (!region || s.region === region) && (!account || s.account === account),
    );
  }

  /**
   * The resource IAM names when it denies a call: the stack (by StackName, or the change set's stack),
   * else a stack pattern in the caller's account and region.
   */
  resourceArn(p: Params, caller: Caller): string {
    try {
      if (p.ChangeSetName) return this.changeSet(caller, p.ChangeSetName, p.StackName).stack.stackId;
      if (p.StackName) return this.stack(caller, p.StackName).stackId;
    } catch {
      // an unknown stack or change set is named by pattern
    }
    return `arn:aws:cloudformation:${caller.region}:${caller.account}:stack/${p.StackName ?? '*'}/*`;
  }

  // ------------------------------------------------------------------ dispatch

  handle(action: string, p: Params, caller: Caller): object | undefined {
    switch (action) {
      case 'DescribeStacks':
        return this.describeStacks(p, caller);
      case 'ListStacks':
        return this.listStacks(p, caller);
      case 'DescribeStackEvents':
        return this.describeStackEvents(p, caller);
      case 'GetTemplate':
        return this.getTemplate(p, caller);
      case 'GetTemplateSummary':
        return this.getTemplateSummary(p, caller);
      case 'ValidateTemplate': {
        const { Parameters, Description, Capabilities, CapabilitiesReason, DeclaredTransforms } = templateSummary(
          this.templateFrom(p),
        );
        return { Parameters, Description, Capabilities, CapabilitiesReason, DeclaredTransforms };
      }
      case 'CreateChangeSet':
        return this.createChangeSet(p, caller);
      case 'DescribeChangeSet':
        return this.describeChangeSet(p, caller);
      case 'ListChangeSets':
        return this.listChangeSets(p, caller);
      case 'DeleteChangeSet':
        return this.deleteChangeSet(p, caller);
      case 'ExecuteChangeSet':
        return this.executeChangeSet(p, caller);
      case 'CancelUpdateStack':
        return this.cancelUpdateStack(p, caller);
      case 'ContinueUpdateRollback':
        return this.continueUpdateRollback(p, caller);
      default:
        throw new AwsError('InvalidAction', `Could not find operation ${action} for version 2010-05-15`);
    }
  }

  // ------------------------------------------------------------------ lookups

  /** By name in the caller's account and region, or by stack ARN; other accounts' stacks do not exist. */
  private stack(caller: Caller, nameOrId: string | undefined): StackRec {
    if (!nameOrId) throw validationError('1 validation error detected: StackName must not be null');
    const found = nameOrId.startsWith('arn:')
      ? this.stacks.find((s) => s.stackId === nameOrId && s.account === caller.account)
      : this.stacks.find((s) => s.name === nameOrId && s.account === caller.account && s.region === caller.region);
    if (!found) throw validationError(`Stack with id ${nameOrId} does not exist`);
    return found;
  }

  private changeSet(caller: Caller, name: string | undefined, stackName: string | undefined): ChangeSetRec {
    if (!name) throw validationError('1 validation error detected: ChangeSetName must not be null');
    const notFound = () => new AwsError('ChangeSetNotFound', `ChangeSet [${name}] does not exist`, 404);
    if (name.startsWith('arn:')) {
      for (const s of this.stacks) {
        if (s.account !== caller.account) continue;
        const cs = s.changeSets.find((c) => c.arn === name);
        if (cs) return cs;
      }
      throw notFound();
    }
    if (!stackName) throw validationError('StackName must be specified if ChangeSetName is not specified as an ARN.');
    let stack: StackRec;
    try {
      stack = this.stack(caller, stackName);
    } catch {
      throw notFound();
    }
    const cs = stack.changeSets.find((c) => c.name === name);
    if (!cs) throw notFound();
    return cs;
  }

  /** A change set made before the stack changed can no longer be executed: it reads OBSOLETE. */
  executionStatus(cs: ChangeSetRec): string {
    return cs.executionStatus === 'AVAILABLE' && cs.stack.version !== cs.baseVersion ? 'OBSOLETE' : cs.executionStatus;
  }

  // ------------------------------------------------------------------ reads

  private stackShape(s: StackRec) {
    return {
      StackId: s.stackId,
      StackName: s.name,
      ChangeSetId: s.lastChangeSetId,
      Description: s.template.description,
      Parameters: this.parameterList(s.template, s.parameters),
      CreationTime: s.creationTime,
      LastUpdatedTime: s.lastUpdatedTime,
      StackStatus: s.status,
      StackStatusReason: s.statusReason,
      DisableRollback: false,
      NotificationARNs: [],
      Capabilities: s.capabilities,
      Outputs: s.outputs,
      Tags: s.tags,
      EnableTerminationProtection: false,
      DriftInformation: { StackDriftStatus: 'NOT_CHECKED' },
      RollbackConfiguration: rollbackShape(s.rollback),
      ParentId: s.parentId,
      RootId: s.rootId,
    };
  }

  // NoEcho parameters are masked in every response, as CloudFormation does.
  private parameterList(tpl: Template, values: Record<string, string>): Parameter[] {
    return tpl.parameters
      .filter((d) => values[d.key] !== undefined)
      .map((d) => ({ ParameterKey: d.key, ParameterValue: d.noEcho ? '****' : values[d.key] }));
  }

  private describeStacks(p: Params, caller: Caller) {
    const stacks = p.StackName
      ? [this.stack(caller, p.StackName)]
      : this.stacks.filter((s) => s.account === caller.account && s.region === caller.region);
    const page = this.page(stacks, p.NextToken);
    return { Stacks: page.items.map((s) => this.stackShape(s)), NextToken: page.next };
  }

  private listStacks(p: Params, caller: Caller) {
    const filter = memberList(p, 'StackStatusFilter');
    const stacks = this.stacks.filter(
      (s) =>
        s.account === caller.account &&
        s.region === caller.region &&
        (filter.length === 0 || filter.includes(s.status)),
    );
    const page = this.page(stacks, p.NextToken);
    return {
      StackSummaries: page.items.map((s) => ({
        StackId: s.stackId,
        StackName: s.name,
        TemplateDescription: s.template.description,
        CreationTime: s.creationTime,
        LastUpdatedTime: s.lastUpdatedTime,
        StackStatus: s.status,
        StackStatusReason: s.statusReason,
      })),
      NextToken: page.next,
    };
  }

  private page<T>(items: T[], token: string | undefined): { items: T[]; next?: string } {
    const offset = decodeToken<{ o: number }>(token)?.o ?? 0;
    const end = offset + this.opts.pageSize;
    return { items: items.slice(offset, end), next: end < items.length ? encodeToken({ o: end }) : undefined };
  }

  private describeStackEvents(p: Params, caller: Caller) {
    const stack = this.stack(caller, p.StackName);
    const newestFirst = [...stack.events].reverse();
    // The token names the last event returned, so events that arrive meanwhile do not shift the pages.
    const after = decodeToken<{ after: string }>(p.NextToken)?.after;
    const start = after ? newestFirst.findIndex((e) => e.EventId === after) + 1 : 0;
    const items = newestFirst.slice(start, start + this.opts.pageSize);
    const more = start + items.length < newestFirst.length;
    return {
      StackEvents: items,
      NextToken: more ? encodeToken({ after: items[items.length - 1]!.EventId }) : undefined,
    };
  }

  private getTemplate(p: Params, caller: Caller) {
    const body = p.ChangeSetName
      ? this.changeSet(caller, p.ChangeSetName, p.StackName).template.body
      : this.stack(caller, p.StackName).template.body;
    return { TemplateBody: body, StagesAvailable: ['Original', 'Processed'] };
  }

  private getTemplateSummary(p: Params, caller: Caller) {
    const tpl =
      p.StackName && !p.TemplateBody && !p.TemplateURL
        ? this.stack(caller, p.StackName).template
        : this.templateFrom(p);
    return templateSummary(tpl);
  }

  /** The template a request names by TemplateBody or TemplateURL (or undefined for UsePreviousTemplate). */
  private templateFrom(p: Params): Template {
    if (p.TemplateBody !== undefined) {
      if (Buffer.byteLength(p.TemplateBody, 'utf8') > MAX_TEMPLATE_BODY) {
        throw validationError(
          `1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TEMPLATE_BODY}`,
        );
      }
      return parseTemplate(p.TemplateBody);
    }
    if (p.TemplateURL !== undefined) {
      const body = this.opts.readTemplateUrl(p.TemplateURL);
      if (body === undefined) {
        throw validationError(
          'S3 error: Access Denied\nFor more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html',
        );
      }
      if (Buffer.byteLength(body, 'utf8') > MAX_TEMPLATE_URL) {
        throw validationError('Template may not exceed 1000000 bytes in size.');
      }
      return parseTemplate(body);
    }
    throw validationError('Either Template URL or Template Body must be specified.');
  }

  // ------------------------------------------------------------------ change sets

  private createChangeSet(p: Params, caller: Caller) {
    const name = p.ChangeSetName ?? '';
    if (!NAME_PATTERN.test(name) || name.length > 128) {
      throw validationError(
        `1 validation error detected: Value '${name}' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*`,
      );
    }
    const type = p.ChangeSetType ?? 'UPDATE';
    if (type !== 'UPDATE') {
      throw validationError(`the fake AWS endpoint supports only ChangeSetType UPDATE, not ${type}`);
    }
    if (p.StackName && !p.StackName.startsWith('arn:')) {
      const exists = this.stacks.some(
        (s) => s.name === p.StackName && s.account === caller.account && s.region === caller.region,
      );
      if (!exists) throw validationError(`Stack [${p.StackName}] does not exist`);
    }
    const stack = this.stack(caller, p.StackName);
    if (p.ClientToken) {
      const same = stack.changeSets.find((c) => c.clientToken === p.ClientToken && c.name === name);
      if (same) return { Id: same.arn, StackId: stack.stackId };
    }
    if (p.Description !== undefined && p.Description.length > 1024) {
      throw validationError("1 validation error detected: Value at 'description' failed to satisfy constraint");
    }
    const sources = [p.TemplateBody, p.TemplateURL, bool(p.UsePreviousTemplate) ? 'yes' : undefined].filter(
      (x) => x !== undefined,
    );
    if (sources.length > 1)
      throw validationError('Specify exactly one of TemplateBody, TemplateURL or UsePreviousTemplate.');
    const template = bool(p.UsePreviousTemplate) ? stack.template : this.templateFrom(p);
    if (stack.changeSets.some((c) => c.name === name)) {
      throw new AwsError('AlreadyExistsException', `ChangeSet [${name}] already exists`);
    }
    if (!UPDATABLE.has(stack.status)) {
      throw validationError(`Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`);
    }
    const inputs: ParameterInput[] = memberStructs(p, 'Parameters').map((m) => ({
      key: m.ParameterKey ?? '',
      value: m.ParameterValue,
      usePrevious: bool(m.UsePreviousValue),
    }));
    const parameters = resolveParameterValues(template, inputs, stack.parameters);
    const capabilities = memberList(p, 'Capabilities').filter((c) => c !== '');
    checkCapabilities(template, capabilities);
    const rollback = this.rollbackConfigOf(p, stack);

    const cs: ChangeSetRec = {
      name,
      arn: `arn:aws:cloudformation:${stack.region}:${stack.account}:changeSet/${name}/${randomUUID()}`,
      stack,
      status: 'CREATE_PENDING',
      executionStatus: 'UNAVAILABLE',
      creationTime: new Date(),
      description: p.Description,
      clientToken: p.ClientToken,
      template,
      parameters,
      capabilities,
      tags: memberStructs(p, 'Tags').map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })),
      changes: [],
      overridden: false,
      baseVersion: stack.version,
      rollback,
      includeNested: bool(p.IncludeNestedStacks),
      nested: [],
    };
    // Computed now, against the stack as it is now, like CloudFormation; reported once complete.
    const outcome = this.computeOutcome(stack, cs);
    stack.changeSets.push(cs);
    const alive = () => stack.changeSets.includes(cs);
    const given = this.opts.changeSetStepMs;
    const step = typeof given === 'function' ? given() : given;
    this.scheduler.after(step, () => {
      if (alive()) cs.status = 'CREATE_IN_PROGRESS';
      this.scheduler.after(step, () => {
        if (!alive()) return;
        cs.changes = outcome.changes;
        cs.overridden = outcome.overridden;
        if (outcome.failure) {
          cs.status = 'FAILED';
          cs.statusReason = outcome.failure;
        } else {
          cs.status = 'CREATE_COMPLETE';
          cs.executionStatus = 'AVAILABLE';
        }
        cs.settledAt = Date.now();
        // The nested change sets are ready with their root.
        for (const n of descendants(cs)) {
          n.status = cs.status;
          n.executionStatus = cs.executionStatus;
          n.settledAt = cs.settledAt;
        }
      });
    });
    return { Id: cs.arn, StackId: stack.stackId };
  }

  /**
   * The request's RollbackConfiguration (CreateChangeSet): its triggers replace the stack's, an empty list
   * removes them, none named keeps the stack's; MonitoringTimeInMinutes 0–180 (default 0); at most 5 triggers
   * of type AWS::CloudWatch::Alarm or AWS::CloudWatch::CompositeAlarm.
   */
  private rollbackConfigOf(p: Params, stack: StackRec): RollbackConfig {
    const prefix = 'RollbackConfiguration.RollbackTriggers';
    const named = Object.keys(p).some((k) => k === prefix || k.startsWith(`${prefix}.`));
    const triggers = memberStructs(p, prefix);
    if (triggers.length > 5) {
      throw validationError(
        "1 validation error detected: Value at 'rollbackConfiguration.rollbackTriggers' failed to satisfy constraint: Member must have length less than or equal to 5",
      );
    }
    for (const t of triggers) {
      if (t.Type !== 'AWS::CloudWatch::Alarm' && t.Type !== 'AWS::CloudWatch::CompositeAlarm') {
        throw validationError(`Unsupported rollback trigger type ${t.Type}`);
      }
      if (!/^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$/.test(t.Arn ?? '')) {
        throw validationError(`Invalid rollback trigger ARN ${t.Arn}`);
      }
    }
    const raw = p['RollbackConfiguration.MonitoringTimeInMinutes'];
    const minutes = raw === undefined ? 0 : Number(raw);
    if (!Number.isInteger(minutes) || minutes < 0 || minutes > 180) {
      throw validationError(
        "1 validation error detected: Value at 'rollbackConfiguration.monitoringTimeInMinutes' failed to satisfy constraint: Member must have value less than or equal to 180",
      );
    }
    return { triggers: named ? triggers.map((t) => t.Arn ?? '') : [...stack.rollback.triggers], minutes };
  }

  /** Does another stack of `stack`'s account and region export `name` now (its current template)? */
  private exported(stack: StackRec, name: string): boolean {
    return this.stacks.some(
      (s) =>
        s !== stack &&
        s.account === stack.account &&
        s.region === stack.region &&
        !s.status.startsWith('DELETE_') &&
        s.template.exports.includes(name),
    );
  }

  private computeOutcome(
    stack: StackRec,
    cs: ChangeSetRec,
  ): { changes: Change[]; overridden: boolean; failure?: string } {
    const override = this.overrides.get(stack.name);
    if (override) {
      this.overrides.delete(stack.name);
      const changes = override.map(
        (c): Change =>
          'ResourceChange' in c ? (c as Change) : { Type: 'Resource', ResourceChange: c as ResourceChange },
      );
      return { changes, overridden: true, failure: changes.length === 0 ? NO_CHANGES_REASON : undefined };
    }
    // Fn::ImportValue of an export no other stack of the account and region has: the change set fails.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html
    const missing = cs.template.imports.find((name) => !this.exported(stack, name));
    if (missing) return { changes: [], overridden: false, failure: `No export named ${missing} found` };
    const ctx = { region: stack.region, account: stack.account, stackName: stack.name, stackId: stack.stackId };
    const before = evaluateTemplate(stack.template, { ...ctx, params: stack.parameters });
    const after = evaluateTemplate(cs.template, { ...ctx, params: cs.parameters });
    const diff = diffResources(before, after, (id) => this.physicalId(stack, id));
    if (diff.typeChanged.length > 0) {
      return {
        changes: [],
        overridden: false,
        failure: `Update of resource type is not permitted. The new template modifies resource type of the following resources: [${diff.typeChanged.join(', ')}]`,
      };
    }
    const changes = diff.changes.map((rc): Change => ({ Type: 'Resource', ResourceChange: rc }));
    if (cs.includeNested) {
      try {
        this.planNested(stack, cs, changes);
      } catch (err) {
        return { changes: [], overridden: false, failure: (err as Error).message };
      }
    }
    return { changes, overridden: false, failure: changes.length === 0 ? NO_CHANGES_REASON : undefined };
  }

  /**
   * IncludeNestedStacks: a nested change set for each existing nested stack whose template or parameters
   * change, computed the same way (recursively), and pointed to by the parent's row for the nested stack
   * (ResourceChange.ChangeSetId). A nested stack the parent does not change itself still gets a Modify row,
   * ChangeSource Automatic, as CloudFormation reports them (ResourceChangeDetail in the API reference).
   * Simplification: nested stacks without changes get no change set and no row.
   */
  private planNested(stack: StackRec, cs: ChangeSetRec, changes: Change[]): void {
    for (const n of this.nestedDecls(stack, cs.template, cs.parameters)) {
      const nestedStack = this.nestedStack(stack, n.logicalId);
      if (!nestedStack) continue; // a new nested stack: the fake plans only existing ones
      const root = cs.root ?? cs;
      const nested: ChangeSetRec = {
        ...cs,
        name: `${root.name}-${n.logicalId}-${randomSuffix()}`.slice(0, 128),
        arn: `arn:aws:cloudformation:${nestedStack.region}:${nestedStack.account}:changeSet/${root.name}-${n.logicalId}/${randomUUID()}`,
        stack: nestedStack,
        template: n.template,
        parameters: n.parameters,
        changes: [],
        baseVersion: nestedStack.version,
        rollback: { triggers: [], minutes: 0 },
        nested: [],
        parent: cs,
        root,
      };
      const outcome = this.computeOutcome(nestedStack, nested);
      if (outcome.failure === NO_CHANGES_REASON) continue;
      if (outcome.failure) throw new Error(`Nested stack ${n.logicalId}: ${outcome.failure}`);
      nested.changes = outcome.changes;
      nestedStack.changeSets.push(nested);
      cs.nested.push(nested);
      let row = changes.find((c) => c.ResourceChange?.LogicalResourceId === n.logicalId)?.ResourceChange;
      if (!row) {
        row = {
          Action: 'Modify',
          LogicalResourceId: n.logicalId,
          PhysicalResourceId: nestedStack.stackId,
          ResourceType: 'AWS::CloudFormation::Stack',
          Replacement: 'False',
          Scope: [],
          Details: [
            {
              Target: { Attribute: 'Properties', RequiresRecreation: 'Never' },
              Evaluation: 'Dynamic',
              ChangeSource: 'Automatic',
            },
          ],
        };
        changes.push({ Type: 'Resource', ResourceChange: row });
      }
      row.ChangeSetId = nested.arn;
    }
  }

  private physicalId(stack: StackRec, logicalId: string): string {
    let id = stack.physicalIds.get(logicalId);
    if (!id) {
      id = `${stack.name}-${logicalId}-${randomSuffix()}`;
      stack.physicalIds.set(logicalId, id);
    }
    return id;
  }

  private describeChangeSet(p: Params, caller: Caller) {
    const cs = this.changeSet(caller, p.ChangeSetName, p.StackName);
    const withValues = bool(p.IncludePropertyValues);
    const offset = decodeToken<{ o: number; cs: string }>(p.NextToken)?.o ?? 0;
    const end = offset + this.opts.pageSize;
    const page = cs.changes.slice(offset, end).map((c) => (cs.overridden || withValues ? c : withoutValues(c)));
    return {
      ChangeSetName: cs.name,
      ChangeSetId: cs.arn,
      StackId: cs.stack.stackId,
      StackName: cs.stack.name,
      Description: cs.description,
      Parameters: this.parameterList(cs.template, cs.parameters),
      CreationTime: cs.creationTime,
      ExecutionStatus: this.executionStatus(cs),
      Status: cs.status,
      StatusReason: cs.statusReason,
      NotificationARNs: [],
      Capabilities: cs.capabilities,
      Tags: cs.tags,
      Changes: page,
      NextToken: end < cs.changes.length ? encodeToken({ o: end, cs: cs.arn }) : undefined,
      IncludeNestedStacks: cs.includeNested,
      ParentChangeSetId: cs.parent?.arn,
      RootChangeSetId: cs.root?.arn,
      RollbackConfiguration: rollbackShape(cs.rollback),
    };
  }

  private listChangeSets(p: Params, caller: Caller) {
    const stack = this.stack(caller, p.StackName);
    const page = this.page(stack.changeSets, p.NextToken);
    return {
      Summaries: page.items.map((cs) => ({
        StackId: stack.stackId,
        StackName: stack.name,
        ChangeSetId: cs.arn,
        ChangeSetName: cs.name,
        ExecutionStatus: this.executionStatus(cs),
        Status: cs.status,
        StatusReason: cs.statusReason,
        CreationTime: cs.creationTime,
        Description: cs.description,
        IncludeNestedStacks: cs.includeNested,
        ParentChangeSetId: cs.parent?.arn,
        RootChangeSetId: cs.root?.arn,
      })),
      NextToken: page.next,
    };
  }

  private deleteChangeSet(p: Params, caller: Caller) {
    const cs = this.changeSet(caller, p.ChangeSetName, p.StackName);
    if (
      cs.status === 'CREATE_PENDING' ||
      cs.status === 'CREATE_IN_PROGRESS' ||
      cs.executionStatus === 'EXECUTE_IN_PROGRESS'
    ) {
      const status = cs.executionStatus === 'EXECUTE_IN_PROGRESS' ? cs.executionStatus : cs.status;
      throw new AwsError('InvalidChangeSetStatus', `Cannot delete ChangeSet in status ${status}`);
    }
    if (cs.root) {
      // ⚠ wording unconfirmed; the user guide says nested change sets are deleted from the root one.
      throw new AwsError('InvalidChangeSetStatus', `ChangeSet [${cs.arn}] is a nested change set: delete its root`);
    }
    // With IncludeNestedStacks the whole hierarchy goes (DeleteChangeSet in the API reference).
    for (const c of [cs, ...descendants(cs)]) c.stack.changeSets = c.stack.changeSets.filter((x) => x !== c);
    return {};
  }

  // ------------------------------------------------------------------ operations

  private useToken(stack: StackRec, token: string | undefined): void {
    if (token === undefined) return;
    if (!TOKEN_PATTERN.test(token) || token.length > 128) {
      throw validationError(
        `1 validation error detected: Value '${token}' at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*`,
      );
    }
    if (stack.usedTokens.has(token)) {
      throw new AwsError(
        'TokenAlreadyExistsException',
        `ClientRequestToken ${token} was already used for stack ${stack.name}`,
      );
    }
  }

  private executeChangeSet(p: Params, caller: Caller) {
    const cs = this.changeSet(caller, p.ChangeSetName, p.StackName);
    const stack = cs.stack;
    const token = p.ClientRequestToken;
    this.useToken(stack, token);
    if (stack.status.endsWith('_IN_PROGRESS')) {
      throw new AwsError(
        'InvalidChangeSetStatus',
        `Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`,
      );
    }
    const executionStatus = this.executionStatus(cs);
    if (executionStatus !== 'AVAILABLE') {
      throw new AwsError(
        'InvalidChangeSetStatus',
        `ChangeSet [${cs.arn}] cannot be executed in its current execution status of [${executionStatus}]`,
      );
    }
    if (cs.root) {
      throw new AwsError('InvalidChangeSetStatus', `ChangeSet [${cs.arn}] is a nested change set: execute its root`);
    }
    if (token) stack.usedTokens.add(token);
    // Executing a change set deletes every other change set of the stack.
    stack.changeSets = [cs];
    for (const n of descendants(cs)) n.stack.changeSets = [n];
    stack.lastChangeSetId = cs.arn;
    const script = this.scripts.get(stack.name) ?? {};
    this.scripts.delete(stack.name);
    const ctx: ExecContext = {
      stack,
      cs,
      items: this.execItems(stack, cs),
      token,
      operationId: randomUUID(),
      touched: [],
    };
    const runner = new Runner(this.scheduler, script.eventIntervalMs ?? this.opts.eventIntervalMs);
    stack.op = { runner, ctx };
    runner.start(this.forwardSteps(ctx, script, bool(p.DisableRollback)));
    // The execution saves the change set's rollback triggers with the stack, for later updates.
    stack.rollback = { triggers: [...cs.rollback.triggers], minutes: cs.rollback.minutes };
    return {};
  }

  private execItems(stack: StackRec, cs: ChangeSetRec): ExecItem[] {
    return cs.changes.map((c, i) => {
      const rc = c.ResourceChange ?? {};
      const logicalId = rc.LogicalResourceId ?? `Resource${i + 1}`;
      return {
        logicalId,
        type: rc.ResourceType ?? 'AWS::CloudFormation::CustomResource',
        action: rc.Action ?? 'Modify',
        replaced: rc.Replacement === 'True',
        policyAction: rc.PolicyAction,
        oldPhysical: rc.Action === 'Add' ? undefined : (rc.PhysicalResourceId ?? this.physicalId(stack, logicalId)),
      };
    });
  }

  private forwardSteps(ctx: ExecContext, script: ExecutionScript, disableRollback: boolean): Step[] {
    const { stack, cs } = ctx;
    ctx.phase = 'update';
    const steps: Step[] = [
      {
        run: () => {
          stack.version++;
          stack.lastUpdatedTime = new Date();
          if (cs) cs.executionStatus = 'EXECUTE_IN_PROGRESS';
          this.stackEvent(ctx, 'UPDATE_IN_PROGRESS', 'User Initiated');
        },
      },
    ];
    const updates = ctx.items.filter((i) => i.action !== 'Remove');
    const fail = script.failResource;
    if (fail && !updates.some((i) => i.logicalId === fail.logicalId)) {
      const decl = stack.template.resources.find((r) => r.logicalId === fail.logicalId);
      updates.push({
        logicalId: fail.logicalId,
        type: decl?.type ?? 'AWS::CloudFormation::CustomResource',
        action: 'Modify',
        replaced: false,
        oldPhysical: this.physicalId(stack, fail.logicalId),
      });
    }
    for (const item of updates) {
      const verb = item.action === 'Add' ? 'CREATE' : 'UPDATE';
      steps.push({
        run: () => {
          if (item.action === 'Add' || item.replaced)
            item.newPhysical = `${stack.name}-${item.logicalId}-${randomSuffix()}`;
          ctx.touched.push(item);
          ctx.inProgress = item;
          const reason = item.replaced
            ? 'Requested update requires the creation of a new physical resource; hence creating one.'
            : undefined;
          this.resourceEvent(ctx, item, `${verb}_IN_PROGRESS`, reason, item.newPhysical ?? item.oldPhysical);
        },
      });
      if (script.holdInProgress) return this.watched(ctx, steps); // stays UPDATE_IN_PROGRESS until CancelUpdateStack
      if (fail && item.logicalId === fail.logicalId) {
        steps.push({
          run: () => {
            ctx.inProgress = undefined;
            this.resourceEvent(ctx, item, `${verb}_FAILED`, fail.reason, item.newPhysical ?? item.oldPhysical);
            if (cs) cs.executionStatus = 'EXECUTE_FAILED';
            const failedReason = `The following resource(s) failed to ${verb.toLowerCase()}: [${item.logicalId}].`;
            if (disableRollback) {
              this.finishOp(ctx, 'UPDATE_FAILED', failedReason);
              return;
            }
            stack.op?.runner.start(this.rollbackSteps(ctx, failedReason, !!script.rollbackFails));
          },
        });
        return this.watched(ctx, steps);
      }
      steps.push({
        run: () => {
          ctx.inProgress = undefined;
          this.resourceEvent(ctx, item, `${verb}_COMPLETE`, undefined, item.newPhysical ?? item.oldPhysical);
        },
      });
    }
    if (script.holdInProgress) return this.watched(ctx, steps);
    // The monitoring time: the stack stays UPDATE_IN_PROGRESS, the alarms watched, before the cleanup starts.
    const monitoringMs = (cs?.rollback.minutes ?? 0) * this.opts.monitoringMinuteMs;
    steps.push({
      ...(monitoringMs > 0 ? { delayMs: (script.eventIntervalMs ?? this.opts.eventIntervalMs) + monitoringMs } : {}),
      run: () => {
        ctx.phase = 'cleanup';
        this.applyUpdate(ctx);
        this.stackEvent(ctx, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      },
    });
    // Cleanup removes what left the template and the old copies of replaced resources.
    for (const item of ctx.items) {
      if (item.action === 'Remove') steps.push(...this.deleteSteps(ctx, item, item.oldPhysical, item.policyAction));
      else if (item.replaced) {
        const policy = item.policyAction === 'ReplaceAndRetain' ? 'Retain' : 'Delete';
        steps.push(...this.deleteSteps(ctx, item, item.oldPhysical, policy));
      }
    }
    steps.push({
      run: () => {
        if (cs) cs.executionStatus = 'EXECUTE_COMPLETE';
        for (const n of cs ? descendants(cs) : []) n.executionStatus = 'EXECUTE_COMPLETE';
        this.finishOp(ctx, 'UPDATE_COMPLETE');
      },
    });
    return this.watched(ctx, steps);
  }

  /** Each step after the first checks the rollback triggers first: an alarm in ALARM rolls back instead. */
  private watched(ctx: ExecContext, steps: Step[]): Step[] {
    return steps.map((step, i) =>
      i === 0
        ? step
        : {
            ...step,
            run: () => {
              if (!this.fireTriggers(ctx)) step.run();
            },
          },
    );
  }

  private deleteSteps(ctx: ExecContext, item: ExecItem, physical: string | undefined, policy?: string): Step[] {
    if (policy === 'Retain') {
      return [{ run: () => this.resourceEvent(ctx, item, 'DELETE_SKIPPED', undefined, physical) }];
    }
    return [
      { run: () => this.resourceEvent(ctx, item, 'DELETE_IN_PROGRESS', undefined, physical) },
      { run: () => this.resourceEvent(ctx, item, 'DELETE_COMPLETE', undefined, physical) },
    ];
  }

  private applyUpdate(ctx: ExecContext): void {
    const { stack, cs } = ctx;
    if (!cs) return;
    stack.template = cs.template;
    stack.parameters = cs.parameters;
    stack.capabilities = cs.capabilities;
    if (cs.tags.length > 0) stack.tags = cs.tags;
    for (const item of ctx.items) {
      if (item.action === 'Remove') stack.physicalIds.delete(item.logicalId);
      else if (item.newPhysical) stack.physicalIds.set(item.logicalId, item.newPhysical);
    }
    // Nested stacks take their nested change sets' templates and parameters (their own events are not emitted).
    for (const n of descendants(cs)) {
      n.stack.template = n.template;
      n.stack.parameters = n.parameters;
      n.stack.version++;
      n.stack.lastUpdatedTime = new Date();
      n.stack.status = 'UPDATE_COMPLETE';
    }
  }

  /**
   * Rolls back what the update touched: modified resources are updated back (newest first), created
   * ones and new copies of replaced ones are deleted in the cleanup phase.
   */
  private rollbackSteps(ctx: ExecContext, reason: string, rollbackFails: boolean): Step[] {
    const { stack } = ctx;
    ctx.phase = 'rollback';
    const steps: Step[] = [{ run: () => this.stackEvent(ctx, 'UPDATE_ROLLBACK_IN_PROGRESS', reason) }];
    const touched = [...ctx.touched].reverse();
    const revert = touched.filter((i) => i.action !== 'Add');
    const cleanup = touched.filter((i) => i.action === 'Add' || i.replaced);
    const failing = rollbackFails ? (revert[0] ?? cleanup[0]) : undefined;
    for (const item of revert) {
      if (item === failing) break;
      steps.push(
        { run: () => this.resourceEvent(ctx, item, 'UPDATE_IN_PROGRESS', undefined, item.oldPhysical) },
        { run: () => this.resourceEvent(ctx, item, 'UPDATE_COMPLETE', undefined, item.oldPhysical) },
      );
    }
    if (failing) {
      const physical = failing.oldPhysical ?? failing.newPhysical;
      const verb = failing.action === 'Add' ? 'DELETE' : 'UPDATE';
      steps.push(
        { run: () => this.resourceEvent(ctx, failing, `${verb}_IN_PROGRESS`, undefined, physical) },
        {
          run: () =>
            this.resourceEvent(
              ctx,
              failing,
              `${verb}_FAILED`,
              `Resource handler returned message: "Rolling back ${failing.logicalId} failed" (HandlerErrorCode: GeneralServiceException)`,
              physical,
            ),
        },
        {
          run: () => {
            const rest = revert.slice(revert.indexOf(failing) + 1);
            stack.pendingRollback = { failed: [failing, ...rest], cleanup: cleanup.filter((i) => i !== failing) };
            this.finishOp(
              ctx,
              'UPDATE_ROLLBACK_FAILED',
              `The following resource(s) failed to update: [${failing.logicalId}].`,
            );
          },
        },
      );
      return steps;
    }
    steps.push({ run: () => this.stackEvent(ctx, 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS') });
    for (const item of cleanup) steps.push(...this.deleteSteps(ctx, item, item.newPhysical));
    steps.push({ run: () => this.finishOp(ctx, 'UPDATE_ROLLBACK_COMPLETE') });
    return steps;
  }

  private cancelUpdateStack(p: Params, caller: Caller) {
    const stack = this.stack(caller, p.StackName);
    this.useToken(stack, p.ClientRequestToken);
    if (stack.status !== 'UPDATE_IN_PROGRESS') {
      throw validationError('CancelUpdateStack cannot be called from current stack status');
    }
    if (p.ClientRequestToken) stack.usedTokens.add(p.ClientRequestToken);
    const ctx: ExecContext = stack.op?.ctx ?? { stack, items: [], operationId: randomUUID(), touched: [] };
    const runner = stack.op?.runner ?? new Runner(this.scheduler, this.opts.eventIntervalMs);
    stack.op = { runner, ctx };
    // The rollback that the cancel starts is a new operation with the cancel's token.
    ctx.token = p.ClientRequestToken;
    ctx.operationId = randomUUID();
    if (ctx.cs) ctx.cs.executionStatus = 'EXECUTE_FAILED';
    const interrupted = ctx.inProgress;
    ctx.inProgress = undefined;
    const steps: Step[] = [];
    if (interrupted) {
      const verb = interrupted.action === 'Add' ? 'CREATE' : 'UPDATE';
      steps.push({
        run: () =>
          this.resourceEvent(
            ctx,
            interrupted,
            `${verb}_FAILED`,
            'Resource update cancelled',
            interrupted.newPhysical ?? interrupted.oldPhysical,
          ),
      });
    }
    const rollback = this.rollbackSteps(ctx, 'Stack update cancelled', false);
    // The stack leaves UPDATE_IN_PROGRESS at once; the interrupted resource's event follows.
    runner.start(interrupted ? [rollback[0]!, ...steps, ...rollback.slice(1)] : rollback);
    return {};
  }

  private continueUpdateRollback(p: Params, caller: Caller) {
    const stack = this.stack(caller, p.StackName);
    this.useToken(stack, p.ClientRequestToken);
    if (stack.status !== 'UPDATE_ROLLBACK_FAILED') {
      throw validationError('ContinueUpdateRollback cannot be called from current stack status');
    }
    const pending = stack.pendingRollback ?? { failed: [], cleanup: [] };
    const skip = memberList(p, 'ResourcesToSkip').filter((s) => s !== '');
    const skippable = new Set(
      pending.failed.length > 0
        ? pending.failed.map((i) => i.logicalId)
        : stack.template.resources.map((r) => r.logicalId),
    );
    const bad = skip.filter((s) => !skippable.has(s));
    if (bad.length > 0) {
      throw validationError(
        `Resources [${bad.join(', ')}] cannot be skipped: only resources whose rollback failed (UPDATE_FAILED) can be skipped`,
      );
    }
    if (p.ClientRequestToken) stack.usedTokens.add(p.ClientRequestToken);
    stack.pendingRollback = undefined;
    const ctx: ExecContext = { stack, items: [], token: p.ClientRequestToken, operationId: randomUUID(), touched: [] };
    const runner = new Runner(this.scheduler, this.opts.eventIntervalMs);
    stack.op = { runner, ctx };
    const steps: Step[] = [{ run: () => this.stackEvent(ctx, 'UPDATE_ROLLBACK_IN_PROGRESS', 'User Initiated') }];
    const unknownSkips = skip
      .filter((id) => !pending.failed.some((i) => i.logicalId === id))
      .map((id): ExecItem => {
        const decl = stack.template.resources.find((r) => r.logicalId === id);
        const type = decl?.type ?? 'AWS::CloudFormation::CustomResource';
        return { logicalId: id, type, action: 'Modify', replaced: false, oldPhysical: this.physicalId(stack, id) };
      });
    for (const item of [...pending.failed, ...unknownSkips]) {
      if (skip.includes(item.logicalId)) {
        steps.push({
          run: () =>
            this.resourceEvent(ctx, item, 'UPDATE_COMPLETE', 'Resource skipped during rollback', item.oldPhysical),
        });
      } else {
        steps.push(
          { run: () => this.resourceEvent(ctx, item, 'UPDATE_IN_PROGRESS', undefined, item.oldPhysical) },
          { run: () => this.resourceEvent(ctx, item, 'UPDATE_COMPLETE', undefined, item.oldPhysical) },
        );
      }
    }
    steps.push({ run: () => this.stackEvent(ctx, 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS') });
    for (const item of pending.cleanup) steps.push(...this.deleteSteps(ctx, item, item.newPhysical));
    steps.push({ run: () => this.finishOp(ctx, 'UPDATE_ROLLBACK_COMPLETE') });
    runner.start(steps);
    return {};
  }

  // ------------------------------------------------------------------ events

  private finishOp(ctx: ExecContext, status: string, reason?: string): void {
    this.stackEvent(ctx, status, reason);
    if (ctx.stack.op?.ctx === ctx) ctx.stack.op = undefined;
  }

  private stackResource(stack: StackRec): ExecItem {
    return { logicalId: stack.name, type: 'AWS::CloudFormation::Stack', action: 'Modify', replaced: false };
  }

  private stackEvent(ctx: ExecContext, status: string, reason?: string): void {
    const { stack } = ctx;
    stack.status = status;
    stack.statusReason = reason;
    this.emit(stack, this.stackResource(stack), status, reason, ctx.token, ctx.operationId);
  }

  private resourceEvent(ctx: ExecContext, item: ExecItem, status: string, reason?: string, physical?: string): void {
    this.emit(ctx.stack, item, status, reason, ctx.token, ctx.operationId, physical);
  }

  private emit(
    stack: StackRec,
    item: ExecItem,
    status: string,
    reason: string | undefined,
    token: string | undefined,
    operationId: string,
    physical?: string,
  ): void {
    const isStack = item.type === 'AWS::CloudFormation::Stack' && item.logicalId === stack.name;
    stack.events.push({
      StackId: stack.stackId,
      EventId: randomUUID(),
      StackName: stack.name,
      LogicalResourceId: item.logicalId,
      PhysicalResourceId: isStack ? stack.stackId : (physical ?? ''),
      ResourceType: item.type,
      Timestamp: new Date(),
      ResourceStatus: status as StackEvent['ResourceStatus'],
      ResourceStatusReason: reason,
      ClientRequestToken: this.opts.eventTokens ? token : undefined,
      OperationId: operationId,
    });
  }
}

// Without IncludePropertyValues CloudFormation reports neither the property values nor the contexts.
function withoutValues(c: Change): Change {
  const rc = c.ResourceChange;
  if (!rc) return c;
  const { BeforeContext: _b, AfterContext: _a, ...rest } = rc;
  return {
    ...c,
    ResourceChange: {
      ...rest,
      Details: rc.Details?.map((d) => {
        if (!d.Target) return d;
        const { BeforeValue: _bv, AfterValue: _av, Path: _p, AttributeChangeType: _t, ...target } = d.Target;
        return { ...d, Target: target };
      }),
    },
  };
}

/** The nested change sets under `cs`, depth first. */
function descendants(cs: ChangeSetRec): ChangeSetRec[] {
  return cs.nested.flatMap((n) => [n, ...descendants(n)]);
}

function rollbackShape(r: RollbackConfig) {
  return {
    RollbackTriggers: r.triggers.map((Arn) => ({ Arn, Type: 'AWS::CloudWatch::Alarm' })),
    MonitoringTimeInMinutes: r.minutes,
  };
}
