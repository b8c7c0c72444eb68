// The channel summary of an operation (updated in place) and replies in its thread.

import { topStacksOf } from '../domain/stacks.js';
import type { Promotion } from '../domain/types.js';
import { unescapeSlack } from '../slack/escape.js';
import { renderChangeList, reviewEntries } from '../slack/views/change-list.js';
import { renderLaterPlan } from '../slack/views/stacks.js';
import { approvalButtons, approvalText, renderPromotionMessage } from '../slack/views/summary.js';
import { KEYS } from '../store/keys.js';
import { type Deps, ruleOf } from './deps.js';

/**
 * How long a summary update may wait for Slack's chat.update budget before it goes ahead of executions'
 * progress updates that are due. With many deployments at once the workspace's budget (about 50 a minute) cannot
 * carry every summary and every progress message at once: the approver already has an answer, the thread
 * shows the execution, so a thread that has shown nothing for progressNoteAfter goes first, and a summary waits
 * up to about this long for it.
 */
const SUMMARY_UPDATE_PATIENCE_MS = 60_000;

/** Summary updates queued per operation and replica (tests run several in one process), so they reach Slack in order. */
const queues = new Map<string, Promise<void>>();

/**
 * Re-renders the channel summary of an operation from its stored state. The state is read when the request
 * is about to leave (after any wait behind earlier updates, and again after a wait for Slack's budget), so a delayed update never shows an older state than
 * the one stored; an update whose stored version was already shown (by this or another replica) is skipped.
 * The returned promise settles when this update is done; callers on a hot path need not wait for it.
 */
export function refreshSummary(deps: Deps, p: Promotion): Promise<void> {
  if (!p.messageTs) return Promise.resolve();
  const shownKey = KEYS.summaryShown(p.id);
  const due = Date.now() + SUMMARY_UPDATE_PATIENCE_MS;
  const run = async () => {
    let shownVersion = 0;
    let shownPromotion: Promotion | undefined;
    // Rendered again if the update waited for Slack's budget: what is sent (if anything) is the last rendering.
    await deps.slack.updateLatest(
      { channel: p.channel, ts: p.messageTs! },
      async () => {
        shownVersion = 0;
        shownPromotion = undefined;
        const latest = (await deps.store.getPromotion(p.id)) ?? p;
        const shown = (await deps.store.getJson<number>(shownKey)) ?? 0;
        if (latest.version <= shown) return undefined;
        shownVersion = latest.version;
        shownPromotion = latest;
        return renderPromotionMessage({ promotion: latest, rule: ruleOf(deps, latest), now: deps.now() });
      },
      { due: () => due },
    );
    if (shownVersion) await deps.store.setJson(shownKey, shownVersion, deps.timing.retentionMs);
    // Multi-stack: the plans posted in the thread for their own approval follow the summary (buttons go once decided).
    for (const [i, part] of (shownPromotion?.parts ?? []).entries()) {
      if (!part.planTs || !shownPromotion) continue;
      await deps.slack.update({ channel: p.channel, ts: part.planTs, ...renderLaterPart(deps, shownPromotion, i) });
    }
  };
  const key = `${deps.replicaId}:${p.id}`;
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(run);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.finally(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** Like refreshSummary, for callers that only log a failure (the sweeper redoes what matters). */
export function refreshSummaryQuietly(deps: Deps, p: Promotion): Promise<void> {
  return refreshSummary(deps, p).catch((err) => deps.log.warn('updating summary', { err, promotionId: p.id }));
}

/** The message of a stack's plan made after the stacks before it ran (see renderLaterPlan), as it stands now. */
export function renderLaterPart(deps: Deps, p: Promotion, index: number) {
  return renderLaterPlan(p, index, ruleOf(deps, p), deps.now(), {
    changes: (_p, part) =>
      part.plan
        ? reviewEntries(part.plan.changes, { maxProperties: 3, valueChars: 60, maxChars: 1500 }, [
            part.stack,
          ]).entries.join('\n')
        : '',
    approval: approvalText,
    buttons: approvalButtons,
  });
}

/** A reply in the operation's thread; undefined (logged) when it could not be posted. */
export async function threadReply(
  deps: Deps,
  p: Promotion,
  text: string,
  broadcast = false,
): Promise<string | undefined> {
  if (!p.messageTs) return undefined;
  try {
    const r = await deps.slack.post({ channel: p.channel, thread_ts: p.messageTs, text, reply_broadcast: broadcast });
    return r.ts;
  } catch (err) {
    deps.log.error('replying in thread', { err, promotionId: p.id });
    return undefined;
  }
}

/** Posts the full change list in the thread: as messages when short, as a file when long. */
export async function shareChangeList(deps: Deps, p: Promotion, threadTs: string): Promise<void> {
  if (!p.plan) return;
  const list = renderChangeList(p.plan, topStacksOf(p));
  try {
    if (list.length <= 3_500) {
      await deps.slack.post({ channel: p.channel, thread_ts: threadTs, text: list });
    } else {
      await deps.slack.upload({
        channel: p.channel,
        thread_ts: threadTs,
        filename: `${p.service}-${p.to}-changes.txt`,
        title: `All ${p.plan.counts.total} changes: ${p.service} → ${p.to}`,
        // A file is not mrkdwn: no mention can fire from it, so it carries the plain text.
        content: unescapeSlack(list),
        comment: `All ${p.plan.counts.total} changes in this change set.`,
      });
    }
  } catch (err) {
    deps.log.error('sharing the change list', { err, promotionId: p.id });
  }
}
