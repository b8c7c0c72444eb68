// /promote status [service]: pending and running promotions and held locks.
import { formatDistanceStrict } from 'date-fns';
import { describeState } from '../domain/promotion.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { KEYS } from '../store/keys.js';
import type { Deps } from './deps.js';
import { describeLockHolder, messageLink } from './locks.js';

export async function statusText(deps: Deps, service?: string): Promise<string> {
  if (service && !deps.config.services[service]) {
    return `Unknown service "${esc(service)}". Known services: ${Object.keys(deps.config.services).join(', ')}.`;
  }
  const now = deps.now();
  const active = (await deps.store.listActive())
    .filter((p) => !service || p.service === service)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const lines = [`*${service ? `${esc(service)}: ` : ''}promotions in flight*`];
  if (active.length === 0) lines.push('None.');
  for (const p of active) {
    const link = p.messageTs ? ` <${messageLink(p.channel, p.messageTs)}|message>` : '';
    const path = p.kind === 'rollback' ? `rollback ${p.to}` : `${p.from} → ${p.to}`;
    lines.push(
      `• ${esc(p.service)} ${esc(path)}: ${describeState(p.state)}, by <@${p.requester}> ${formatDistanceStrict(new Date(p.createdAt), now, { addSuffix: true })}${link}`,
    );
  }
  const locks = await deps.store.listHeld(KEYS.lockPrefix);
  const shown = [];
  for (const l of locks) {
    let svc: string | undefined;
    try {
      svc = (JSON.parse(l.holder) as { service?: string }).service;
    } catch {
      svc = undefined;
    }
    if (service && svc !== service) continue;
    shown.push(`• ${esc(l.key.slice(KEYS.lockPrefix.length))}: ${await describeLockHolder(deps, l.holder)}`);
  }
  lines.push('*Locks held*', ...(shown.length ? shown : ['None.']));
  return lines.join('\n');
}
