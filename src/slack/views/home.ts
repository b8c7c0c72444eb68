// The App Home tab (docs.slack.dev/surfaces/app-home): what waits for this person's approval, with the same
// Approve / Reject buttons as the channel summary, what runs now, held stages, recent releases of their services,
// and their choice about direct messages. Pure: the workflow (src/workflows/home.ts) gathers the data.
// A Home view holds at most 100 blocks (docs.slack.dev/reference/block-kit/blocks); every list is capped.
import type { StageHold } from '../../domain/refusals.js';
import type { Release } from '../../domain/releases.js';
import type { ApprovalRule, Promotion } from '../../domain/types.js';
import { escapeMrkdwn as esc, mentionChannel, mentionUser, truncate } from '../escape.js';
import { ACTION } from '../ids.js';
import { actions, type Button, button, context, count, header, type KnownBlock, plural, section } from './blocks.js';
import { promotionTitle } from './status.js';
import { approveButton, rejectButton } from './summary.js';
import { relative, utc } from './time.js';

/** Blocks a Home tab may hold. */
export const HOME_MAX_BLOCKS = 100;
/** Operations listed with their buttons (two blocks each); the rest are counted. */
export const HOME_APPROVALS_SHOWN = 15;
/** Lines of the other lists. */
export const HOME_LINES_SHOWN = 15;

export const HOME_BLOCK_ID = {
  notice: 'home_notice',
  awaiting: 'home_awaiting',
  item: (id: string) => `home_item_${id}`,
  buttons: (id: string) => `home_buttons_${id}`,
  running: 'home_running',
  held: 'home_held',
  releases: 'home_releases',
  dms: 'home_dms',
  footer: 'home_footer',
} as const;

export interface HomeItem {
  p: Promotion;
  /** Link to its channel summary */
  link?: string;
}

export interface HomeInput {
  user: string;
  now: Date;
  /** Operations waiting for this person's approval, oldest first, with the rule that applies to each */
  awaiting: Array<HomeItem & { rule: ApprovalRule }>;
  /** Operations approved or executing */
  running: HomeItem[];
  held: Array<{ service: string; stage: string; hold: StageHold }>;
  /** Newest first */
  releases: Release[];
  /**
   * Whose releases are listed: 'yours' the services this person reviews or requested; 'all' every configured
   * service (they review none and requested none lately)
   */
  servicesShown: 'yours' | 'all';
  /** Whether this person gets a direct message when their approval is needed */
  directMessages: boolean;
  /** The answer to their last click: mrkdwn made by the bot's own views (already escaped) */
  notice?: string;
}

export interface HomeTab {
  type: 'home';
  blocks: KnownBlock[];
}

function titleLink(item: HomeItem): string {
  const title = esc(promotionTitle(item.p));
  return item.link ? `<${item.link}|${title}>` : title;
}

function destroys(p: Promotion): number {
  return p.plan?.changes.filter((c) => c.impact === 'destroys').length ?? 0;
}

function awaitingText(item: HomeItem & { rule: ApprovalRule }, now: Date): string {
  const { p, rule } = item;
  const parts = [`requested by ${mentionUser(p.requester)} ${relative(p.createdAt, now)}`];
  parts.push(`${count(p.approvals.length)} of ${plural(rule.required, 'approval')}`);
  if (p.expiresAt) parts.push(`expires ${relative(p.expiresAt, now)}`);
  const lines = [`*${titleLink(item)}* in ${mentionChannel(p.channel)}`, parts.join(' · ')];
  if (p.plan) lines.push(`${plural(p.plan.counts.total, 'change')}`);
  const lost = destroys(p);
  if (lost) lines.push(`⚠ *${plural(lost, 'data-bearing resource')} deleted or replaced: data will be lost*`);
  return lines.join('\n');
}

function reviewButtons(p: Promotion): Button[] {
  const recovery = p.mode === 'cancel_update' || p.mode === 'continue_rollback';
  const text =
    p.mode === 'cancel_update' ? 'Cancel update' : p.mode === 'continue_rollback' ? 'Continue rollback' : 'Approve';
  return [
    approveButton(p, { text, style: recovery ? 'danger' : 'primary' }),
    rejectButton(p, p.kind === 'rollback' ? 'rollback' : 'promotion'),
  ];
}

function runningLine(item: HomeItem, now: Date): string {
  const { p } = item;
  const since = p.execution ? `started ${relative(p.execution.startedAt, now)}` : 'about to start';
  return `• ${titleLink(item)}: ${since}, requested by ${mentionUser(p.requester)}`;
}

function heldLine(h: HomeInput['held'][number], now: Date): string {
  const why = h.hold.cause === 'rollback' ? 'after a rollback' : 'held';
  return `• ${esc(h.service)} ${esc(h.stage)}: ${why} by ${mentionUser(h.hold.user)} ${relative(h.hold.at, now)} — \`/promote unhold ${esc(h.service)} ${esc(h.stage)}\` releases it`;
}

function releaseLine(r: Release, now: Date): string {
  const what = r.kind === 'rollback' ? 'rollback' : `${esc(r.from ?? '?')} → ${esc(r.stage)}`;
  const where = r.kind === 'rollback' ? ` on ${esc(r.stage)}` : '';
  return `• \`${esc(truncate(r.id, 40))}\` ${esc(r.service)} ${what}${where}, ${relative(r.endedAt, now)}, by ${mentionUser(r.requester)}`;
}

/** Lines as one section, capped, with a count of those left out. */
function listSection(lines: string[], empty: string, blockId: string): KnownBlock {
  if (lines.length === 0) return section(`_${empty}_`, blockId);
  const shown = lines.slice(0, HOME_LINES_SHOWN);
  if (lines.length > shown.length) shown.push(`…and ${count(lines.length - shown.length)} more`);
  return section(shown.join('\n'), blockId);
}

/** The Home tab of one person. */
export function renderHome(input: HomeInput): HomeTab {
  const { now } = input;
  const blocks: KnownBlock[] = [];
  if (input.notice) blocks.push(section(input.notice, HOME_BLOCK_ID.notice), { type: 'divider' });

  blocks.push(header('Waiting for your approval', HOME_BLOCK_ID.awaiting));
  if (input.awaiting.length === 0) blocks.push(context('Nothing waits for you.'));
  for (const item of input.awaiting.slice(0, HOME_APPROVALS_SHOWN)) {
    blocks.push(section(awaitingText(item, now), HOME_BLOCK_ID.item(item.p.id)));
    blocks.push(actions(reviewButtons(item.p), HOME_BLOCK_ID.buttons(item.p.id)));
  }
  if (input.awaiting.length > HOME_APPROVALS_SHOWN) {
    blocks.push(
      context(
        `…and ${count(input.awaiting.length - HOME_APPROVALS_SHOWN)} more: see \`/promote status\` in their channels`,
      ),
    );
  }

  blocks.push({ type: 'divider' }, header('Running now', HOME_BLOCK_ID.running));
  blocks.push(
    listSection(
      input.running.map((i) => runningLine(i, now)),
      'Nothing runs now.',
      `${HOME_BLOCK_ID.running}_list`,
    ),
  );

  blocks.push({ type: 'divider' }, header('Held stages', HOME_BLOCK_ID.held));
  blocks.push(
    listSection(
      input.held.map((h) => heldLine(h, now)),
      'No stage is held.',
      `${HOME_BLOCK_ID.held}_list`,
    ),
  );

  blocks.push({ type: 'divider' }, header('Recent releases', HOME_BLOCK_ID.releases));
  blocks.push(
    context(
      input.servicesShown === 'yours'
        ? 'Of the services you review or recently asked to promote.'
        : 'Of every service: you review none and asked to promote none lately.',
    ),
  );
  blocks.push(
    listSection(
      input.releases.map((r) => releaseLine(r, now)),
      'No release recorded yet.',
      `${HOME_BLOCK_ID.releases}_list`,
    ),
  );

  blocks.push({ type: 'divider' });
  blocks.push({
    type: 'section',
    block_id: HOME_BLOCK_ID.dms,
    text: {
      type: 'mrkdwn',
      text: input.directMessages
        ? '*Direct messages:* on. I tell you here when your approval is needed.'
        : '*Direct messages:* off. Promotions waiting for you are listed above only.',
    },
    accessory: button({
      text: input.directMessages ? 'Turn off' : 'Turn on',
      actionId: ACTION.homeDirectMessages,
      value: input.directMessages ? 'off' : 'on',
    }),
  });
  blocks.push(
    context(`As of ${utc(now.toISOString())}: brought up to date each time you open this tab.`, HOME_BLOCK_ID.footer),
  );
  return { type: 'home', blocks: blocks.slice(0, HOME_MAX_BLOCKS) };
}
