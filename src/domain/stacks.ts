// Services of several stacks: a stage with `stacks: [a, b]` promotes each stack from the source stage's stack at
// the same position, in list order (a rollback in reverse order). Pure: what each part's plan means for the
// whole operation, the order changes are reviewed in, and what is left to clean up.
import type { ClassifiedChange, Plan, PlanCounts, Promotion, StackPart } from './types.js';
import { IMPACT_ORDER } from './types.js';

/** What planning one stack gave: changes, no changes, or a failed change set (with CloudFormation's reason). */
export type PartResult = { status: 'changes'; plan: Plan } | { status: 'none' } | { status: 'failed'; reason: string };

export interface PartOutcome {
  index: number;
  status: 'planned' | 'unchanged' | 'deferred';
  plan?: Plan;
  reason?: string;
}

/**
 * A change set CloudFormation refuses because the stack imports an export that does not exist yet
 * (Fn::ImportValue: "No export named X found"): an earlier stack of the same operation may add it.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html
 */
export function waitsForExport(reason: string | undefined): boolean {
  return /no export named/i.test(reason ?? '');
}

/**
 * What the results of planning every stack (in run order) mean: each part planned, unchanged (skipped) or
 * deferred (planned again once the earlier stacks ran, when it waits for an export and an earlier stack has
 * changes), or the failure that ends the whole plan, naming its stack.
 */
export function decideParts(
  stacks: readonly string[],
  results: readonly PartResult[],
): { ok: true; outcomes: PartOutcome[] } | { ok: false; reason: string } {
  const outcomes: PartOutcome[] = [];
  results.forEach((r, index) => {
    if (r.status === 'changes') outcomes.push({ index, status: 'planned', plan: r.plan });
    else if (r.status === 'none') outcomes.push({ index, status: 'unchanged' });
    else {
      const earlierRuns = outcomes.some((o) => o.status !== 'unchanged');
      if (waitsForExport(r.reason) && earlierRuns) outcomes.push({ index, status: 'deferred', reason: r.reason });
    }
  });
  const failed = results.findIndex((r, index) => r.status === 'failed' && !outcomes.some((o) => o.index === index));
  if (failed >= 0) {
    const r = results[failed] as { reason: string };
    return { ok: false, reason: `${stacks[failed]}: ${r.reason}` };
  }
  return { ok: true, outcomes };
}

/** The next part at or after `from` still to plan or run (planned or deferred). */
export function nextPart(parts: readonly StackPart[], from: number): number | undefined {
  for (let i = from; i < parts.length; i++) {
    const s = parts[i]!.status;
    if (s === 'planned' || s === 'deferred') return i;
  }
  return undefined;
}

/** Did any part run to UPDATE_COMPLETE already (the stage changed, whatever happens to the later ones)? */
export function anyPartRan(p: Pick<Promotion, 'parts'>): boolean {
  return (p.parts ?? []).some((x) => x.status === 'succeeded');
}

const rank = (c: ClassifiedChange) => IMPACT_ORDER.indexOf(c.impact);

/** Every planned part's changes in one plan, tagged with their stack, worst first across all stacks. */
export function combinePlans(parts: readonly StackPart[]): Plan {
  const order = parts.map((x) => x.stack);
  const changes = parts
    .flatMap((x) => (x.plan?.changes ?? []).map((c) => ({ ...c, stack: x.stack })))
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        order.indexOf(a.stack) - order.indexOf(b.stack) ||
        (a.logicalId < b.logicalId ? -1 : a.logicalId > b.logicalId ? 1 : 0),
    );
  const counts: PlanCounts = { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: 0 };
  for (const x of parts) {
    if (!x.plan) continue;
    for (const k of Object.keys(counts) as (keyof PlanCounts)[]) counts[k] += x.plan.counts[k];
  }
  return { changes, counts };
}

/** Impacts reviewers must see first, whatever stack they are in: data loss, replacements, IAM and security. */
const FIRST: ReadonlySet<string> = new Set(IMPACT_ORDER.slice(0, IMPACT_ORDER.indexOf('security') + 1));

/** The operation's own stacks, in the order they run (nested stacks are below them). */
export function topStacksOf(p: Promotion): string[] {
  return p.parts?.map((x) => x.stack) ?? [p.target.stack];
}

export interface ChangeGroup {
  /** The stack of every change in the group; undefined for the risky changes of every stack, shown first */
  stack?: string;
  changes: ClassifiedChange[];
}

/**
 * The order changes are reviewed in. Changes of one stack (or none tagged): one group, as given. Changes of
 * several stacks: the destructive, replacing and security changes of all stacks first (worst first, each
 * naming its stack), then the other changes grouped by stack in the order the stacks first appear.
 */
export function groupChanges(changes: readonly ClassifiedChange[]): ChangeGroup[] {
  const stacks = [...new Set(changes.map((c) => c.stack).filter((s): s is string => s !== undefined))];
  if (stacks.length <= 1) return changes.length ? [{ stack: stacks[0], changes: [...changes] }] : [];
  const groups: ChangeGroup[] = [];
  const first = changes.filter((c) => FIRST.has(c.impact));
  if (first.length) groups.push({ changes: first });
  for (const stack of stacks) {
    const rest = changes.filter((c) => c.stack === stack && !FIRST.has(c.impact));
    if (rest.length) groups.push({ stack, changes: rest });
  }
  const untagged = changes.filter((c) => c.stack === undefined && !FIRST.has(c.impact));
  if (untagged.length) groups.push({ changes: untagged });
  return groups;
}

/** The parts with the working copy (the single-stack fields) written back into the current one. */
export function syncCurrent(p: Promotion): Promotion {
  if (!p.parts || p.current === undefined) return p;
  const i = p.current;
  const part = p.parts[i]!;
  const ex = p.execution;
  const status = ex
    ? ex.endedAt
      ? ex.finalStackStatus === 'UPDATE_COMPLETE'
        ? 'succeeded'
        : 'failed'
      : 'executing'
    : part.status;
  const synced: StackPart = {
    ...part,
    target: p.target,
    source: p.source,
    changeSet: p.changeSet,
    changeSetRequested: p.changeSetRequested,
    execution: ex,
    status,
    ...(ex?.endedAt && ex.reason ? { reason: ex.reason } : {}),
  };
  return { ...p, parts: p.parts.map((x, j) => (j === i ? synced : x)) };
}

/** The single-stack fields loaded from part `index` (it becomes the one planned, reviewed or run). */
export function loadPart(p: Promotion, index: number): Partial<Promotion> {
  const part = p.parts![index]!;
  return {
    current: index,
    target: part.target,
    source: part.source,
    changeSet: part.changeSet,
    changeSetRequested: part.changeSetRequested,
    execution: part.execution,
    startAttempts: undefined,
  };
}

/** Change sets an ended operation must delete: every one made and never executed. */
export function changeSetsToDelete(p: Promotion): Array<{ stack: string; arn?: string; name?: string }> {
  const all = p.parts
    ? p.parts.map((x) => ({ stack: x.stack, changeSet: x.changeSet, requested: x.changeSetRequested, ex: x.execution }))
    : [{ stack: p.target.stack, changeSet: p.changeSet, requested: p.changeSetRequested, ex: p.execution }];
  return all
    .filter((x) => (x.changeSet || x.requested) && !x.ex?.confirmed)
    .map((x) => (x.changeSet ? { stack: x.stack, arn: x.changeSet.arn } : { stack: x.stack, name: x.requested }));
}

/** Release approvers of a multi-stack operation: everyone who approved any part. */
export function allApprovers(p: Promotion): string[] {
  const users = [...(p.parts ?? []).flatMap((x) => x.approvals ?? []), ...p.approvals].map((a) => a.user);
  return [...new Set(users)];
}
