// Button clicks on a summary: Approve, Reject, Cancel, Show all changes.
// Who clicked is always the signed payload's user.id; the button carries only the promotion ID.
import {
  approvalsMissing,
  approversToRecheck,
  type ClickPlace,
  droppedApprovals,
  isTerminal,
  misplacedClick,
} from '../domain/promotion.js';
import type { Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import { renderDroppedApprovals } from '../slack/views/approvals.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { renderRejectReasonModal } from '../slack/views/reject-reason.js';
import { reviewerCheck } from './approvers.js';
import { audit, type Deps, type Reply, type Transition, transition } from './deps.js';
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

/** The operation behind a button, or a reply saying why the click does nothing (unknown, or clicked elsewhere). */
async function clicked(
  deps: Deps,
  id: string,
  user: string,
  at: ClickPlace,
  reply: Reply,
): Promise<Promotion | undefined> {
  let p = await deps.store.getPromotion(id);
  if (!p) return void (await reply('This promotion is no longer known.'));
  p = await adoptSummary(deps, p, at);
  const misplaced = misplacedClick(p, at);
  if (!misplaced) return p;
  await audit(deps, p, user, 'refused a button clicked elsewhere', {
    channel: at.channel,
    messageTs: at.messageTs,
    threadTs: at.threadTs,
  });
  await reply(renderRefusal(misplaced));
  return undefined;
}

/**
 * A summary that reached the channel when the bot died before recording it (or the store failed then) has live
 * buttons but no record of where it is. The first click on it, in the operation's own channel and on a message
 * (not a thread reply), tells where: Slack signs the payload, and only the bot's own message carries this
 * operation's buttons. The summary is then recorded, so its buttons work, or, when the operation has ended
 * meanwhile, the message is brought up to date and its buttons go.
 */
async function adoptSummary(deps: Deps, p: Promotion, at: ClickPlace): Promise<Promotion> {
  if (p.messageTs || !at.messageTs || at.threadTs || at.channel !== p.channel) return p;
  const t = await transition(deps, p.id, { type: 'posted', ts: at.messageTs });
  if (!t.ok) return p;
  await audit(deps, t.after, 'bot', 'summary found from a click', { messageTs: at.messageTs });
  if (isTerminal(t.after.state)) await refreshSummaryQuietly(deps, t.after);
  return t.after;
}

/** A click that found the approvals changed while the approvers were looked up again is decided afresh. */
const APPROVE_ATTEMPTS = 3;

export async function approve(
  deps: Deps,
  id: string,
  user: string,
  at: ClickPlace,
  reply: Reply,
  opts: { skipStuck?: boolean } = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await clicked(deps, id, user, at, reply);
    if (!current) return;
    // The cached answer is a hint; a click that would complete the quorum looks every approver up again,
    // against the rule as it is now (the config may have changed, a group lost a member).
    const { rule, isReviewer } = await reviewerCheck(deps, current, user);
    const toCheck =
      current.state === 'awaiting_approval' && isReviewer ? approversToRecheck(current, user, rule) : undefined;
    const recheck = toCheck
      ? { checked: toCheck, valid: await deps.reviewers.stillReviewers(toCheck, rule.reviewers) }
      : undefined;
    const event = {
      type: 'approve' as const,
      user,
      isReviewer,
      rule,
      skip: opts.skipStuck,
      ...(recheck ? { recheck } : {}),
    };
    const t = await transition(deps, id, event, user);
    if (!t.ok && t.refusal.code === 'reviewers_changed' && attempt < APPROVE_ATTEMPTS) continue;
    if (!t.ok) return reply(renderRefusal(t.refusal));
    const dropped = droppedApprovals(t.before, t.after);
    if (dropped.length) {
      await audit(deps, t.after, user, 'approvals dropped', { users: dropped, reason: 'no longer a reviewer' });
    }
    const droppedText = renderDroppedApprovals(dropped, t.after.service, t.after.to);
    crashPoint(t.after.state === 'approved' ? 'after-last-approval' : 'after-approval');
    if (t.after.state === 'approved') {
      // The last approval: start at once (an incident's cancel is one API call after the click); the
      // summary update is queued behind it.
      void drive(deps, id);
      void refreshSummaryQuietly(deps, t.after);
      if (droppedText) await reply(droppedText);
    } else {
      // The approver hears at once; the summary follows when Slack's chat.update budget allows (with many
      // deployments at once, up to about a minute later).
      void refreshSummaryQuietly(deps, t.after);
      const missing = approvalsMissing(t.after, rule);
      const approved = `Approved. ${missing} more approval${missing === 1 ? '' : 's'} needed.`;
      await reply(droppedText ? `${droppedText}\n${approved}` : approved);
    }
    return;
  }
}

/**
 * Any named reviewer's Reject ends the promotion at once; then, when Slack gave a trigger, a modal asks
 * for an optional reason, which is added to the decision when submitted.
 */
export async function reject(
  deps: Deps,
  id: string,
  user: string,
  at: ClickPlace,
  reply: Reply,
  triggerId?: string,
): Promise<void> {
  const current = await clicked(deps, id, user, at, reply);
  if (!current) return;
  const {
    rule: { reviewers },
    isReviewer,
  } = await reviewerCheck(deps, current, user);
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

export async function cancel(deps: Deps, id: string, user: string, at: ClickPlace, reply: Reply): Promise<void> {
  if (!(await clicked(deps, id, user, at, reply))) return;
  const t = await transition(deps, id, { type: 'cancel', user }, user);
  if (!t.ok) return reply(renderRefusal(t.refusal));
  await closePending(deps, t);
}

export async function showChanges(deps: Deps, id: string, user: string, at: ClickPlace, reply: Reply): Promise<void> {
  const p = await clicked(deps, id, user, at, reply);
  if (!p) return;
  if (!p.plan || !p.messageTs) return reply('There is no change list for this promotion.');
  await shareChangeList(deps, p, p.messageTs);
}
