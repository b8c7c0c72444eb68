// The direct message a reviewer gets when an operation starts waiting for their approval: what, who asks, how
// risky, and a link to the channel summary, where the decision is taken. Plain message text (no blocks, so no
// buttons outside the summary's thread or the reviewer's App Home), escaped.
import type { ApprovalRule, Promotion } from '../../domain/types.js';
import { escapeMrkdwn as esc, mentionChannel, mentionUser, truncate } from '../escape.js';
import { plural } from './blocks.js';
import { promotionTitle } from './status.js';
import { relative } from './time.js';

/** Names come from promote.yml and may be long: the message stays short (it is a notification). */
const TITLE_MAX = 150;

export function renderReviewerDm(p: Promotion, rule: ApprovalRule, link: string, now: Date): string {
  const what = p.kind === 'rollback' ? 'rollback' : 'promotion';
  const lines = [
    `${mentionUser(p.requester)} asks for your approval of a ${what}: *<${link}|${esc(truncate(promotionTitle(p), TITLE_MAX))}>* in ${mentionChannel(p.channel)}`,
  ];
  const facts = [`needs ${plural(rule.required, 'approval')}`];
  if (p.plan) facts.unshift(plural(p.plan.counts.total, 'change'));
  if (p.expiresAt) facts.push(`expires ${relative(p.expiresAt, now)}`);
  lines.push(facts.join(' · '));
  const lost = p.plan?.changes.filter((c) => c.impact === 'destroys').length ?? 0;
  if (lost) lines.push(`⚠ *${plural(lost, 'data-bearing resource')} deleted or replaced: data will be lost*`);
  lines.push('_Approve or reject on the summary or in my Home tab, where you can also turn these messages off._');
  return lines.join('\n');
}
