// What the person who approved is told about approvals that no longer count (checked again at the quorum).
import { escapeMrkdwn as esc, mentionUser } from '../escape.js';

/** "The approval of @X no longer counts: …", escaped; empty when nothing was dropped. */
export function renderDroppedApprovals(users: string[], service: string, stage: string): string {
  if (users.length === 0) return '';
  const who = users.map(mentionUser).join(', ');
  const verb = users.length === 1 ? 'approval' : 'approvals';
  return `The ${verb} of ${who} no longer ${users.length === 1 ? 'counts' : 'count'}: not a reviewer for ${esc(service)}/${esc(stage)} any more (checked again just now).`;
}
