// The promotion state machine. Pure: (promotion, event) → next promotion, or a refusal (a value, see
// ./refusals.ts) for the person.
// Storage makes each step atomic (compare-and-set on `version`); a lost race re-reads and re-decides.
import { addMilliseconds } from 'date-fns';
import type { Refusal } from './refusals.js';
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
  if (after.state === 'succeeded') wanted.add('record_release');
  // Executing a change set deletes it (and the stack's other change sets); one never executed is ours to delete.
  if ((after.changeSet || after.changeSetRequested) && !after.execution?.confirmed) wanted.add('delete_change_set');
  if (after.messageTs) {
    wanted.add('summary');
    // The thread gets a final word when something was (or was about to be) run.
    if (after.execution || before.state === 'approved') wanted.add('final_reply');
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
export function step(p: Promotion, event: PromotionEvent, now: Date): Step {
  const r = decide(p, event, now);
  if (!r.ok) return r;
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
