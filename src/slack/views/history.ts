// `/promote history`: the releases of a stage, newest first, with the rolled-back ones marked (mrkdwn).
import { type Release, replayReleases } from '../../domain/releases.js';
import { code, escapeMrkdwn as esc, mentionUser } from '../escape.js';
import { relative } from './time.js';

export const HISTORY_SHOWN = 20;

function counts(r: Release): string {
  const c = r.counts;
  return c ? ` +${c.added} ~${c.modified} -${c.removed}${c.replaced ? ` ⟳${c.replaced}` : ''}` : '';
}

function what(r: Release): string {
  if (r.kind === 'promote') return `from ${esc(r.from ?? '?')}${counts(r)}`;
  if (r.reapplies) return `rollback re-applying ${code(r.reapplies)}`;
  if (r.undoes) return `rollback undoing ${code(r.undoes)}`;
  return 'rollback';
}

/** `releases` newest first (all kept ones: which are rolled back is derived from the whole history). */
export function renderHistory(service: string, stage: string, releases: readonly Release[], now: Date): string {
  const where = `${esc(service)}/${esc(stage)}`;
  if (releases.length === 0) return `No releases recorded for ${where} yet.`;
  const { inEffect, undoneBy } = replayReleases(releases);
  const runsNow = inEffect.at(-1)?.id;
  const lines = releases.slice(0, HISTORY_SHOWN).map((r) => {
    const undone = undoneBy.get(r.id);
    const state = r.id === runsNow ? ' — *running now*' : undone ? ` — ~rolled back~ by ${code(undone)}` : '';
    return `• ${code(r.id)} ${relative(r.endedAt, now)} by ${mentionUser(r.requester)}, ${what(r)}${state}`;
  });
  if (releases.length > HISTORY_SHOWN) lines.push(`…and ${releases.length - HISTORY_SHOWN} older`);
  return [`*Releases of ${where}* (newest first)`, ...lines].join('\n');
}
