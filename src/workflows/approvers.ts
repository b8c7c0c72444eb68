// Who may approve an operation, asked in one place: the buttons (review.ts), the App Home list of what waits for
// someone (home.ts) and the direct messages to reviewers (reviewer-dms.ts) all go through reviewerCheck, so a
// change to which rule applies (ruleOf) changes all three alike.
import type { ApprovalRule, Promotion } from '../domain/types.js';
import { type Deps, ruleOf } from './deps.js';

/** The approval rule that applies to `p` now, and whether `user` is one of its reviewers (cached group members). */
export async function reviewerCheck(
  deps: Deps,
  p: Promotion,
  user: string,
): Promise<{ rule: ApprovalRule; isReviewer: boolean }> {
  const rule = ruleOf(deps, p);
  return { rule, isReviewer: await deps.reviewers.isReviewer(user, rule.reviewers) };
}

/**
 * Whether `user`'s approval of `p` could count: it waits for approval, `user` is a reviewer, is not its requester
 * (unless the rule allows self-approval) and has not approved it yet. The state machine (domain/promotion.ts)
 * decides a click on the same terms.
 */
export function couldApprove(p: Promotion, user: string, rule: ApprovalRule, isReviewer: boolean): boolean {
  return (
    p.state === 'awaiting_approval' &&
    isReviewer &&
    (user !== p.requester || rule.allowSelfApproval) &&
    !p.approvals.some((a) => a.user === user)
  );
}

/** Whether `p` waits for `user`'s approval (see couldApprove). */
export async function waitsFor(deps: Deps, p: Promotion, user: string): Promise<boolean> {
  if (p.state !== 'awaiting_approval') return false;
  const { rule, isReviewer } = await reviewerCheck(deps, p, user);
  return couldApprove(p, user, rule, isReviewer);
}

/**
 * Everyone whose approval `p` waits for: the rule's reviewers with their user groups expanded (src/reviewers.ts),
 * less its requester (unless self-approval is allowed) and those who approved already.
 */
export async function approversNeeded(deps: Deps, p: Promotion): Promise<string[]> {
  if (p.state !== 'awaiting_approval') return [];
  const rule = ruleOf(deps, p);
  const everyone = await deps.reviewers.members(rule.reviewers);
  return everyone.filter((u) => couldApprove(p, u, rule, true));
}
