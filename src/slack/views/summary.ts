// The channel message of a promotion, for every state (it is updated in place after each decision).
// Whatever the plan's size, the message stays inside Slack's block limits: the fixed parts are
// built first, then change lines are added worst first until the text/block budget is used.

import { anyPartRan, topStacksOf } from '../../domain/stacks.js';
import type {
  ApprovalRule,
  ChosenRule,
  ClassifiedChange,
  Impact,
  Plan,
  Promotion,
  RiskKind,
  RollbackTarget,
  SourceRelease,
} from '../../domain/types.js';
import { IMPACT_ORDER } from '../../domain/types.js';
import { code, escapeMrkdwn, mention, mentionUser, plainText, truncate, truncateEscaped } from '../escape.js';
import { ACTION } from '../ids.js';
import {
  actions,
  type Button,
  blocksTextLength,
  button,
  context,
  count,
  fieldsSection,
  header,
  type KnownBlock,
  LIMITS,
  plural,
  section,
  type View,
} from './blocks.js';
import { type EntryOptions, formatCounts, reviewOrder } from './change-list.js';
import { renderPartLines, STACKS_BLOCK_ID } from './stacks.js';
import { promotionTitle, reasonText, renderFailedResource, stateLine } from './status.js';
import { alarmLabel, relative, utc } from './time.js';

export interface SummaryInput {
  promotion: Promotion;
  rule: ApprovalRule;
  now: Date;
  /** Show minor changes (log group tweaks, Lambda versions…) instead of counting them as hidden. */
  showMinor?: boolean;
}

export const BLOCK_ID = {
  header: 'promotion_header',
  caution: 'promotion_caution',
  note: 'promotion_note',
  sourceWarning: 'promotion_source_warning',
  status: 'promotion_status',
  details: 'promotion_details',
  stacks: STACKS_BLOCK_ID,
  counts: 'promotion_counts',
  changes: (i: number) => `promotion_changes_${i}`,
  leftOut: 'promotion_left_out',
  approval: 'promotion_approval',
  actions: 'promotion_actions',
  footer: 'promotion_footer',
} as const;

const ROLLBACK_CAUTION = '⚠ Rolling back re-applies an old template; data deleted since is not restored.';

/** Room kept for the "…and N more changes not shown" note. */
const NOTE_RESERVE = 250;
const REVIEWERS_SHOWN = 30;
/** The status and approval sections are capped lower so hostile config or reasons leave room for changes. */
const FIXED_SECTION_MAX = 2000;
const APPROVALS_SHOWN = 20;

/** Less detail per change when the plan is too big to show every risky change otherwise. */
const DETAIL_LEVELS: readonly EntryOptions[] = [
  { maxProperties: 3, valueChars: 60, maxChars: 1500 },
  { maxProperties: 1, valueChars: 60, maxChars: 1500 },
  { maxProperties: 0, valueChars: 60, maxChars: 1500 },
];

const RISKY: ReadonlySet<Impact> = new Set(IMPACT_ORDER.slice(0, IMPACT_ORDER.indexOf('security') + 1));

/** Renders the summary message of a promotion in its current state. */
export function renderPromotionMessage(input: SummaryInput): View {
  const { promotion: p, rule, now } = input;
  const showMinor = input.showMinor ?? false;
  const awaiting = p.state === 'awaiting_approval';

  const top: KnownBlock[] = [header(plainText(promotionTitle(p)), BLOCK_ID.header)];
  if (p.kind === 'rollback') top.push(context(ROLLBACK_CAUTION, BLOCK_ID.caution));
  top.push(section(statusText(p, now, rule), BLOCK_ID.status, FIXED_SECTION_MAX));
  const note = recoveryNote(p);
  if (note) top.push(section(note, BLOCK_ID.note, FIXED_SECTION_MAX));
  const warning = sourceWarning(p);
  if (warning) top.push(section(warning, BLOCK_ID.sourceWarning, FIXED_SECTION_MAX));
  top.push(fieldsSection(detailFields(p, now), BLOCK_ID.details));
  if (p.parts) top.push(section(renderPartLines(p), BLOCK_ID.stacks, FIXED_SECTION_MAX));
  const plan = p.plan && p.plan.changes.length > 0 ? p.plan : undefined;
  if (plan) top.push(section(countsLine(plan, showMinor), BLOCK_ID.counts));

  const bottom: KnownBlock[] = [];
  if (awaiting && laterRound(p)) {
    // A stack planned after the earlier ones ran is reviewed in the thread, where its plan is.
    const part = p.parts![p.current!]!;
    bottom.push(
      section(
        `The plan of ${code(truncate(part.stack, 128))}, made after the stacks before it ran, waits for approval in the thread: ${approvalText(p, rule, now)}`,
        BLOCK_ID.approval,
        FIXED_SECTION_MAX,
      ),
    );
  } else if (awaiting) {
    bottom.push(section(approvalText(p, rule, now), BLOCK_ID.approval, FIXED_SECTION_MAX));
    bottom.push(actions(approvalButtons(p), BLOCK_ID.actions));
  }
  bottom.push(context(footerText(p, now), BLOCK_ID.footer));

  const middle: KnownBlock[] = [];
  if (plan) {
    // Review order: with several stacks, the risky changes of all first, then each stack's (reviewEntries).
    const topStacks = topStacksOf(p);
    const order = reviewOrder(
      plan.changes.filter((c) => showMinor || c.impact !== 'minor'),
      topStacks,
    );
    const visible = order.changes;
    const packed = packChanges(order, {
      text: LIMITS.totalTextBudget - blocksTextLength([...top, ...bottom]) - NOTE_RESERVE,
      blocks: LIMITS.blocks - top.length - bottom.length - 1,
    });
    packed.sections.forEach((s, i) => {
      middle.push(section(s, BLOCK_ID.changes(i)));
    });
    const left = visible.slice(packed.shown);
    if (left.length) middle.push(section(leftOutNote(left, awaiting), BLOCK_ID.leftOut));
  }

  return { text: fallbackText(p, rule), blocks: [...top, ...middle, ...bottom] };
}

// ---------------------------------------------------------------------------------------------

/** The state line, plus who approved once the decision is made (the record stays in the channel). */
function statusText(p: Promotion, now: Date, rule: ApprovalRule): string {
  const line = stateLine(p, now, rule);
  const alreadyNamed = p.state === 'awaiting_approval' || p.state === 'approved' || p.state === 'executing';
  if (alreadyNamed || p.approvals.length === 0) return line;
  const who = p.approvals.slice(0, APPROVALS_SHOWN).map((a) => mentionUser(a.user));
  if (p.approvals.length > APPROVALS_SHOWN) who.push(`+${count(p.approvals.length - APPROVALS_SHOWN)} more`);
  return `${line}\nApproved by ${who.join(', ')}`;
}

function detailFields(p: Promotion, now: Date): string[] {
  const place = (stack: string, region: string, account?: string) =>
    [code(truncate(stack, 128)), escapeMrkdwn(truncate(region, 40)), account ? escapeMrkdwn(truncate(account, 40)) : '']
      .filter(Boolean)
      .join(' · ');
  const fields = [`*Requested by*\n${mentionUser(p.requester)}`];
  if (p.source && !p.parts) {
    const s = p.source;
    fields.push(`*${p.kind === 'rollback' ? 'Re-applies' : 'Source'}*\n${place(s.stack, s.region, s.account)}`);
    const build = [code(s.fingerprint.slice(0, 12))];
    if (s.version) build.push(`version ${code(truncate(s.version, 100))}`);
    if (s.lastUpdatedTime) {
      build.push(`${s.rolledBack ? 'last update failed' : 'updated'} ${relative(s.lastUpdatedTime, now)}`);
    }
    const release = p.from && s.release ? `\n${sourceReleaseLine(p.from, s.release, now)}` : '';
    fields.push(`*Build*\n${build.join(' · ')}${release}`);
  }
  if (p.parts) {
    // Several stacks: each one's source, target and state are in the Stacks section.
    fields.push(`*Target*\n${place(`${p.to} (${p.parts.length} stacks)`, p.target.region, p.target.account)}`);
    return fields;
  }
  fields.push(`*Target*\n${place(p.target.stack, p.target.region, p.target.account)}`);
  if (p.changeSet) fields.push(`*Change set*\n${code(truncate(p.changeSet.name, 128))}`);
  const alarms = alarmsField(p);
  if (alarms) fields.push(alarms);
  return fields;
}

const ALARMS_SHOWN = 5;
const alarmList = (arns: readonly string[]) => {
  const names = arns.slice(0, ALARMS_SHOWN).map((a) => code(truncate(alarmLabel(a), 100)));
  return arns.length > ALARMS_SHOWN ? `${names.join(', ')} +${arns.length - ALARMS_SHOWN} more` : names.join(', ');
};

/**
 * The alarms CloudFormation watches (the change set's rollback triggers) and for how long after the update,
 * or, for a rollback, the stage's alarms it deliberately does not watch (they are likely firing during the
 * incident the rollback is for, and would make CloudFormation roll the rollback itself back).
 */
function alarmsField(p: Promotion): string | undefined {
  if (p.unwatchedAlarms?.length) {
    return `*Alarms*\nnot watched: ${alarmList(p.unwatchedAlarms)} — a rollback runs while they may be firing, and CloudFormation would roll it back`;
  }
  const m = p.monitoring;
  if (!m || (m.alarms.length === 0 && m.minutes === 0)) return undefined;
  const after = m.minutes ? ` and for ${plural(m.minutes, 'minute')} after` : '';
  if (m.alarms.length === 0) return `*Monitoring*\nwaits ${plural(m.minutes, 'minute')} before cleaning up; no alarm`;
  return `*Alarms*\n${alarmList(m.alarms)}: CloudFormation rolls back if one goes to ALARM during the deploy${after}`;
}

/** "stg release `r12`, promoted from dev 2 days ago by @alice": the recorded release the source runs. */
export function sourceReleaseLine(stage: string, r: SourceRelease, now: Date): string {
  const what =
    r.kind === 'rollback' ? 'a rollback' : r.from ? `promoted from ${escapeMrkdwn(truncate(r.from, 60))}` : 'promoted';
  return `${escapeMrkdwn(truncate(stage, 60))} release ${code(truncate(r.id, 60))}, ${what} ${relative(r.at, now)} by ${mentionUser(r.requester)}`;
}

/**
 * The source's last deployment failed and was rolled back: it runs the build from before that failure, which
 * is what this promotes. Undefined when the source is not in that state.
 */
export function sourceWarning(p: Promotion): string | undefined {
  const s = p.source;
  if (p.kind !== 'promote' || !s?.rolledBack) return undefined;
  const when = s.lastUpdatedTime ? ` (it started ${utc(s.lastUpdatedTime)})` : '';
  const stage = p.from ? ` (${escapeMrkdwn(truncate(p.from, 60))})` : '';
  return `⚠ The last deployment of ${code(truncate(s.stack, 128))}${stage} failed and was rolled back${when}: this promotes the build it runs, from before that failure.`;
}

const RISK_WORDS: Record<RiskKind, string> = {
  deletes: 'deletes',
  replaces: 'replaces',
  'may-replace': 'may replace',
  permissions: 'changes permissions of',
};
const RISKY_SHOWN = 5;

/**
 * Why the destructive rule applies, e.g. "2 approvals (destructive rule): this plan deletes `OrdersTable` and
 * changes permissions of `AppRole`"; undefined under the normal rule.
 */
export function ruleReasonText(chosen: ChosenRule | undefined, rule: ApprovalRule): string | undefined {
  if (chosen?.tier !== 'destructive') return undefined;
  const parts: string[] = [];
  for (const kind of Object.keys(RISK_WORDS) as RiskKind[]) {
    const ids = chosen.because.filter((c) => c.kind === kind).map((c) => code(truncate(c.logicalId, 80)));
    if (!ids.length) continue;
    const shown = ids.slice(0, RISKY_SHOWN);
    if (ids.length > RISKY_SHOWN) shown.push(`+${count(ids.length - RISKY_SHOWN)} more`);
    parts.push(`${RISK_WORDS[kind]} ${shown.join(', ')}`);
  }
  const why = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : (parts[0] ?? '');
  return `⚠ *${plural(rule.required, 'approval')}* (destructive rule): this plan ${why}`;
}

function countsLine(plan: Plan, showMinor: boolean): string {
  const parts = [formatCounts(plan.counts)];
  const destroys = plan.changes.filter((c) => c.impact === 'destroys').length;
  const security = plan.changes.filter((c) => c.impact === 'security').length;
  if (destroys) parts.push(`⚠ *${count(destroys)} destructive*`);
  if (security) parts.push(`🔐 *${count(security)} security*`);
  if (plan.counts.minor) {
    parts.push(
      showMinor
        ? `${plural(plan.counts.minor, 'minor change')} shown`
        : `${plural(plan.counts.minor, 'minor change')} hidden`,
    );
  }
  return parts.join(' · ');
}

/**
 * Adds change entries in order (worst first) while both budgets last. Tries less detail per
 * change until every risky change (destroys … security) fits, so those are never the ones left out.
 */
function packChanges(
  order: ReturnType<typeof reviewOrder>,
  budget: { text: number; blocks: number },
): { sections: string[]; shown: number } {
  const risky = order.changes.filter((c) => RISKY.has(c.impact)).length;
  let best: { sections: string[]; shown: number } = { sections: [], shown: 0 };
  for (const level of DETAIL_LEVELS) {
    const packed = packEntries(order.changes.length, (i) => order.entry(i, level), budget);
    if (packed.shown > best.shown) best = packed;
    if (packed.shown >= risky) return packed;
  }
  return best;
}

/** Entries are formatted as they are packed (`entryAt`), so those that do not fit cost nothing. */
function packEntries(n: number, entryAt: (i: number) => string, budget: { text: number; blocks: number }) {
  const sections: string[] = [];
  let current = '';
  let used = 0;
  let shown = 0;
  for (let i = 0; i < n; i++) {
    const entry = entryAt(i);
    if (current && current.length + 1 + entry.length <= LIMITS.sectionText) {
      if (used + entry.length + 1 > budget.text) break;
      current += `\n${entry}`;
      used += entry.length + 1;
    } else {
      const blocksAfter = sections.length + (current ? 1 : 0) + 1;
      if (blocksAfter > budget.blocks || used + entry.length > budget.text) break;
      if (current) sections.push(current);
      current = entry;
      used += entry.length;
    }
    shown++;
  }
  if (current) sections.push(current);
  return { sections, shown };
}

function leftOutNote(left: readonly ClassifiedChange[], buttonShown: boolean): string {
  const how = buttonShown ? ' — press *Show all changes*' : '';
  const destroys = left.filter((c) => c.impact === 'destroys').length;
  const risky = left.filter((c) => RISKY.has(c.impact)).length;
  const warn = risky ? ` (including ⚠ ${count(risky)} risky${destroys ? `, ${count(destroys)} destructive` : ''})` : '';
  return `…and ${plural(left.length, 'more change')} not shown${how}${warn}`;
}

/** A multi-stack operation reviewing a stack planned after earlier ones ran (its plan is in the thread). */
export function laterRound(p: Promotion): boolean {
  return p.parts !== undefined && p.current !== undefined && anyPartRan(p);
}

export function approvalText(p: Promotion, rule: ApprovalRule, now: Date): string {
  const reviewers = rule.reviewers.slice(0, REVIEWERS_SHOWN).map((r) => mention(truncate(r, 40)));
  if (rule.reviewers.length > REVIEWERS_SHOWN) reviewers.push(`+${rule.reviewers.length - REVIEWERS_SHOWN} more`);
  const why = ruleReasonText(p.rule, rule);
  const lines = [
    ...(why ? [why] : []),
    `Needs ${plural(rule.required, 'approval')}${reviewers.length ? ` from ${reviewers.join(', ')}` : ''}`,
  ];
  for (const a of p.approvals.slice(0, APPROVALS_SHOWN)) {
    lines.push(
      `✅ ${mentionUser(a.user)} approved ${relative(a.at, now)}${a.skip ? ', skipping the stuck resources' : ''}`,
    );
  }
  if (p.approvals.length > APPROVALS_SHOWN) lines.push(`…and ${count(p.approvals.length - APPROVALS_SHOWN)} more`);
  const tail = [`Still needed: ${Math.max(0, rule.required - p.approvals.length)}`];
  if (p.expiresAt) tail.push(`expires ${relative(p.expiresAt, now)} (${utc(p.expiresAt)})`);
  lines.push(tail.join(' · '));
  if (!rule.allowSelfApproval) {
    lines.push(`_The requester cannot approve their own ${p.kind === 'rollback' ? 'rollback' : 'promotion'}._`);
  }
  return lines.join('\n');
}

/** What a rollback will do and what reviewers should know (drift, stuck resources), escaped. */
function recoveryNote(p: Promotion): string | undefined {
  if (p.kind !== 'rollback') return undefined;
  const lines: string[] = [];
  const target = p.rollbackTarget ? rollbackTargetLine(p.rollbackTarget) : undefined;
  if (target) lines.push(target);
  if (p.mode === 'cancel_update') {
    lines.push(
      `An update of ${code(truncate(p.target.stack, 128))} is running. Approving cancels it (CancelUpdateStack); CloudFormation then rolls back to the last stable state by itself.`,
    );
  } else if (p.mode === 'continue_rollback') {
    lines.push(
      `${code(truncate(p.target.stack, 128))} is stuck in UPDATE_ROLLBACK_FAILED. Approving continues the rollback (ContinueUpdateRollback).`,
    );
    const stuck = p.stuck ?? [];
    if (stuck.length) {
      lines.push('Resources that failed to roll back:');
      for (const r of stuck.slice(0, 15)) lines.push(renderFailedResource(r));
      if (stuck.length > 15) lines.push(`…and ${count(stuck.length - 15)} more`);
      lines.push(
        '_Skipping leaves them as they are now: CloudFormation marks them rolled back without changing them. Fix them by hand afterwards._',
      );
    }
    if (p.skip?.length) lines.push(`Will skip: ${p.skip.map((s) => code(truncate(s, 120))).join(', ')}`);
  }
  if (p.stateReason && (p.state === 'awaiting_approval' || p.state === 'approved' || p.state === 'executing')) {
    lines.push(`⚠ ${reasonText(p.stateReason)}`);
  }
  return lines.length ? truncateEscaped(lines.join('\n'), FIXED_SECTION_MAX) : undefined;
}

/** Which release runs now and which one the rollback puts back. */
export function rollbackTargetLine(t: RollbackTarget): string | undefined {
  const release = (id: string) => `release ${code(truncate(id, 60))}`;
  if (t.reapplies) {
    const now = t.runsNow ? release(t.runsNow) : 'no release the bot recorded (all rolled back)';
    return `*Puts back* ${release(t.reapplies)} (named) · *runs now* ${now}`;
  }
  if (t.undoes) {
    const back = t.putsBack ? release(t.putsBack) : `what ran before ${release(t.undoes)}`;
    return `*Undoes* ${release(t.undoes)}, which runs now · *puts back* ${back}`;
  }
  return undefined;
}

/**
 * Approve, asking to confirm the data loss when the plan deletes or replaces data-bearing resources: the same
 * button on the summary and in the App Home tab.
 */
export function approveButton(p: Promotion, o: { text?: string; style?: 'primary' | 'danger' } = {}): Button {
  const destroys = p.plan?.changes.filter((c) => c.impact === 'destroys').length ?? 0;
  return button({
    text: o.text ?? 'Approve',
    actionId: ACTION.approve,
    value: p.id,
    style: o.style ?? 'primary',
    ...(destroys
      ? {
          confirm: {
            title: 'Approve data loss?',
            text: plainText(
              `This deletes or replaces ${plural(destroys, 'data-bearing resource')}: their data will be lost. Approve "${promotionTitle(p)}" anyway?`,
            ),
            confirm: 'Approve',
            deny: 'Back',
            style: 'danger' as const,
          },
        }
      : {}),
  });
}

/** Reject, confirmed ("Reject this promotion?"): the same button on the summary and in the App Home tab. */
export function rejectButton(p: Promotion, noun: 'promotion' | 'rollback'): Button {
  return button({
    text: 'Reject',
    actionId: ACTION.reject,
    value: p.id,
    style: 'danger',
    confirm: {
      title: `Reject this ${noun}?`,
      text: plainText(`Reject "${promotionTitle(p)}"? The change set will not be executed.`),
      confirm: 'Reject',
      deny: 'Back',
      style: 'danger',
    },
  });
}

export function approvalButtons(p: Promotion): Button[] {
  if (p.mode === 'cancel_update' || p.mode === 'continue_rollback') return recoveryButtons(p);
  return [
    approveButton(p),
    rejectButton(p, 'promotion'),
    button({
      text: 'Cancel',
      actionId: ACTION.cancel,
      value: p.id,
      confirm: {
        title: 'Cancel this promotion?',
        text: 'Only the requester can cancel. The change set will be deleted.',
        confirm: 'Cancel it',
        deny: 'Back',
      },
    }),
    button({ text: 'Show all changes', actionId: ACTION.showChanges, value: p.id }),
  ];
}

function recoveryButtons(p: Promotion): Button[] {
  const stuck = p.stuck?.length ?? 0;
  const buttons: Button[] = [
    button({
      text: p.mode === 'cancel_update' ? 'Cancel update' : 'Continue rollback',
      actionId: ACTION.approve,
      value: p.id,
      style: 'danger',
    }),
  ];
  if (p.mode === 'continue_rollback' && stuck) {
    buttons.push(
      button({
        text: `Continue, skip ${plural(stuck, 'stuck resource')}`,
        actionId: ACTION.continueSkipping,
        value: p.id,
        confirm: {
          title: 'Skip the stuck resources?',
          text: 'CloudFormation will mark them rolled back without changing them: they may no longer match the template.',
          confirm: 'Skip them',
          deny: 'Back',
          style: 'danger',
        },
      }),
    );
  }
  buttons.push(
    button({ text: 'Reject', actionId: ACTION.reject, value: p.id }),
    button({ text: 'Cancel', actionId: ACTION.cancel, value: p.id }),
  );
  return buttons;
}

function footerText(p: Promotion, now: Date): string {
  return `Promotion ${code(truncate(p.id, 100))} · requested ${relative(p.createdAt, now)}`;
}

function fallbackText(p: Promotion, rule: ApprovalRule): string {
  const title = promotionTitle(p);
  let state: string;
  if (p.state === 'awaiting_approval') {
    const changes = p.plan ? `, ${plural(p.plan.counts.total, 'change')}` : '';
    const destroys = p.plan?.changes.filter((c) => c.impact === 'destroys').length ?? 0;
    const tier = p.rule?.tier === 'destructive' ? ' (destructive rule)' : '';
    state = `needs ${plural(rule.required, 'approval')}${tier}${changes}${destroys ? `, ${count(destroys)} destructive` : ''}`;
  } else {
    state = p.state.replace(/_/g, ' ');
  }
  return truncateEscaped(escapeMrkdwn(truncate(`${title} — ${state}`, LIMITS.fallbackText)), LIMITS.fallbackText);
}
