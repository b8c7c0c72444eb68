// Button clicks on a summary: Approve, Reject, Cancel, Show all changes.
// Who clicked is always the signed payload's user.id; the button carries only the promotion ID.
import { approvalsMissing } from '../domain/promotion.js';
import { crashPoint } from '../faults.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { renderRejectReasonModal } from '../slack/views/reject-reason.js';
import { audit, type Deps, type Reply, ruleOf, type Transition, transition } from './deps.js';
import { drive } from './execute.js';
import { finishOperation } from './finish.js';
import { refreshSummaryQuietly, shareChangeList } from './summary-message.js';

/**
 * After a pending operation ended (rejected, cancelled, expired, superseded): its end effects delete its
 * change set, release its lock and update its message. When another replica holds it (still planning), that
 * replica or the sweeper does them.
 */
export async function closePending(deps: Deps, t: Extract<Transition, { ok: true }>): Promise<void> {
  await finishOperation(deps, t.after.id);
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
  const t = await transition(deps, id, { type: 'approve', user, isReviewer, rule, skip: opts.skipStuck }, user);
  if (!t.ok) return reply(renderRefusal(t.refusal));
  crashPoint(t.after.state === 'approved' ? 'after-last-approval' : 'after-approval');
  if (t.after.state === 'approved') {
    // The last approval: start at once (an incident's cancel is one API call after the click); the
    // summary update is queued behind it.
    void drive(deps, id);
    void refreshSummaryQuietly(deps, t.after);
  } else {
    await refreshSummaryQuietly(deps, t.after);
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
  const { reviewers } = ruleOf(deps, current);
  const isReviewer = await deps.reviewers.isReviewer(user, reviewers);
  const t = await transition(deps, id, { type: 'reject', user, isReviewer, reviewers }, user);
  if (!t.ok) return reply(renderRefusal(t.refusal));
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
  if (!t.ok) return reply(renderRefusal(t.refusal));
  await audit(deps, t.after, user, 'rejection reason', { reason: text });
  await refreshSummaryQuietly(deps, t.after);
}

export async function cancel(deps: Deps, id: string, user: string, reply: Reply): Promise<void> {
  const t = await transition(deps, id, { type: 'cancel', user }, user);
  if (!t.ok) return reply(renderRefusal(t.refusal));
  await closePending(deps, t);
}

export async function showChanges(deps: Deps, id: string, reply: Reply): Promise<void> {
  const p = await deps.store.getPromotion(id);
  if (!p?.plan || !p.messageTs) return reply('There is no change list for this promotion.');
  await shareChangeList(deps, p, p.messageTs);
}
