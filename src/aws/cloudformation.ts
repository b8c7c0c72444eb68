// Thin CloudFormation adapter: the calls a promotion makes, typed with the SDK's own types.
// Waiting is our own short polling loop (every 250 ms, growing with the wait to 1 s), not the SDK waiters' 30-second
// defaults.
import { createHash } from 'node:crypto';
import {
  CancelUpdateStackCommand,
  type Capability,
  type CloudFormationClient,
  ContinueUpdateRollbackCommand,
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  GetTemplateSummaryCommand,
  type GetTemplateSummaryCommandOutput,
  type Parameter,
  type ResourceChange,
  type RollbackConfiguration,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import type { StackChanges } from '../domain/classify.js';
import type { FailedResource, Monitoring } from '../domain/types.js';
import { isThrottlingFault } from './errors.js';
import { isResourceFailure } from './stack-status.js';

/** CloudFormation's TemplateBody limit; larger templates must go through S3 (TemplateURL). */
export const TEMPLATE_BODY_LIMIT = 51_200;

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function errorName(e: unknown): string {
  return (e as { name?: string })?.name ?? '';
}

/** AWS asked to slow down (classified in errors.ts, where every AWS error code is). */
export function isThrottling(e: unknown): boolean {
  return isThrottlingFault(e);
}

function isMissingStack(e: unknown): boolean {
  return errorName(e) === 'ValidationError' && /does not exist/i.test((e as Error).message ?? '');
}

/** A fault saying what was being done and what AWS said, with the original as `cause`. */
export function faultWhile(what: string, cause: unknown): Error {
  return new Error(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

/** Runs `fn`, rethrowing any fault with what was being done and the original as `cause`. */
export async function doing<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw faultWhile(what, cause);
  }
}

export function fingerprint(templateBody: string): string {
  return createHash('sha256').update(templateBody).digest('hex');
}

export async function describeStack(cfn: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    return out.Stacks?.[0];
  } catch (e) {
    if (isMissingStack(e)) return undefined;
    throw faultWhile(`describing stack ${stackName}`, e);
  }
}

/**
 * Every stack of the account and region the client sees (DescribeStacks without StackName, every page, at most
 * `maxPages`): one call for the status of many stacks. Also says how many pages it took.
 */
export async function describeAllStacks(
  cfn: CloudFormationClient,
  maxPages = 20,
): Promise<{ stacks: Stack[]; pages: number; complete: boolean }> {
  return doing('listing the stacks', async () => {
    const stacks: Stack[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await cfn.send(new DescribeStacksCommand({ NextToken: token }));
      pages++;
      stacks.push(...(out.Stacks ?? []));
      token = out.NextToken;
    } while (token && pages < maxPages);
    return { stacks, pages, complete: !token };
  });
}

export interface SourceBuild {
  stack: Stack;
  templateBody: string;
  fingerprint: string;
  capabilities: Capability[];
  /** Parameter keys the template declares, with whether they have a default */
  declared: Array<{ key: string; hasDefault: boolean }>;
  version?: string;
}

const VERSION_KEYS = ['version', 'release', 'gitcommit', 'commit', 'commitsha', 'gitsha', 'sha', 'buildid', 'build'];

/** A version/commit tag or output of the source stack, when it has one. */
export function versionOf(stack: Stack): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/[^a-z]/g, '');
  for (const key of VERSION_KEYS) {
    const out = stack.Outputs?.find((o) => norm(o.OutputKey ?? '') === key);
    if (out?.OutputValue) return out.OutputValue;
    const tag = stack.Tags?.find((t) => norm(t.Key ?? '') === key);
    if (tag?.Value) return tag.Value;
  }
  return undefined;
}

/** What runs in the source stage: its original template (not the processed one), parameters and needs. */
export async function readSourceBuild(cfn: CloudFormationClient, stackName: string): Promise<SourceBuild | undefined> {
  const stack = await describeStack(cfn, stackName);
  if (!stack) return undefined;
  const body = await getTemplateBody(cfn, stackName);
  return doing(`summarising the template of ${stackName}`, async () => {
    const summary = await cfn.send(new GetTemplateSummaryCommand({ StackName: stackName }));
    return {
      stack,
      templateBody: body,
      fingerprint: fingerprint(body),
      capabilities: summary.Capabilities ?? [],
      declared: (summary.Parameters ?? []).map((p) => ({
        key: p.ParameterKey ?? '',
        hasDefault: p.DefaultValue !== undefined,
      })),
      version: versionOf(stack),
    };
  });
}

/** The stack's template as it was submitted (`Original`: YAML and comments kept, transforms not applied). */
export async function getTemplateBody(cfn: CloudFormationClient, stackName: string): Promise<string> {
  return doing(`reading the template of ${stackName}`, async () => {
    const tpl = await cfn.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Original' }));
    return tpl.TemplateBody ?? '';
  });
}

export type TemplateSource = { TemplateBody: string } | { TemplateURL: string } | { StackName: string };

/** Parameters (with NoEcho and defaults) and the capabilities a template needs, from its text, URL or stack. */
export async function getTemplateSummary(
  cfn: CloudFormationClient,
  source: TemplateSource,
): Promise<GetTemplateSummaryCommandOutput> {
  const what =
    'TemplateURL' in source
      ? `the template at ${source.TemplateURL}`
      : 'StackName' in source
        ? `the template of ${source.StackName}`
        : 'the template';
  return doing(`summarising ${what}`, () => cfn.send(new GetTemplateSummaryCommand(source)));
}

/**
 * Parameters for the target: every parameter the target stack has and the template still declares keeps its
 * value (UsePreviousValue); new ones are omitted so they take the template default.
 */
export function carryParameters(declared: Array<{ key: string }>, targetParams: Parameter[] | undefined): Parameter[] {
  const existing = new Set((targetParams ?? []).map((p) => p.ParameterKey));
  return declared.filter((d) => existing.has(d.key)).map((d) => ({ ParameterKey: d.key, UsePreviousValue: true }));
}

/**
 * The change set's RollbackConfiguration (CreateChangeSet, CloudFormation API reference): each alarm a rollback
 * trigger of type AWS::CloudWatch::Alarm, watched during the execution and for MonitoringTimeInMinutes after
 * its resources are done. CloudFormation keeps a stack's triggers for later updates unless a request names
 * others, and an empty list removes them: `{ alarms: [], minutes: 0 }` turns watching off for this update.
 */
export function rollbackConfiguration(m: Monitoring): RollbackConfiguration {
  return {
    RollbackTriggers: m.alarms.map((Arn) => ({ Arn, Type: 'AWS::CloudWatch::Alarm' })),
    MonitoringTimeInMinutes: m.minutes,
  };
}

/**
 * Creates a change set, with IncludeNestedStacks (CreateChangeSet, CloudFormation API reference): the changes
 * inside nested stacks are planned too, in nested change sets the root one points to (ResourceChange.ChangeSetId),
 * executed and deleted with it.
 */
export async function createChangeSet(
  cfn: CloudFormationClient,
  input: CreateChangeSetCommandInput,
): Promise<{ arn: string; stackId?: string }> {
  return doing(`creating change set ${input.ChangeSetName} on ${input.StackName}`, async () => {
    const out = await cfn.send(new CreateChangeSetCommand({ IncludeNestedStacks: true, ...input }));
    if (!out.Id) throw new Error('CloudFormation returned no change set ID');
    return { arn: out.Id, stackId: out.StackId };
  });
}

/**
 * How often to ask whether a change set is ready: the gap to the next poll is `fraction` of the time waited so
 * far, within [initialMs, maxMs]. A change set ready after t seconds is then seen at most about t × fraction
 * later (never more than maxMs): a quarter of a second for the quick ones and half a second for the slow ones
 * (CloudFormation takes from seconds to minutes, more with nested stacks), as someone watches the channel for
 * the summary all along. A poll of a change set still being created is one small DescribeChangeSet; the
 * account's request budget (src/budgets.ts) spaces them further when the account is busy.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  fraction: number;
  timeoutMs: number;
  /** the longest gap after throttled polls (each throttle in a row doubles the gap) */
  throttledMaxMs: number;
}

export const CHANGE_SET_BACKOFF: Backoff = {
  initialMs: 250,
  maxMs: 500,
  fraction: 0.25,
  timeoutMs: 10 * 60_000,
  throttledMaxMs: 2000,
};

/** The gap before the next poll, after `waitedMs` of waiting (Backoff). */
export function pollGap(b: Backoff, waitedMs: number): number {
  return Math.min(b.maxMs, Math.max(b.initialMs, waitedMs * b.fraction));
}

/** Polls until the change set leaves CREATE_PENDING / CREATE_IN_PROGRESS. A FAILED change set is a good return value. */
export async function waitForChangeSet(
  cfn: CloudFormationClient,
  arn: string,
  opts: { sleep?: Sleep; backoff?: Backoff; now?: () => number } = {},
): Promise<DescribeChangeSetCommandOutput> {
  const sleep = opts.sleep ?? realSleep;
  const b = opts.backoff ?? CHANGE_SET_BACKOFF;
  const now = opts.now ?? Date.now;
  const started = now();
  const deadline = started + b.timeoutMs;
  let throttled = 0;
  for (;;) {
    let delay: number;
    try {
      const out = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: arn }));
      if (out.Status !== 'CREATE_PENDING' && out.Status !== 'CREATE_IN_PROGRESS') return out;
      throttled = 0;
      delay = pollGap(b, now() - started);
    } catch (e) {
      if (!isThrottling(e)) throw faultWhile(`waiting for change set ${arn}`, e);
      // Throttled: slow down further, doubling the gap each time, up to throttledMaxMs.
      throttled++;
      delay = Math.min(b.throttledMaxMs, pollGap(b, now() - started) * 2 ** throttled);
    }
    if (now() + delay > deadline)
      throw new Error(`waiting for change set ${arn}: still not ready after ${b.timeoutMs} ms`);
    await sleep(delay);
  }
}

/** Every page of the change set's changes, with property values. */
export async function describeAllChanges(
  cfn: CloudFormationClient,
  arn: string,
  /** Each page as it arrives; `more`: another page of this change set follows */
  onPage?: (changes: ResourceChange[], more: boolean) => void,
): Promise<ResourceChange[]> {
  return doing(`describing change set ${arn}`, async () => {
    const changes: ResourceChange[] = [];
    let token: string | undefined;
    do {
      const out = await cfn.send(
        new DescribeChangeSetCommand({ ChangeSetName: arn, NextToken: token, IncludePropertyValues: true }),
      );
      const page: ResourceChange[] = [];
      for (const c of out.Changes ?? []) if (c.ResourceChange) page.push(c.ResourceChange);
      changes.push(...page);
      token = out.NextToken;
      onPage?.(page, token !== undefined);
    } while (token);
    return changes;
  });
}

/** Nested stacks deeper than this are not described (a guard; CloudFormation templates rarely nest past 3). */
const MAX_NESTING = 10;

/**
 * Every change of a change set and of the nested change sets it points to, grouped by stack: the top stack's
 * under `stack` (undefined for the operation's own stack), each nested stack's under its logical ID path
 * (`Storage`, `Storage/Tables`). A nested stack's own row (AWS::CloudFormation::Stack with a ChangeSetId) stays
 * in its parent's changes; its nested change set is described, every page, and its rows follow.
 */
export async function describePlanChanges(
  cfn: CloudFormationClient,
  arn: string,
  stack?: string,
  /**
   * Each page as it arrives (the caller can work on it while the next one is asked for); `more`: another page of
   * the same change set follows
   */
  onPage?: (page: StackChanges, more: boolean) => void,
  seen: Set<string> = new Set(),
): Promise<StackChanges[]> {
  seen.add(arn);
  const changes = await describeAllChanges(cfn, arn, (page, more) =>
    onPage?.({ ...(stack ? { stack } : {}), changes: page }, more),
  );
  const groups: StackChanges[] = [{ ...(stack ? { stack } : {}), changes }];
  if (seen.size > MAX_NESTING * 50) return groups;
  for (const rc of changes) {
    const nested = rc.ChangeSetId;
    if (rc.ResourceType !== 'AWS::CloudFormation::Stack' || !nested || seen.has(nested)) continue;
    const name = rc.LogicalResourceId || rc.PhysicalResourceId || 'nested stack';
    const path = stack ? `${stack}/${name}` : name;
    if (path.split('/').length > MAX_NESTING) continue;
    groups.push(...(await describePlanChanges(cfn, nested, path, onPage, seen)));
  }
  return groups;
}

/** A CloudWatch alarm ARN anywhere in a text (arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>). */
const ALARM_ARN = /arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^\s,;\][)(]+/g;

/**
 * The alarm that made CloudFormation roll an update back, from the reason of the stack's
 * UPDATE_ROLLBACK_IN_PROGRESS event: the first rollback trigger it names (or, with no triggers given, the first
 * alarm ARN it names). The exact wording of that reason is not documented, so only the ARN in it is relied on.
 */
export function alarmOfRollback(reason: string | undefined, triggers: readonly string[] = []): string | undefined {
  if (!reason) return undefined;
  const named = [...reason.matchAll(ALARM_ARN)].map((m) => m[0].replace(/[.'"]+$/, ''));
  if (triggers.length === 0) return named[0];
  return named.find((a) => triggers.includes(a)) ?? triggers.find((t) => reason.includes(t));
}

/** CloudFormation's ways of saying an UPDATE change set has nothing in it (platform-facts §2.2). */
export function isNoChangesReason(reason: string | undefined): boolean {
  if (!reason) return false;
  return /didn't contain changes|did not contain changes|no updates are to be performed/i.test(reason);
}

/** Deletes a change set by ARN, or by name on `stackName`; one that is already gone is fine. */
export async function deleteChangeSet(cfn: CloudFormationClient, arn: string, stackName?: string): Promise<void> {
  try {
    await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: arn, ...(stackName ? { StackName: stackName } : {}) }));
  } catch (e) {
    if (errorName(e) === 'ChangeSetNotFound' || errorName(e) === 'ChangeSetNotFoundException') return;
    throw faultWhile(`deleting change set ${arn}`, e);
  }
}

export async function describeChangeSetStatus(
  cfn: CloudFormationClient,
  arn: string,
): Promise<{ status?: string; executionStatus?: string; reason?: string } | undefined> {
  try {
    const out = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: arn }));
    return { status: out.Status, executionStatus: out.ExecutionStatus, reason: out.StatusReason };
  } catch (e) {
    if (errorName(e) === 'ChangeSetNotFound' || errorName(e) === 'ChangeSetNotFoundException') return undefined;
    throw faultWhile(`describing change set ${arn}`, e);
  }
}

/**
 * ClientRequestToken: [a-zA-Z0-9][-a-zA-Z0-9]*, ≤ 128. Derived from the promotion so a retry is the same request.
 * Leading dashes are dropped: CloudFormation rejects a token that does not start with a letter or digit.
 */
export function requestToken(prefix: string, id: string): string {
  const token = `${prefix}-${id}`
    .replace(/[^-a-zA-Z0-9]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 128);
  return token || 'token';
}

export type ExecuteResult =
  | { started: true }
  | { started: false; alreadyStarted: true }
  | { started: false; refused: string };

/** Executes once: a token CloudFormation has seen already means this execution started before (e.g. before a restart). */
export async function executeChangeSet(cfn: CloudFormationClient, arn: string, token: string): Promise<ExecuteResult> {
  try {
    await cfn.send(
      new ExecuteChangeSetCommand({ ChangeSetName: arn, ClientRequestToken: token, DisableRollback: false }),
    );
    return { started: true };
  } catch (e) {
    const name = errorName(e);
    if (name === 'TokenAlreadyExistsException' || name === 'TokenAlreadyExists') {
      return { started: false, alreadyStarted: true };
    }
    if (name === 'InvalidChangeSetStatus' || name === 'InvalidChangeSetStatusException') {
      return { started: false, refused: (e as Error).message };
    }
    throw faultWhile(`executing change set ${arn}`, e);
  }
}

/**
 * Events newer than `afterEventId` (oldest first), reading pages newest-first until it is met.
 * Only events of the operation with `token` when one is given: an event's ClientRequestToken is "the token passed
 * to the operation that generated this event" (docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html).
 * With `untokenedAreOurs` (a follower of an operation CloudFormation accepted), a service that reports no token on
 * any event read (some CloudFormation emulators) gets them all: they are newer than the marker, or than
 * `notBefore`, and a stack runs one operation at a time. Without it (did our operation start at all?) an event
 * without our token is never ours: the window may hold only an earlier operation's events.
 * Without a marker (a follower that just started or restarted), pages are read back to `notBefore`: older events
 * belong to earlier operations.
 */
export async function eventsSince(
  cfn: CloudFormationClient,
  stackName: string,
  afterEventId: string | undefined,
  token: string | undefined,
  opts: { notBefore?: Date; maxPages?: number; untokenedAreOurs?: boolean } = {},
): Promise<StackEvent[]> {
  return doing(`reading the events of ${stackName}`, async () => {
    const fresh: StackEvent[] = [];
    const ours = () => {
      const tokens =
        token !== undefined && (!opts.untokenedAreOurs || fresh.some((ev) => ev.ClientRequestToken !== undefined));
      return (tokens ? fresh.filter((ev) => ev.ClientRequestToken === token) : fresh).reverse();
    };
    const maxPages = opts.maxPages ?? 20;
    let next: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const out = await cfn.send(new DescribeStackEventsCommand({ StackName: stackName, NextToken: next }));
      for (const ev of out.StackEvents ?? []) {
        if (afterEventId && ev.EventId === afterEventId) return ours();
        if (!afterEventId && opts.notBefore && ev.Timestamp && ev.Timestamp < opts.notBefore) return ours();
        fresh.push(ev);
      }
      next = out.NextToken;
      if (!next || (!afterEventId && !opts.notBefore)) break;
    }
    return ours();
  });
}

export async function cancelUpdate(cfn: CloudFormationClient, stackName: string, token: string): Promise<void> {
  await doing(`cancelling the update of ${stackName}`, () =>
    cfn.send(new CancelUpdateStackCommand({ StackName: stackName, ClientRequestToken: token })),
  );
}

export async function continueRollback(
  cfn: CloudFormationClient,
  stackName: string,
  token: string,
  skip: string[],
): Promise<void> {
  await doing(`continuing the rollback of ${stackName}`, () =>
    cfn.send(
      new ContinueUpdateRollbackCommand({
        StackName: stackName,
        ClientRequestToken: token,
        ResourcesToSkip: skip.length ? skip : undefined,
      }),
    ),
  );
}

/**
 * Resources whose rollback failed, for a stack in UPDATE_ROLLBACK_FAILED: the failures after the stack's last
 * UPDATE_ROLLBACK_IN_PROGRESS event (events come newest first), one per resource, at most 10 pages back.
 */
export async function readStuckResources(cfn: CloudFormationClient, stack: Stack): Promise<FailedResource[]> {
  return doing(`reading the events of ${stack.StackName}`, async () => {
    const stuck = new Map<string, FailedResource>();
    let next: string | undefined;
    for (let page = 0; page < 10; page++) {
      const out = await cfn.send(new DescribeStackEventsCommand({ StackName: stack.StackName, NextToken: next }));
      for (const ev of out.StackEvents ?? []) {
        const isStack = ev.PhysicalResourceId === stack.StackId || ev.LogicalResourceId === stack.StackName;
        if (isStack && ev.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS') return [...stuck.values()];
        if (
          !isStack &&
          isResourceFailure(ev.ResourceStatus) &&
          ev.LogicalResourceId &&
          !stuck.has(ev.LogicalResourceId)
        ) {
          stuck.set(ev.LogicalResourceId, {
            logicalId: ev.LogicalResourceId,
            resourceType: ev.ResourceType,
            status: ev.ResourceStatus!,
            reason: ev.ResourceStatusReason,
          });
        }
      }
      next = out.NextToken;
      if (!next) break;
    }
    return [...stuck.values()];
  });
}
