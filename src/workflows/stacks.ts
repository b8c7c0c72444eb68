// Operations on a stage of several stacks (`stacks: [a, b]`): every stack's change set is planned at once and
// reviewed in one summary; a stack CloudFormation cannot plan before an earlier one runs (it imports an export
// the earlier one adds) is planned once that one is applied, and its plan is reviewed on its own in the thread.
// Running them one after the other is execute.ts's (drive), stack by stack.
import { describeStack, isNoChangesReason, readSourceBuild, waitForChangeSet } from '../aws/cloudformation.js';
import { whyNotUpdatable } from '../aws/stack-status.js';
import { snapshotSource, stackSnapshot } from '../domain/releases.js';
import { chooseRule } from '../domain/risk.js';
import { decideParts, type PartResult } from '../domain/stacks.js';
import type { Plan, Promotion } from '../domain/types.js';
import {
  accessOf,
  accountOf,
  audit,
  type Deps,
  forOperation,
  type Reply,
  ruleOf,
  stageOf,
  transition,
} from './deps.js';
import { runEndEffects } from './finish.js';
import { type Lease, LeaseLost } from './lease.js';
import {
  afterPublished,
  changeSetName,
  describePlan,
  discardChangeSet,
  endOperation,
  type Opened,
  planFailure,
  planningThrew,
  publish,
} from './operation.js';
import { createPromotionChangeSet, sourceStillHealthy } from './plan.js';
import { type Release, releasesKey, unpackTemplate } from './releases.js';
import { createRollbackChangeSet } from './rollback.js';
import { refreshSummaryQuietly, renderLaterPart } from './summary-message.js';

/** Makes part `index`'s change set under `name` (a promotion records its source build first), or says why not. */
type PartCreator = (p: Promotion, index: number, name: string) => Promise<{ arn: string } | { refusal: string }>;

/**
 * A promotion's part: the source stage's stack at the same position in its list, its template and the
 * target's parameters carried over, like a single-stack promotion (plan.ts).
 */
function promoteCreator(deps: Deps): PartCreator {
  return async (p, index, name) => {
    const service = deps.config.services[p.service];
    const from = service?.stages.find((s) => s.name === p.from);
    const to = service?.stages.find((s) => s.name === p.to);
    const part = p.parts![index]!;
    const at = to?.stacks.indexOf(part.stack) ?? -1;
    const sourceStack = at >= 0 ? from?.stacks[at] : undefined;
    if (!from || !to || !sourceStack) return { refusal: `${p.from} → ${p.to} is no longer configured` };
    const source = await readSourceBuild(deps.aws.cloudFormation(accessOf(from), p.requester), sourceStack);
    if (!source) return { refusal: `the source stack ${sourceStack} (${from.name}) does not exist` };
    const health = sourceStillHealthy(source.stack, sourceStack, from.name);
    if ('refusal' in health) return health;
    const sourced = await transition(deps, p.id, {
      type: 'part_recorded',
      index,
      source: {
        stack: sourceStack,
        region: from.region,
        account: accountOf(from),
        fingerprint: source.fingerprint,
        lastUpdatedTime: (source.stack.LastUpdatedTime ?? source.stack.CreationTime)?.toISOString(),
        version: source.version,
        ...(health.rolledBack ? { rolledBack: true } : {}),
      },
    });
    if (!sourced.ok) return { refusal: 'it ended while planning' };
    const cfn = deps.aws.cloudFormation(accessOf(to), p.requester);
    const target = await describeStack(cfn, part.stack);
    return createPromotionChangeSet(deps, cfn, to, {
      p,
      stack: part.stack,
      name,
      source,
      sourceStack,
      target,
      uploadId: `${p.id}-${part.stack}`,
    });
  };
}

/** A rollback's part: the stack's template and parameters in the release the rollback puts back. */
function rollbackCreator(deps: Deps): PartCreator {
  return async (p, index, name) => {
    const to = stageOf(deps, p);
    const from = p.rollbackTarget ? snapshotSource(p.rollbackTarget) : undefined;
    if (!to || !from) return { refusal: 'the stage or the release to put back is no longer known' };
    const releases = await deps.store.listCapped<Release>(releasesKey(p.service, to.name), to.keepReleases);
    const release = releases.find((r) => r.id === from.release);
    const part = p.parts![index]!;
    const snap = release && stackSnapshot(release, from.side, part.stack, to.stack);
    if (!snap) return { refusal: `release ${from.release} records no template of ${part.stack}` };
    return createRollbackChangeSet(deps, to, p.requester, {
      service: p.service,
      stack: part.stack,
      name,
      body: await unpackTemplate(snap.templateGz),
      parameters: snap.parameters,
      uploadId: `${p.id}-${part.stack}`,
      description: `promote-bot: rollback of ${p.service}/${to.name} (${part.stack}), requested by ${p.requester}`,
    });
  };
}

const creatorOf = (deps: Deps, p: Promotion): PartCreator =>
  p.kind === 'rollback' ? rollbackCreator(deps) : promoteCreator(deps);

/**
 * Plans one part: its change set's name recorded before CloudFormation is asked, the change set recorded as
 * soon as it is returned (so an interrupted plan deletes it), then waited for and classified, each change
 * naming its stack.
 */
async function planPart(
  deps: Deps,
  p: Promotion,
  index: number,
  name: string,
  touch: () => Promise<void>,
): Promise<PartResult> {
  const stage = stageOf(deps, p);
  if (!stage) return { status: 'failed', reason: 'the stage is no longer configured' };
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
  const part = p.parts![index]!;
  const requested = await transition(deps, p.id, { type: 'part_recorded', index, changeSetRequested: name });
  if (!requested.ok) return { status: 'failed', reason: 'it ended while planning' };
  const cs = await creatorOf(deps, p)(p, index, name);
  if ('refusal' in cs) return { status: 'failed', reason: cs.refusal };
  const changeSet = { arn: cs.arn, name };
  const recorded = await transition(deps, p.id, { type: 'part_recorded', index, changeSet }).catch(async (err) => {
    await discardChangeSet(deps, cfn, cs.arn);
    throw err;
  });
  if (!recorded.ok) {
    await discardChangeSet(deps, cfn, cs.arn);
    return { status: 'failed', reason: 'it ended while planning' };
  }
  const described = await waitForChangeSet(cfn, cs.arn, {
    sleep: async (ms) => {
      await touch();
      await deps.sleep(ms);
    },
  });
  await touch();
  if (described.Status === 'FAILED') {
    return isNoChangesReason(described.StatusReason)
      ? { status: 'none' }
      : { status: 'failed', reason: described.StatusReason ?? 'the change set failed' };
  }
  // Its own changes name its stack; those of its nested stacks a path below it (`shop-app-prod/Storage`).
  return { status: 'changes', plan: await describePlan(deps, cfn, cs.arn, p.id, part.stack) };
}

/**
 * The approval rule for plans of several stacks: the destructive tier when any of them deletes or replaces
 * data or changes permissions (domain/risk.ts), as for one stack (operation.ts recordPlanAndPublish).
 */
function ruleFromPlans(deps: Deps, p: Promotion, plans: ReadonlyArray<Plan | undefined>) {
  const stage = stageOf(deps, p);
  const changes = plans.flatMap((x) => x?.changes ?? []);
  const combined: Plan = {
    changes,
    counts: { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: changes.length },
  };
  const chosen = stage ? chooseRule(p.kind === 'rollback' ? stage.rollback : stage.approvals, combined) : undefined;
  return { rule: ruleOf(deps, { ...p, rule: chosen }), chosen };
}

/**
 * Plans every stack of an opened multi-stack operation at once and publishes one summary of them all (the
 * multi-stack planAndPublish). Ends the operation when nothing changes or a stack cannot be planned (unless it
 * waits for an earlier stack's export: then it is planned later). Gives its lease back at the end; a plan
 * that needs no approval then starts at once.
 */
export async function planStacks(
  outer: Deps,
  opened: Opened,
  nothingMessage: string,
  reply: Reply,
): Promise<Promotion | undefined> {
  const { p, lease } = opened;
  const deps = forOperation(outer, p.id);
  let published: Promotion | undefined;
  try {
    const parts = p.parts!;
    const name = changeSetName(p.kind, p.service, p.from, p.to, p.id);
    const creating = performance.now();
    const results = await Promise.all(parts.map((_, i) => planPart(deps, p, i, name, () => lease.touch())));
    deps.metrics.changeSetCreation.observe({ kind: p.kind }, (performance.now() - creating) / 1000);
    const decided = decideParts(
      parts.map((x) => x.stack),
      results,
    );
    if (!decided.ok) return await endOperation(deps, opened, { type: 'plan_failed', reason: decided.reason }, reply);
    if (decided.outcomes.every((o) => o.status === 'unchanged')) {
      return await endOperation(deps, opened, { type: 'nothing_to_promote', reason: nothingMessage }, reply);
    }
    // A deferred stack's failed change set is deleted now; it gets a new one once the stacks before it ran.
    const current = await deps.store.getPromotion(p.id);
    for (const o of decided.outcomes.filter((x) => x.status === 'deferred')) {
      const arn = current?.parts?.[o.index]?.changeSet?.arn;
      const stage = stageOf(deps, p);
      if (arn && stage) await discardChangeSet(deps, deps.aws.cloudFormation(accessOf(stage), p.requester), arn);
    }
    const { rule, chosen } = ruleFromPlans(
      deps,
      p,
      decided.outcomes.map((o) => o.plan),
    );
    const planned = await transition(
      deps,
      p.id,
      { type: 'parts_planned', outcomes: decided.outcomes, rule, chosen },
      p.requester,
    );
    if (planned.ok && chosen?.tier === 'destructive') {
      await audit(deps, planned.after, 'bot', 'destructive approval rule', {
        required: chosen.required,
        because: chosen.because,
      });
    }
    if (!planned.ok) {
      await runEndEffects(deps, p.id, lease, reply);
      return undefined;
    }
    published = await publish(deps, opened, planned.after, reply);
    return published;
  } catch (err) {
    return await planningThrew(deps, opened, err, reply);
  } finally {
    await lease.release();
    await afterPublished(deps, published);
  }
}

/**
 * Plans the current part of a multi-stack operation once the stacks before it ran (it could not be planned
 * before), under the lease the driver holds, and posts its plan in the thread with buttons of its own: nothing
 * of it runs before it is approved under the same rule. Returns the operation as stored afterwards.
 */
export async function planLaterStack(outer: Deps, initial: Promotion, lease: Lease): Promise<Promotion> {
  const deps = forOperation(outer, initial.id);
  let p = initial;
  const fail = async (reason: string) => {
    const t = await transition(deps, p.id, { type: 'plan_failed', reason });
    return t.ok ? t.after : (t.current ?? p);
  };
  // One stack after another while each turns out unchanged and the next one waits to be planned too.
  while (p.state === 'planning' && p.parts && p.current !== undefined) {
    const index = p.current;
    const part = p.parts[index]!;
    const stage = stageOf(deps, p);
    if (!stage) return fail('the stage is no longer configured');
    try {
      const stack = await describeStack(deps.aws.cloudFormation(accessOf(stage), p.requester), part.stack);
      const why = whyNotUpdatable(part.stack, stack?.StackStatus);
      if (why) return fail(`${part.stack} cannot be planned: ${why}`);
      const name = changeSetName(p.kind, p.service, p.from, p.to, `${p.id}-${index}-later`);
      const result = await planPart(deps, p, index, name, () => lease.touch());
      if (result.status === 'failed') {
        return fail(`${part.stack} could not be planned after the stacks before it ran: ${result.reason}`);
      }
      const outcome =
        result.status === 'changes'
          ? { index, status: 'planned' as const, plan: result.plan }
          : { index, status: 'unchanged' as const };
      // Its own review: the rule follows its own plan (the destructive tier when it deletes data, say).
      const { rule, chosen } = ruleFromPlans(deps, p, [outcome.plan]);
      const t = await transition(deps, p.id, { type: 'parts_planned', outcomes: [outcome], rule, chosen }, p.requester);
      if (!t.ok) return t.current ?? p;
      p = t.after;
      if (outcome.status === 'planned') p = await postLaterPlan(deps, p, index);
    } catch (err) {
      if (err instanceof LeaseLost) throw err;
      return fail(planFailure(deps, p, err));
    }
  }
  return p;
}

/** The later plan in the thread, with its buttons while it waits; recorded so its message is kept up to date. */
async function postLaterPlan(deps: Deps, p: Promotion, index: number): Promise<Promotion> {
  if (!p.messageTs) return p;
  const view = renderLaterPart(deps, p, index);
  try {
    const { ts } = await deps.slack.post({
      channel: p.channel,
      thread_ts: p.messageTs,
      ...view,
    });
    const t = await transition(deps, p.id, { type: 'part_posted', index, ts });
    if (t.ok) p = t.after;
  } catch (err) {
    deps.log.error('posting a later plan', { err, promotionId: p.id });
  }
  void refreshSummaryQuietly(deps, p);
  if (p.state === 'approved') {
    await audit(
      deps,
      p,
      'bot',
      `executing without approval (${p.kind === 'rollback' ? 'rollback' : 'approvals'}.required: 0)`,
    );
  }
  return p;
}
