// The execution progress reply (one thread message updated in place) and the final outcome reply.
import type { Promotion } from '../../domain/types.js';
import { code, escapeMrkdwn, mentionUser, truncate, truncateEscaped } from '../escape.js';
import { context, LIMITS, plural, section, type View } from './blocks.js';
import { renderPartLines, STACKS_BLOCK_ID } from './stacks.js';
import { executionOutcomeLine, reasonText, renderFailedResource, stateLine } from './status.js';
import { alarmLabel, clockTime, formatDuration } from './time.js';

export { renderFailedResource } from './status.js';
export { formatDuration } from './time.js';

export interface ProgressInput {
  done: number;
  total: number;
  inProgress: string[];
  failed: number;
  elapsedMs: number;
  stackStatus?: string;
  /** Every resource is updated and CloudFormation watches these alarms (ARNs) until `until` (ISO) */
  watching?: { alarms: string[]; until: string };
  /** Multi-stack: the stack running and its place, e.g. `shop-app-prod` (stack 2 of 2) */
  stack?: { name: string; position: number; of: number };
}

const IN_PROGRESS_SHOWN = 3;

/** "Executing… 12/40 resources · 1m 05s · in progress: A, B, C (+3)" (escaped mrkdwn). */
export function renderProgress(p: ProgressInput): View {
  const line = progressLine(p);
  return {
    text: truncateEscaped(line, LIMITS.fallbackText),
    blocks: [section(line, 'promotion_progress')],
  };
}

/** The block of a progress note: a reply of its own, never taken for the progress message. */
export const PROGRESS_NOTE_BLOCK_ID = 'promotion_progress_note';

/**
 * A progress note: the progress line as a small reply of its own, posted when the progress message cannot be
 * updated for a while (Slack's chat.update budget is shared by every deployment, chat.postMessage's is per
 * channel). "⏳ Executing… 30/60 resources · 45s · in progress: A, B"
 */
export function renderProgressNote(p: ProgressInput): View {
  const line = `⏳ ${progressLine(p)}`;
  return {
    text: truncateEscaped(line, LIMITS.fallbackText),
    blocks: [context(line, PROGRESS_NOTE_BLOCK_ID)],
  };
}

/**
 * The note of a start that takes a while (its checks wait for the account's AWS budget, say): said once, when
 * the approved operation has not started progressNoteAfter after its approval.
 */
export function renderStartingNote(): View {
  const line = '⏳ Starting… checking that nothing changed since the review, then executing';
  return { text: line, blocks: [context(line, PROGRESS_NOTE_BLOCK_ID)] };
}

function progressLine(p: ProgressInput): string {
  // CloudFormation keeps going after the first failure only to roll back: say so.
  const verb = p.stackStatus?.includes('ROLLBACK') ? 'Rolling back…' : 'Executing…';
  const on = p.stack ? ` ${code(truncate(p.stack.name, 128))} (stack ${p.stack.position} of ${p.stack.of})` : '';
  const parts = [`${verb}${on} ${p.done}/${p.total} resources`, formatDuration(p.elapsedMs)];
  if (p.inProgress.length) {
    const shown = p.inProgress.slice(0, IN_PROGRESS_SHOWN).map((id) => escapeMrkdwn(truncate(id, 80)));
    const more = p.inProgress.length - shown.length;
    parts.push(`in progress: ${shown.join(', ')}${more > 0 ? ` (+${more})` : ''}`);
  }
  if (p.failed > 0) parts.push(`❗ ${p.failed} failed`);
  if (p.watching) parts.push(watchingText(p.watching));
  if (p.stackStatus) parts.push(escapeMrkdwn(truncate(p.stackStatus, 60)));
  return parts.join(' · ');
}

/** "👀 watching alarms `api-5xx`, `api-latency` until 14:32 UTC" (the monitoring time, before the cleanup). */
function watchingText(w: { alarms: string[]; until: string }): string {
  const until = clockTime(w.until);
  if (w.alarms.length === 0) return `⏸ waiting until ${until} before cleaning up (monitorFor)`;
  const names = w.alarms.slice(0, 5).map((a) => code(truncate(alarmLabel(a), 80)));
  return `👀 watching ${w.alarms.length === 1 ? 'alarm' : 'alarms'} ${names.join(', ')} until ${until}`;
}

const FAILED_SHOWN = 10;

/** The block of the final reply: how the bot finds its own final reply in a thread after a crash. */
export const FINAL_BLOCK_ID = 'promotion_final';

/**
 * The outcome of an execution: "✅ Promoted api to prod in 3m 12s", "❌ Failed: … CloudFormation
 * rolled back cleanly (UPDATE_ROLLBACK_COMPLETE)" or "🚨 Rollback FAILED (UPDATE_ROLLBACK_FAILED): …",
 * with the failed resources listed. Uses p.execution; `now` ends a still-open execution.
 */
export function renderFinal(p: Promotion, now: Date): View {
  const ended = p.state === 'succeeded' || p.state === 'failed' || p.state === 'rolled_back';
  const headline = ended ? executionOutcomeLine(p, now) : stateLine(p, now);
  const blocks = [section(headline, FINAL_BLOCK_ID)];
  const failed = p.execution?.failedResources ?? [];
  if (failed.length) {
    const lines = failed.slice(0, FAILED_SHOWN).map(renderFailedResource);
    if (failed.length > FAILED_SHOWN) lines.push(`_…and ${plural(failed.length - FAILED_SHOWN, 'more resource')}_`);
    blocks.push(section(lines.join('\n'), 'promotion_failed_resources'));
  }
  // Several stacks: what ran, what was skipped, and what was not executed.
  if (p.parts) blocks.push(section(renderPartLines(p), STACKS_BLOCK_ID));
  if (p.execution?.finalStackStatus?.endsWith('ROLLBACK_FAILED')) {
    blocks.push(
      context(
        'The stack cannot be updated until the rollback is continued. Resources whose rollback failed may need fixing by hand first.',
        'promotion_final_hint',
      ),
    );
  }
  return { text: truncateEscaped(headline, LIMITS.fallbackText), blocks };
}

/**
 * What the requester is told when an operation ended before its summary was in the channel (planning failed,
 * nothing to promote, the summary could not be posted): one line, escaped.
 */
export function renderEndNotice(p: Promotion, now: Date): string {
  if (p.state === 'plan_failed') {
    const what =
      p.kind === 'rollback'
        ? `the rollback of ${escapeMrkdwn(p.service)}/${escapeMrkdwn(p.to)}`
        : `${escapeMrkdwn(p.service)} → ${escapeMrkdwn(p.to)}`;
    return `❌ Planning ${what} failed: ${reasonText(p.stateReason) || 'no reason given'}`;
  }
  if (p.state === 'nothing_to_promote') return reasonText(p.stateReason) || `${escapeMrkdwn(p.to)} has no changes.`;
  return stateLine(p, now);
}

/** Said in a running promotion's thread when a rollback cancels its update. */
export function renderCancelNotice(cancel: Promotion): string {
  const by = cancel.approvals.length
    ? `, approved by ${cancel.approvals.map((a) => mentionUser(a.user)).join(', ')}`
    : ' (rollback.required: 0)';
  return `🛑 Update cancelled by ${mentionUser(cancel.requester)}'s rollback${by}: CloudFormation is rolling this promotion back.`;
}
