// The one path an operation takes from request to summary, shared by promotion, rollback and recovery:
// open (lease, stage lock, record), plan (change set, waited for and classified), publish (summary with its
// buttons, recorded before anything can run). Any failure ends the operation through its end effects, so the
// requester is told, the change set deleted and the lock given back, whatever failed and wherever.
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { deleteChangeSet, describePlanChanges, isNoChangesReason, waitForChangeSet } from '../aws/cloudformation.js';
import { classifyAwsError, explainAwsFault, isAwsError } from '../aws/errors.js';
import type { StageConfig } from '../config.js';
import { planBuilder } from '../domain/classify.js';
import { isTerminal, type PromotionEvent } from '../domain/promotion.js';
import { chooseRule } from '../domain/risk.js';
import type { Plan, Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import { slackErrorCode } from '../slack/port.js';
import { BLOCK_ID, renderPromotionMessage } from '../slack/views/summary.js';
import {
  accessOf,
  audit,
  type Deps,
  forOperation,
  type LockHolder,
  type Reply,
  ruleOf,
  stageOf,
  transition,
} from './deps.js';
import { drive } from './execute.js';
import { runEndEffects } from './finish.js';
import { type Lease, LeaseLost, takeLease } from './lease.js';
import { releaseLocks, takeLock } from './locks.js';
import { tellReviewers } from './reviewer-dms.js';
import { shareChangeList } from './summary-message.js';

/** A change set name: [a-zA-Z][-a-zA-Z0-9]*, ≤ 128, unique per promotion. */
export function changeSetName(kind: string, service: string, from: string | undefined, to: string, id: string): string {
  const raw = [kind, service, from, 'to', to, id].filter(Boolean).join('-');
  return raw
    .replace(/[^-a-zA-Z0-9]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 128);
}

/** What a new operation records; the rest (ID, version, state, times) is filled in by openOperation. */
export type OperationDraft = Omit<Promotion, 'id' | 'version' | 'state' | 'createdAt' | 'updatedAt' | 'approvals'>;

export interface Opened {
  p: Promotion;
  lease: Lease;
}

/**
 * Opens an operation: its lease first (so the sweeper never mistakes it for an abandoned one), then the stage
 * lock (a refusal naming the holder goes to `reply`), then its record. Gives back what it took on any failure.
 */
export async function openOperation(
  outer: Deps,
  draft: OperationDraft,
  stage: StageConfig,
  opts: { lock: boolean; reply: Reply },
): Promise<Opened | undefined> {
  const id = outer.newId();
  const deps = forOperation(outer, id);
  const lease = await takeLease(deps, id);
  if (!lease) throw new Error(`opening operation ${id}: its lease is taken`);
  let holder: string | undefined;
  try {
    if (opts.lock) {
      const rule = draft.kind === 'rollback' ? stage.rollback : stage.approvals;
      const who: Omit<LockHolder, 'since' | 'stage'> = {
        promotionId: id,
        user: draft.requester,
        service: draft.service,
        kind: draft.kind === 'rollback' ? 'rollback' : 'promotion',
      };
      holder = await takeLock(deps, stage, who, opts.reply, deps.timing.planningTimeoutMs + rule.expiresAfterMs);
      if (!holder) {
        await lease.release();
        return undefined;
      }
    }
    const at = deps.now().toISOString();
    const p: Promotion = { ...draft, id, version: 1, state: 'planning', createdAt: at, updatedAt: at, approvals: [] };
    await deps.store.createPromotion(p, { active: true, ttlMs: deps.timing.retentionMs });
    await audit(
      deps,
      p,
      draft.requester,
      draft.kind === 'rollback' ? `rollback requested (${draft.mode ?? 'changeset'})` : 'requested',
      {
        from: draft.from,
        to: draft.to,
      },
    );
    crashPoint('after-lock');
    return { p, lease };
  } catch (err) {
    if (holder) await releaseLocks(deps, stage, holder).catch(() => undefined);
    await lease.release();
    throw err;
  }
}

/** Ends an operation (a terminal event) and does its end effects under the lease we hold. */
export async function endOperation(
  outer: Deps,
  opened: Opened,
  event: PromotionEvent,
  reply?: Reply,
): Promise<undefined> {
  const deps = forOperation(outer, opened.p.id);
  await transition(deps, opened.p.id, event);
  try {
    await runEndEffects(deps, opened.p.id, opened.lease, reply);
  } catch (err) {
    // Our lease went (another replica took over, or we are shutting down): whoever holds it, or the sweeper,
    // does the end effects; they are recorded with the final state.
    if (!(err instanceof LeaseLost)) throw err;
    deps.log.warn('leaving the end effects to the sweeper', { reason: err.message });
  }
  return undefined;
}

/** Why planning failed, in words for the person (AWS faults become instructions; the cause goes to the log). */
export function planFailure(deps: Deps, p: Promotion, err: unknown): string {
  deps.log.error('planning an operation', { err, promotionId: p.id });
  return isAwsError(err) ? explainAwsFault(classifyAwsError(err)) : (err as Error).message;
}

/**
 * Deletes a change set no operation records (so no end effect would delete it). CloudFormation refuses to
 * delete one still being created (InvalidChangeSetStatus), so it waits for it to settle first.
 */
export async function discardChangeSet(deps: Deps, cfn: CloudFormationClient, arn: string): Promise<void> {
  try {
    await waitForChangeSet(cfn, arn, { sleep: deps.sleep });
    await deleteChangeSet(cfn, arn);
  } catch (err) {
    deps.log.warn('deleting a change set no operation records', { err, changeSetArn: arn });
  }
}

/**
 * Plans the change set `create` makes for an opened operation, then publishes its summary. Ends the
 * operation (telling the requester why) when there is nothing to do or anything fails. Gives its lease back
 * at the end; a plan that needs no approval then starts at once.
 */
export async function planAndPublish(
  outer: Deps,
  opened: Opened,
  create: (changeSetName: string) => Promise<{ arn: string; name: string } | { refusal: string }>,
  nothingMessage: string,
  reply: Reply,
): Promise<Promotion | undefined> {
  const { p, lease } = opened;
  const deps = forOperation(outer, p.id);
  let published: Promotion | undefined;
  try {
    const stage = deps.config.services[p.service]!.stages.find((s) => s.name === p.to)!;
    const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
    // The name is recorded before CloudFormation is asked, so a plan interrupted before the answer still
    // deletes its change set.
    const name = changeSetName(p.kind, p.service, p.from, p.to, p.id);
    const requested = await transition(deps, p.id, { type: 'changeset_requested', name });
    if (!requested.ok)
      return await endOperation(deps, opened, { type: 'plan_failed', reason: 'ended while planning' }, reply);
    const creating = performance.now();
    const cs = await create(name);
    if ('refusal' in cs) return await endOperation(deps, opened, { type: 'plan_failed', reason: cs.refusal }, reply);
    const recorded = await transition(deps, p.id, { type: 'changeset_created', changeSet: cs }).catch(async (err) => {
      // Not recorded, so no end effect would delete it.
      await discardChangeSet(deps, cfn, cs.arn);
      throw err;
    });
    if (!recorded.ok) {
      // Ended meanwhile (superseded by a rollback): the change set is not needed.
      await discardChangeSet(deps, cfn, cs.arn);
      return await endOperation(deps, opened, { type: 'plan_failed', reason: 'ended while planning' }, reply);
    }
    crashPoint('after-create-change-set');
    const described = await waitForChangeSet(cfn, cs.arn, {
      sleep: async (ms) => {
        await lease.touch();
        await deps.sleep(ms);
      },
    });
    await lease.touch();
    if (described.Status !== 'FAILED') {
      deps.metrics.changeSetCreation.observe({ kind: p.kind }, (performance.now() - creating) / 1000);
    }
    if (described.Status === 'FAILED') {
      const nothing = isNoChangesReason(described.StatusReason);
      return await endOperation(
        deps,
        opened,
        nothing
          ? { type: 'nothing_to_promote', reason: nothingMessage }
          : { type: 'plan_failed', reason: described.StatusReason ?? 'the change set failed' },
        reply,
      );
    }
    // Nested stacks' change sets too: their changes are classified like the top stack's, under their names.
    const plan = await describePlan(deps, cfn, cs.arn, p.id);
    published = await recordPlanAndPublish(deps, opened, plan, cs, reply);
    return published;
  } catch (err) {
    return await planningThrew(deps, opened, err, reply);
  } finally {
    await lease.release();
    await afterPublished(deps, published);
  }
}

/**
 * The plan of a change set and of its nested ones: each page classified as it arrives, and written ahead to the
 * promotion's record when another page follows (the store's stageChanges), so a big plan is mostly stored by the
 * time its last page arrives. Shared by single- and multi-stack planning.
 */
export async function describePlan(
  deps: Deps,
  cfn: CloudFormationClient,
  arn: string,
  promotionId: string,
  stack?: string,
): Promise<Plan> {
  const builder = planBuilder();
  await describePlanChanges(cfn, arn, stack, (page, more) => {
    const classified = builder.add(page);
    if (more) deps.store.stageChanges?.(promotionId, classified);
  });
  return builder.plan();
}

/**
 * A plan that threw: a lost lease stops quietly (the sweeper ends it); a fault while still planning ends the
 * operation (plan_failed) with the explanation; anything else is rethrown.
 */
export async function planningThrew(
  deps: Deps,
  opened: Opened,
  err: unknown,
  reply: Reply,
): Promise<Promotion | undefined> {
  const { p } = opened;
  if (err instanceof LeaseLost) {
    deps.log.warn('stopped planning', { promotionId: p.id, reason: err.message });
    return undefined;
  }
  const current = await deps.store.getPromotion(p.id).catch(() => undefined);
  if (current && !isTerminal(current.state) && current.state === 'planning') {
    return await endOperation(deps, opened, { type: 'plan_failed', reason: planFailure(deps, p, err) }, reply);
  }
  throw err;
}

/**
 * Once the planner gave its lease back: the reviewers it waits for are told directly (the last approval may
 * come meanwhile and start it; never throws, and the sweeper tells those a crash left untold); under
 * required: 0 nothing waits, and it runs now (recorded as such) under a lease of its own.
 */
export async function afterPublished(deps: Deps, published: Promotion | undefined): Promise<void> {
  if (published?.state === 'awaiting_approval') await tellReviewers(deps, published);
  if (published?.state === 'approved') {
    await audit(
      deps,
      published,
      'bot',
      `executing without approval (${published.kind === 'rollback' ? 'rollback' : 'approvals'}.required: 0)`,
    );
    void drive(deps, published.id);
  }
}

/**
 * Records the plan (awaiting approval, or approved under required: 0) and publishes the summary. Used
 * directly by recovery operations, which have no change set.
 */
export async function recordPlanAndPublish(
  outer: Deps,
  opened: Opened,
  plan: Plan,
  changeSet: { arn: string; name: string } | undefined,
  reply: Reply,
): Promise<Promotion | undefined> {
  const deps = forOperation(outer, opened.p.id);
  // The rule is chosen from the plan: its destructive tier when the plan deletes or replaces data or changes
  // permissions (domain/risk.ts), recorded with the plan so the review and the summary use it.
  const stage = stageOf(deps, opened.p);
  const chosen = stage ? chooseRule(opened.p.kind === 'rollback' ? stage.rollback : stage.approvals, plan) : undefined;
  const rule = ruleOf(deps, { ...opened.p, rule: chosen });
  const planned = await transition(
    deps,
    opened.p.id,
    { type: 'planned', changeSet, plan, rule, chosen },
    opened.p.requester,
  );
  if (planned.ok && chosen?.tier === 'destructive') {
    await audit(deps, planned.after, 'bot', 'destructive approval rule', {
      required: chosen.required,
      because: chosen.because,
    });
  }
  if (!planned.ok) {
    // Ended while planning (superseded): its end effects clean up.
    await runEndEffects(deps, opened.p.id, opened.lease, reply);
    return undefined;
  }
  return publish(deps, opened, planned.after, reply);
}

const RECORD_ATTEMPTS = 3;

/**
 * Posts the summary (with its buttons) and records where it is. Until it is recorded nothing runs; if it
 * cannot be recorded the message is withdrawn, and the sweeper ends the operation.
 */
export async function publish(deps: Deps, opened: Opened, p: Promotion, reply: Reply): Promise<Promotion | undefined> {
  const view = renderPromotionMessage({ promotion: p, rule: ruleOf(deps, p), now: deps.now() });
  let ts: string;
  try {
    ts = (await deps.slack.post({ channel: p.channel, text: view.text, blocks: view.blocks })).ts;
  } catch (err) {
    const code = slackErrorCode(err);
    deps.log.error('posting summary', { err, promotionId: p.id });
    const reason =
      code === 'not_in_channel' || code === 'channel_not_found'
        ? 'I am not in this channel: invite me (/invite @promote-bot) and run the command again.'
        : `Posting the summary failed (${code ?? (err as Error).message}); nothing was changed.`;
    return endOperation(deps, opened, { type: 'cancel', user: 'bot', force: true, reason }, reply);
  }
  crashPoint('after-summary-post');
  for (let attempt = 1; ; attempt++) {
    try {
      await opened.lease.touch();
      const posted = await transition(deps, p.id, { type: 'posted', ts });
      if (!posted.ok) {
        // Ended meanwhile: the summary shows that state, and its end effects run.
        await runEndEffects(deps, p.id, opened.lease, reply);
        return undefined;
      }
      p = posted.after;
      crashPoint('after-summary-recorded');
      break;
    } catch (err) {
      if (err instanceof LeaseLost || attempt >= RECORD_ATTEMPTS) {
        deps.log.error('recording the summary; withdrawing it', { err, promotionId: p.id });
        await deps.slack
          .delete({ channel: p.channel, ts })
          .catch((e) => deps.log.warn('withdrawing the summary', { err: e, promotionId: p.id }));
        throw err;
      }
      await deps.sleep(250 * attempt);
    }
  }
  // When the summary could not show every change, the full list goes in the thread.
  if (view.blocks.some((b) => b.block_id === BLOCK_ID.leftOut)) await shareChangeList(deps, p, ts);
  return p;
}
