// Reviewers whose approval an operation needs are told directly: a direct message with a link to its summary,
// once per operation and person, unless they turned these messages off in the App Home tab.
//
// Once, across restarts and replicas: before sending, a marker per operation and person is set with SET NX
// (KEYS.reviewerDm). Whoever sets it sends; nobody else ever does. A crash between the marker and the send loses
// that message (at most once, never twice). When everyone was considered, KEYS.reviewersTold records it; until
// then the sweeper runs this again (after a crash before or during the sends), and the markers skip whoever
// was handled.
//
// Posting to a user ID opens the app's direct conversation with that person (the Messages tab of its App Home),
// with chat:write only (docs.slack.dev/reference/methods/chat.postMessage, `channel`). A message that cannot be
// sent is logged and counted; it never affects the operation.
import type { Promotion } from '../domain/types.js';
import { renderReviewerDm } from '../slack/views/reviewer-dm.js';
import { KEYS } from '../store/keys.js';
import { approversNeeded } from './approvers.js';
import { type Deps, forOperation, ruleOf } from './deps.js';
import { messageLink } from './locks.js';

/** What a person chose in their App Home. */
export interface UserPrefs {
  /** false: no direct messages about approvals (default: on) */
  directMessages?: boolean;
}

/** At most this many people are messaged about one operation (a large user group is told in the channel). */
export const MAX_REVIEWER_DMS = 50;

export async function userPrefs(deps: Deps, user: string): Promise<UserPrefs> {
  return (await deps.store.getJson<UserPrefs>(KEYS.userPrefs(user))) ?? {};
}

export async function setDirectMessages(deps: Deps, user: string, on: boolean): Promise<void> {
  const prefs = await userPrefs(deps, user);
  await deps.store.setJson(KEYS.userPrefs(user), { ...prefs, directMessages: on });
}

/**
 * Sends each reviewer the operation `seen` waits for their direct message, once. Does nothing unless it still
 * waits for approval and its summary is recorded (the message links to it). Never throws: every failure is
 * logged and counted.
 */
export async function tellReviewers(outer: Deps, seen: Promotion): Promise<void> {
  if (seen.state !== 'awaiting_approval' || !seen.messageTs) return;
  const deps = forOperation(outer, seen.id);
  try {
    if (await deps.store.getJson<boolean>(KEYS.reviewersTold(seen.id))) return;
    // As it is now: approvals may have come in (or it ended) since `seen` was read.
    const p = await deps.store.getPromotion(seen.id);
    if (p?.state !== 'awaiting_approval' || !p.messageTs) return;
    const rule = ruleOf(deps, p);
    const needed = await approversNeeded(deps, p);
    if (needed.length > MAX_REVIEWER_DMS) {
      deps.log.warn('too many reviewers to message directly', { reviewers: needed.length, max: MAX_REVIEWER_DMS });
    }
    const text = renderReviewerDm(p, rule, messageLink(p.channel, p.messageTs), deps.now());
    for (const user of needed.slice(0, MAX_REVIEWER_DMS)) {
      if ((await userPrefs(deps, user)).directMessages === false) {
        deps.metrics.reviewerDms.inc({ result: 'opted_out' });
        continue;
      }
      const claim = await deps.store.acquire(KEYS.reviewerDm(p.id, user), deps.replicaId, deps.timing.retentionMs);
      if (!claim.acquired) continue; // sent (or being sent) by this or another replica
      try {
        await deps.slack.post({ channel: user, text });
        deps.metrics.reviewerDms.inc({ result: 'sent' });
      } catch (err) {
        deps.metrics.reviewerDms.inc({ result: 'failed' });
        deps.log.warn('sending a reviewer a direct message', { err, user });
      }
    }
    await deps.store.setJson(KEYS.reviewersTold(p.id), true, deps.timing.retentionMs);
  } catch (err) {
    deps.log.warn('telling reviewers directly', { err });
  }
}
