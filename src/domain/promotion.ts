// The promotion state machine. Pure: (promotion, event) → next promotion, or a refusal (a value, see
// ./refusals.ts) for the person.
// Storage makes each step atomic (compare-and-set on `version`); a lost race re-reads and re-decides.
// The function's own module: the package root loads all of date-fns (about 10 MB of memory).
import { addMilliseconds } from 'date-fns/addMilliseconds';
import type { Refusal } from './refusals.js';
import {
  anyPartRan,
  changeSetsToDelete,
  combinePlans,
  loadPart,
  nextPart,
  type PartOutcome,
  syncCurrent,
} from './stacks.js';
import type { ApprovalRule, ChosenRule, EndEffect, FailedResource, Plan, Promotion, PromotionState } from './types.js';
import { END_EFFECT_ORDER, TERMINAL_STATES } from './types.js';

export type PromotionEvent =
  | { type: 'posted'; ts: string }
  | { type: 'sourced'; source: NonNullable<Promotion['source']> }
  /** `rule`: the rule the plan needs (its tier chosen from the plan), `chosen`: that choice, recorded */
  | { type: 'planned'; changeSet?: { arn: string; name: string }; plan: Plan; rule: ApprovalRule; chosen?: ChosenRule }
  | { type: 'nothing_to_promote'; reason: string }
  | { type: 'plan_failed'; reason: string }
  /**
   * `skip`: continue_rollback only, this approver chose to skip the resources stuck in rollback.
   * `recheck`: who was looked up again just now (`checked`, see approversToRecheck) and who of them may still
   * approve under the current rule (`valid`). A click that completes the quorum needs it for every approval.
   */
  | {
      type: 'approve';
      user: string;
      isReviewer: boolean;
      rule: ApprovalRule;
      skip?: boolean;
      recheck?: { checked: string[]; valid: string[] };
    }
  /** `reviewers` (the rule's) only say who to ask when a non-reviewer clicks */
  | { type: 'reject'; user: string; isReviewer: boolean; reason?: string; reviewers?: string[] }
  | { type: 'cancel'; user: string; reason?: string; force?: boolean }
  | { type: 'reason'; user: string; reason: string }
  | { type: 'expire' }
  | { type: 'stale'; reason: string }
  | { type: 'execute'; token: string }
  | { type: 'execution_confirmed' }
  | { type: 'progress'; progressTs?: string; lastEventId?: string; failed?: FailedResource[] }
  | { type: 'finished'; stackStatus: string; reason?: string; alarm?: string }
  | { type: 'changeset_requested'; name: string }
  /**
   * Multi-stack, while planning: a part's source build, change set name (recorded before it is asked for) or
   * change set (recorded as soon as CloudFormation returns it); the current part's go in the working copy.
   */
  | {
      type: 'part_recorded';
      index: number;
      source?: NonNullable<Promotion['source']>;
      changeSetRequested?: string;
      changeSet?: { arn: string; name: string };
    }
  /** Multi-stack: what planning gave for each part planned now; the next part to run is reviewed */
  | { type: 'parts_planned'; outcomes: PartOutcome[]; rule: ApprovalRule; chosen?: ChosenRule }
  /** Multi-stack: where a later part's plan was posted in the thread (with its buttons) */
  | { type: 'part_posted'; index: number; ts: string }
  | { type: 'changeset_created'; changeSet: { arn: string; name: string } }
  | { type: 'start_retry'; reason: string }
  | { type: 'start_failed'; reason: string }
  | { type: 'effect_done'; effect: EndEffect; ts?: string };

export type Step = { ok: true; promotion: Promotion } | { ok: false; refusal: Refusal };

export function isTerminal(state: PromotionState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** States a promotion can still be cancelled from (by its requester, a rollback, or expiry). */
export function isPending(state: PromotionState): boolean {
  return state === 'planning' || state === 'awaiting_approval';
}

function refuse(refusal: Refusal): Step {
  return { ok: false, refusal };
}

const STATE_WORDS: Record<PromotionState, string> = {
  planning: 'still being planned',
  awaiting_approval: 'waiting for approvals',
  approved: 'approved and about to run',
  executing: 'already running',
  succeeded: 'already finished',
  failed: 'already finished (failed)',
  rolled_back: 'already finished (rolled back)',
  rejected: 'already rejected',
  expired: 'expired',
  cancelled: 'cancelled',
  nothing_to_promote: 'finished: there was nothing to promote',
  plan_failed: 'finished: its plan failed',
};

export function describeState(state: PromotionState): string {
  return STATE_WORDS[state];
}

function notReviewer(p: Promotion, reviewers: string[]): Step {
  return refuse({ code: 'not_reviewer', service: p.service, stage: p.to, reviewers });
}

/** Approvals from distinct reviewers still needed. */
export function approvalsMissing(p: Promotion, rule: ApprovalRule): number {
  return Math.max(0, rule.required - p.approvals.length);
}

/**
 * Whose approvals must be looked up afresh before `user`'s click is decided: everyone's (theirs included) when
 * the click would complete the quorum, nobody's (undefined) otherwise or when `user` approved already.
 */
export function approversToRecheck(p: Promotion, user: string, rule: ApprovalRule): string[] | undefined {
  const users = p.approvals.map((a) => a.user);
  if (users.includes(user)) return undefined; // refused as a duplicate anyway
  return users.length + 1 >= rule.required ? [...users, user] : undefined;
}

/** Where a button was clicked, from the signed block_actions payload. */
export interface ClickPlace {
  channel?: string;
  /** The message the button is on (container.message_ts) */
  messageTs?: string;
  /** That message's thread, when it is a reply */
  threadTs?: string;
  /**
   * 'home': the button is in the clicker's own App Home tab (a view only the bot publishes, only to that person),
   * which has no channel or message
   */
  surface?: 'home';
}

/**
 * A button counts only where the bot posted the operation: on its summary (same channel and message), on a
 * reply in that summary's thread, or in the clicker's App Home once the summary is recorded (so the decision
 * shows where everyone reviews it). Anything else is refused (a copied or forged payload) and changes nothing.
 */
export function misplacedClick(p: Promotion, at: ClickPlace): Refusal | undefined {
  if (at.surface === 'home') return p.messageTs !== undefined ? undefined : { code: 'wrong_place', kind: p.kind };
  const here =
    p.messageTs !== undefined &&
    at.channel === p.channel &&
    (at.messageTs === p.messageTs || at.threadTs === p.messageTs);
  return here ? undefined : { code: 'wrong_place', kind: p.kind };
}

/** Approvals recorded in `before` that `after` no longer has (dropped at a re-check). */
export function droppedApprovals(before: Promotion, after: Promotion): string[] {
  const kept = new Set(after.approvals.map((a) => a.user));
  return before.approvals.map((a) => a.user).filter((u) => !kept.has(u));
}

/**
 * What must happen now that `after` has ended (coming from `before`), in order. Pure: the same promotion always
 * gets the same list.
 */
export function endEffects(before: Promotion, after: Promotion): EndEffect[] {
  const wanted = new Set<EndEffect>(['release_lock']);
  if (after.kind === 'rollback' && (after.state === 'succeeded' || after.state === 'rolled_back')) wanted.add('hold');
  // A multi-stack operation that ended after some of its stacks ran changed the stage all the same.
  if (after.state === 'succeeded' || anyPartRan(after)) wanted.add('record_release');
  // Executing a change set deletes it (and the stack's other change sets); one never executed is ours to delete.
  if (changeSetsToDelete(after).length > 0) wanted.add('delete_change_set');
  if (after.messageTs) {
    wanted.add('summary');
    // The thread gets a final word when something was (or was about to be) run.
    if (after.execution || before.state === 'approved' || anyPartRan(after)) wanted.add('final_reply');
  } else {
    wanted.add('notify_requester');
  }
  return END_EFFECT_ORDER.filter((e) => wanted.has(e));
}

/**
 * Applies one event at time `now`. Never throws for an expected refusal (wrong state, not a reviewer,
 * self-approval, duplicate approval): it returns it as a value. The transition that ends an operation also
 * records the effects its end needs (endEffects), in the same step.
 */
/**
 * A stack of a multi-stack operation reached UPDATE_COMPLETE: the next one runs (its plan was reviewed with
 * the others), or is planned now (it could not be before) and reviewed on its own; after the last, it succeeded.
 */
function nextStack(p: Promotion, event: Extract<PromotionEvent, { type: 'finished' }>, now: Date): Step {
  const at = now.toISOString();
  const done = syncCurrent({
    ...p,
    execution: { ...p.execution!, endedAt: at, finalStackStatus: event.stackStatus },
  });
  const parts = done.parts!.map((x, i) => (i === p.current ? { ...x, approvals: p.approvals } : x));
  const after = nextPart(parts, p.current! + 1);
  const base = { ...done, parts, version: p.version + 1, updatedAt: at };
  if (after === undefined) {
    return { ok: true, promotion: { ...base, state: 'succeeded', stateReason: event.reason } };
  }
  const loaded = loadPart(base, after);
  if (parts[after]!.status === 'planned') {
    return { ok: true, promotion: { ...base, ...loaded, state: 'approved' } };
  }
  // Planned now, reviewed on its own: its approvals start afresh.
  return {
    ok: true,
    promotion: { ...base, ...loaded, state: 'planning', approvals: [], expiresAt: undefined, approvedAt: undefined },
  };
}

export function step(p: Promotion, event: PromotionEvent, now: Date): Step {
  const decided = decide(p, event, now);
  if (!decided.ok) return decided;
  // Multi-stack: the working copy goes back into the current part, so the parts always tell the whole story.
  const r: Step = { ok: true, promotion: syncCurrent(decided.promotion) };
  const next = r.promotion;
  if (isTerminal(next.state) && !isTerminal(p.state))
    return { ok: true, promotion: { ...next, pendingEffects: endEffects(p, next) } };
  if (next.state === 'approved' && p.state !== 'approved')
    return { ok: true, promotion: { ...next, approvedAt: next.updatedAt } };
  return r;
}

function decide(p: Promotion, event: PromotionEvent, now: Date): Step {
  const at = now.toISOString();
  const next = (patch: Partial<Promotion>): Step => ({
    ok: true,
    promotion: { ...p, ...patch, version: p.version + 1, updatedAt: at },
  });
  const wrongState = refuse({ code: 'wrong_state', kind: p.kind, state: p.state });
  const expired = p.expiresAt !== undefined && now.getTime() >= Date.parse(p.expiresAt);

  switch (event.type) {
    case 'posted':
      // Where the summary is, recorded once: a second, different message is never adopted.
      if (p.messageTs !== undefined && p.messageTs !== event.ts) return wrongState;
      return next({ messageTs: event.ts });

    case 'sourced':
      // What reviewers approve includes the source build: recorded before the change set is made.
      if (p.state !== 'planning') return wrongState;
      return next({ source: event.source });

    case 'planned': {
      if (p.state !== 'planning') return wrongState;
      const expiresAt = addMilliseconds(now, event.rule.expiresAfterMs).toISOString();
      const base = {
        changeSet: event.changeSet,
        plan: event.plan,
        expiresAt,
        ...(event.chosen ? { rule: event.chosen } : {}),
      };
      // required: 0 — nothing to wait for; recorded as approved by nobody.
      return next({ ...base, state: event.rule.required === 0 ? 'approved' : 'awaiting_approval' });
    }

    case 'nothing_to_promote':
    case 'plan_failed':
      if (p.state !== 'planning') return wrongState;
      return next({ state: event.type, stateReason: event.reason });

    case 'approve': {
      if (p.state !== 'awaiting_approval') return wrongState;
      if (expired) return refuse({ code: 'expired', kind: p.kind });
      const { recheck } = event;
      const isReviewer = recheck?.checked.includes(event.user) ? recheck.valid.includes(event.user) : event.isReviewer;
      if (!isReviewer) return notReviewer(p, event.rule.reviewers);
      if (event.user === p.requester && !event.rule.allowSelfApproval) {
        return refuse({ code: 'self_approval', kind: p.kind });
      }
      if (p.approvals.some((a) => a.user === event.user)) return refuse({ code: 'already_approved' });
      // Approvals whose approver was looked up again and no longer may approve (removed from the config or
      // from a user group) no longer count.
      const kept = recheck
        ? p.approvals.filter((a) => !recheck.checked.includes(a.user) || recheck.valid.includes(a.user))
        : p.approvals;
      const approvals = [...kept, { user: event.user, at, ...(event.skip ? { skip: true } : {}) }];
      const reached = approvals.length >= event.rule.required;
      // The quorum is reached only on approvals all checked afresh: one that arrived meanwhile was not.
      if (reached && !approvals.every((a) => recheck?.checked.includes(a.user))) {
        return refuse({ code: 'reviewers_changed' });
      }
      if (!reached) return next({ approvals });
      // continue_rollback: the stuck resources are skipped only when every approver chose to skip them.
      const skip = approvals.every((a) => a.skip) ? (p.stuck ?? []).map((r) => r.logicalId) : [];
      return next({ approvals, state: 'approved', skip: skip.length ? skip : undefined });
    }

    case 'reject':
      if (p.state !== 'awaiting_approval') return wrongState;
      if (!event.isReviewer) return notReviewer(p, event.reviewers ?? []);
      return next({ state: 'rejected', decision: { user: event.user, at, reason: event.reason } });

    case 'reason':
      // The person who rejected may say why afterwards (the rejection itself never waits for it).
      if (p.state !== 'rejected' || p.decision?.user !== event.user) {
        return refuse({ code: 'not_rejecter' });
      }
      return next({ decision: { ...p.decision, reason: event.reason } });

    case 'cancel':
      if (!isPending(p.state) && !(event.force && p.state === 'approved')) {
        return refuse({ code: 'not_cancellable', kind: p.kind, state: p.state });
      }
      if (!event.force && event.user !== p.requester) {
        return refuse({ code: 'not_requester', requester: p.requester, kind: p.kind });
      }
      return next({ state: 'cancelled', decision: { user: event.user, at, reason: event.reason } });

    case 'expire':
      if (!isPending(p.state)) return wrongState;
      if (!expired) return refuse({ code: 'not_expired' });
      return next({ state: 'expired', stateReason: 'No decision before the approval deadline.' });

    case 'stale':
      if (p.state !== 'approved') return wrongState;
      return next({ state: 'cancelled', stateReason: event.reason });

    case 'execute':
      if (p.state !== 'approved') return wrongState;
      return next({ state: 'executing', execution: { token: event.token, startedAt: at, failedResources: [] } });

    case 'execution_confirmed':
      if (p.state !== 'executing' || !p.execution) return wrongState;
      return next({ execution: { ...p.execution, confirmed: true } });

    case 'progress': {
      if (p.state !== 'executing' || !p.execution) return wrongState;
      const ex = p.execution;
      return next({
        execution: {
          ...ex,
          progressTs: event.progressTs ?? ex.progressTs,
          lastEventId: event.lastEventId ?? ex.lastEventId,
          failedResources: [...ex.failedResources, ...(event.failed ?? [])],
        },
      });
    }

    case 'finished': {
      if (p.state !== 'executing' || !p.execution) return wrongState;
      if (p.parts && p.current !== undefined && event.stackStatus === 'UPDATE_COMPLETE' && !p.mode) {
        return nextStack(p, event, now);
      }
      // Cancelling an update or continuing a rollback succeeds when the stack has rolled back.
      const recovery = p.mode === 'cancel_update' || p.mode === 'continue_rollback';
      const success = recovery ? 'UPDATE_ROLLBACK_COMPLETE' : 'UPDATE_COMPLETE';
      const state: PromotionState =
        event.stackStatus === success
          ? 'succeeded'
          : event.stackStatus === 'UPDATE_ROLLBACK_COMPLETE'
            ? 'rolled_back'
            : 'failed';
      return next({
        state,
        stateReason: event.reason,
        execution: {
          ...p.execution,
          endedAt: at,
          finalStackStatus: event.stackStatus,
          reason: event.reason,
          ...(event.alarm ? { alarm: event.alarm } : {}),
        },
      });
    }

    case 'changeset_requested':
      if (p.state !== 'planning') return wrongState;
      return next({ changeSetRequested: event.name });

    case 'changeset_created':
      // Recorded as soon as CloudFormation returns it, so an interrupted plan can delete it.
      if (p.state !== 'planning') return wrongState;
      return next({ changeSet: event.changeSet });

    case 'part_recorded': {
      if (p.state !== 'planning' || !p.parts?.[event.index]) return wrongState;
      const { type: _type, index: _index, ...patch } = event;
      if (event.index === p.current) return next(patch);
      return next({ parts: p.parts.map((x, i) => (i === event.index ? { ...x, ...patch } : x)) });
    }

    case 'parts_planned': {
      if (p.state !== 'planning' || !p.parts) return wrongState;
      const parts = p.parts.map((x, i) => {
        const o = event.outcomes.find((y) => y.index === i);
        if (!o) return x;
        // A deferred part's failed change set is deleted by the planner: it is planned afresh later.
        const cleared = o.status === 'deferred' ? { changeSet: undefined, changeSetRequested: undefined } : {};
        return { ...x, ...cleared, status: o.status, plan: o.plan, reason: o.reason };
      });
      const merged = { ...p, parts, plan: combinePlans(parts) };
      const at = nextPart(parts, p.current ?? 0);
      if (at === undefined) {
        // Every part planned now is unchanged. Ran before (a later round): done; otherwise nothing to do.
        return anyPartRan(merged)
          ? next({ parts, plan: merged.plan, state: 'succeeded' })
          : next({ parts, plan: merged.plan, state: 'nothing_to_promote' });
      }
      const loaded = loadPart(merged, at);
      const tier = event.chosen ? { rule: event.chosen } : {};
      if (parts[at]!.status === 'deferred') {
        return next({ parts, plan: merged.plan, ...loaded, ...tier, state: 'planning' });
      }
      const expiresAt = addMilliseconds(now, event.rule.expiresAfterMs).toISOString();
      return next({
        parts,
        plan: merged.plan,
        ...loaded,
        ...tier,
        expiresAt,
        state: event.rule.required === 0 ? 'approved' : 'awaiting_approval',
      });
    }

    case 'part_posted':
      if (!p.parts?.[event.index]) return wrongState;
      return next({ parts: p.parts.map((x, i) => (i === event.index ? { ...x, planTs: event.ts } : x)) });

    case 'start_retry': {
      if (p.state !== 'approved' && !(p.state === 'executing' && !p.execution?.confirmed)) {
        return wrongState;
      }
      const count = (p.startAttempts?.count ?? 0) + 1;
      return next({ startAttempts: { count, lastError: event.reason, at } });
    }

    case 'start_failed':
      // A permanent fault (or the start deadline): it never ran, and never will from this plan.
      if (p.state !== 'approved' && !(p.state === 'executing' && !p.execution?.confirmed)) {
        return wrongState;
      }
      return next({
        state: 'failed',
        stateReason: event.reason,
        ...(p.execution ? { execution: { ...p.execution, endedAt: at, reason: event.reason } } : {}),
      });

    case 'effect_done': {
      if (!p.pendingEffects?.includes(event.effect)) return wrongState;
      return next({
        pendingEffects: p.pendingEffects.filter((e) => e !== event.effect),
        ...(event.effect === 'final_reply' && event.ts ? { finalTs: event.ts } : {}),
      });
    }
  }
}
