// Multi-stack operations: where each stack stands (summary and final reply), the note when one stack is done and
// the next starts, and the plan of a stack planned after the earlier ones ran (posted in the thread, with its
// own buttons).
import { isTerminal } from '../../domain/promotion.js';
import type { ApprovalRule, Promotion, StackPart } from '../../domain/types.js';
import { code, escapeMrkdwn, plainText, truncate, truncateEscaped } from '../escape.js';
import { actions, context, LIMITS, plural, section, type View } from './blocks.js';
import { formatCounts } from './change-list.js';
import { reasonText } from './status.js';

export const STACKS_BLOCK_ID = 'promotion_stacks';
export const LATER_PLAN_BLOCK_ID = {
  head: 'stack_plan_head',
  changes: 'stack_plan_changes',
  approval: 'stack_plan_approval',
  actions: 'stack_plan_actions',
} as const;

const stackCode = (s: string) => code(truncate(s, 128));

/** Where one stack stands, as one mrkdwn line (escaped). */
export function partLine(p: Promotion, part: StackPart, index: number): string {
  const n = `${index + 1}. ${stackCode(part.stack)}`;
  const counts = part.plan ? formatCounts(part.plan.counts) : '';
  const changes = counts ? ` (${counts})` : '';
  const ended = isTerminal(p.state);
  const ex = part.execution;
  switch (part.status) {
    case 'unchanged':
      return `${n}: no changes, skipped`;
    case 'succeeded':
      return `${n}: ✅ ${escapeMrkdwn(ex?.finalStackStatus ?? 'UPDATE_COMPLETE')}${changes}`;
    case 'failed': {
      if (ex && !ex.confirmed) return `${n}: ⛔ not executed: ${reasonText(part.reason ?? ex.reason, 300)}`;
      const status = ex?.finalStackStatus ? escapeMrkdwn(ex.finalStackStatus) : 'failed';
      const why = part.reason ?? ex?.reason;
      return `${n}: ❌ ${status}${why ? `: ${reasonText(why, 300)}` : ''}`;
    }
    case 'executing':
      return ended ? `${n}: ❌ ended while running` : `${n}: ⏳ running now${changes}`;
    case 'deferred':
      return ended
        ? `${n}: ⛔ not executed (it was to be planned after the stacks before it ran)`
        : `${n}: planned after the stacks before it are applied, then reviewed on its own (CloudFormation: ${reasonText(part.reason, 300)})`;
    case 'planned': {
      if (ended) return `${n}: ⛔ not executed${part.changeSet ? ' (its change set was deleted)' : ''}`;
      const here = index === p.current && (p.state === 'approved' || p.state === 'awaiting_approval');
      return `${n}: ${counts || 'planned'}${here && p.state === 'approved' ? ' · next to run' : ''}`;
    }
  }
}

/** Every stack of the operation in run order, one line each. */
export function renderPartLines(p: Promotion): string {
  const parts = p.parts ?? [];
  const order = p.kind === 'rollback' ? 'in this order (reverse of the stage’s list)' : 'in this order';
  const head = `*Stacks* — ${plural(parts.length, 'stack')}, deployed ${order}, each after the one before reached UPDATE_COMPLETE:`;
  return truncateEscaped([head, ...parts.map((x, i) => partLine(p, x, i))].join('\n'), 2900);
}

/** Said in the thread when a stack is done and the operation moves on to the next. */
export function renderStackDone(p: Promotion): string {
  const parts = p.parts ?? [];
  const done = [...parts]
    .slice(0, p.current)
    .reverse()
    .find((x) => x.status === 'succeeded');
  const next = p.current !== undefined ? parts[p.current] : undefined;
  const head = done ? `✅ ${stackCode(done.stack)} reached UPDATE_COMPLETE.` : '';
  if (!next) return head;
  const position = `stack ${(p.current ?? 0) + 1} of ${parts.length}`;
  const what =
    p.state === 'planning'
      ? `Now planning ${stackCode(next.stack)} (${position}), which could not be planned before: its plan will be posted here for approval.`
      : `Next: ${stackCode(next.stack)} (${position}).`;
  return `${head} ${what}`.trim();
}

/**
 * The plan of a stack planned after the stacks before it ran, posted in the thread: its changes and, while it
 * waits, the approval rule and the buttons (the same as the summary's, for this plan only).
 */
export function renderLaterPlan(
  p: Promotion,
  index: number,
  rule: ApprovalRule,
  now: Date,
  render: {
    changes: (p: Promotion, part: StackPart) => string;
    approval: (p: Promotion, rule: ApprovalRule, now: Date) => string;
    buttons: (p: Promotion) => Parameters<typeof actions>[0];
  },
): View {
  const part = p.parts![index]!;
  const waiting = p.state === 'awaiting_approval' && p.current === index;
  const position = `stack ${index + 1} of ${p.parts!.length}`;
  const head = `*Plan of ${stackCode(part.stack)}* (${position}), made after the stacks before it were applied. It needs its own approval: nothing of it runs before.${
    part.plan ? `\n${formatCounts(part.plan.counts)}` : ''
  }`;
  const blocks = [section(head, LATER_PLAN_BLOCK_ID.head)];
  const changes = render.changes(p, part);
  if (changes) blocks.push(section(truncateEscaped(changes, LIMITS.sectionText), LATER_PLAN_BLOCK_ID.changes));
  if (waiting) {
    blocks.push(section(truncateEscaped(render.approval(p, rule, now), 2000), LATER_PLAN_BLOCK_ID.approval));
    blocks.push(actions(render.buttons(p), LATER_PLAN_BLOCK_ID.actions));
  } else {
    blocks.push(context(partLine(p, part, index), LATER_PLAN_BLOCK_ID.approval));
  }
  const text = truncate(
    plainText(`Plan of ${part.stack} (${position}): ${waiting ? 'needs approval' : part.status}`),
    LIMITS.fallbackText,
  );
  return { text: escapeMrkdwn(text), blocks };
}
