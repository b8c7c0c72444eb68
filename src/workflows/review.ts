// Button clicks on a summary: Approve, Reject, Cancel, Show all changes.
// Who clicked is always the signed payload's user.id; the button carries only the promotion ID.
import { deleteChangeSet } from '../aws/cloudformation.js';
import { approvalsMissing } from '../domain/promotion.js';
import type { Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import { mentionGroup, mentionUser } from '../slack/escape.js';
import { renderRejectReasonModal } from '../slack/views/reject-reason.js';
import { accessOf, audit, type Deps, type Reply, ruleOf, stageOf, type Transition, transition } from './deps.js';
import { drive, refreshSummary } from './execute.js';
import { releaseLock } from './locks.js';
import { shareChangeList } from './plan.js';

function notReviewerText(deps: Deps, p: Promotion): string {
  const rule = ruleOf(deps, p);
  const who = rule.reviewers.map((r) => (r.startsWith('S') ? mentionGroup(r) : mentionUser(r))).join(', ');
  return `You are not a reviewer for ${p.service}/${p.to}: ask ${who || 'a reviewer'}.`;
}

/** Ends a pending promotion: its change set is deleted, its lock released, its message updated. */
export async function closePending(deps: Deps, t: Extract<Transition, { ok: true }>): Promise<void> {
  const p = t.after;
  const stage = stageOf(deps, p);
  if (stage && p.changeSet) {
    const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
    await deleteChangeSet(cfn, p.changeSet.arn).catch((err) =>
      deps.log.warn('deleting change set', { err, promotionId: p.id }),
    );
  }
  await releaseLock(deps, p);
  await refreshSummary(deps, p);
}

export async function approve(
  deps: Deps,
  id: string,
  user: string,
  reply: Reply,
  opts: { skipStuck?: boolean } = {},
): Promise<void> {
  const current = await deps.store.getPromotion(id);
  if (!current) return reply('This promotion is no longer known.');
  const rule = ruleOf(deps, current);
  const isReviewer = await deps.reviewers.isReviewer(user, rule.reviewers);
  // continue_rollback: the "skip" button skips exactly the resources shown as stuck.
  const skip = opts.skipStuck ? (current.stuck ?? []).map((r) => r.logicalId) : undefined;
  const t = await transition(deps, id, { type: 'approve', user, isReviewer, rule, skip }, user);
  if (!t.ok) {
    return reply(t.refusal === 'not a reviewer' && t.current ? notReviewerText(deps, t.current) : t.refusal);
  }
  crashPoint(t.after.state === 'approved' ? 'after-last-approval' : 'after-approval');
  if (t.after.state === 'approved') {
    // The last approval: start at once (an incident's cancel is one API call after the click); the
    // summary update is queued behind it.
    void drive(deps, id);
    void refreshSummary(deps, t.after);
  } else {
    await refreshSummary(deps, t.after);
    const missing = approvalsMissing(t.after, rule);
    await reply(`Approved. ${missing} more approval${missing === 1 ? '' : 's'} needed.`);
  }
}

/**
 * Any named reviewer's Reject ends the promotion at once; then, when Slack gave a trigger, a modal asks
 * for an optional reason, which is added to the decision when submitted.
 */
export async function reject(deps: Deps, id: string, user: string, reply: Reply, triggerId?: string): Promise<void> {
  const current = await deps.store.getPromotion(id);
  if (!current) return reply('This promotion is no longer known.');
  const isReviewer = await deps.reviewers.isReviewer(user, ruleOf(deps, current).reviewers);
  const t = await transition(deps, id, { type: 'reject', user, isReviewer }, user);
  if (!t.ok) return reply(t.refusal === 'not a reviewer' && t.current ? notReviewerText(deps, t.current) : t.refusal);
  // A trigger_id is valid for 3 s: open the modal before the slower clean-up.
  if (triggerId) {
    await deps.slack
      .openModal(triggerId, renderRejectReasonModal(t.after))
      .catch((err) => deps.log.warn('asking for a rejection reason', { err, promotionId: id }));
  }
  await closePending(deps, t);
}

/** The optional reason given after a rejection. */
export async function addRejectReason(
  deps: Deps,
  id: string,
  user: string,
  reason: string,
  reply: Reply,
): Promise<void> {
  const text = reason.trim();
  if (!text) return;
  const t = await transition(deps, id, { type: 'reason', user, reason: text }, user);
  if (!t.ok) return reply(t.refusal);
  await audit(deps, t.after, user, 'rejection reason', { reason: text });
  await refreshSummary(deps, t.after);
}

export async function cancel(deps: Deps, id: string, user: string, reply: Reply): Promise<void> {
  const t = await transition(deps, id, { type: 'cancel', user }, user);
  if (!t.ok) return reply(t.refusal);
  await closePending(deps, t);
}

export async function showChanges(deps: Deps, id: string, reply: Reply): Promise<void> {
  const p = await deps.store.getPromotion(id);
  if (!p?.plan || !p.messageTs) return reply('There is no change list for this promotion.');
  await shareChangeList(deps, p, p.messageTs);
}
