// /promote status [service]: pending and running promotions and held locks, of the services the channel may use.
// The function's own module: the package root loads all of date-fns (about 10 MB of memory).
import { formatDistanceStrict } from 'date-fns/formatDistanceStrict';
import { channelMayUse, resolveService } from '../domain/command.js';
import { describeState } from '../domain/promotion.js';
import { compareIso } from '../domain/text.js';
import { escapeMrkdwn as esc, mentionUser } from '../slack/escape.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { KEYS } from '../store/keys.js';
import type { Deps } from './deps.js';
import { describeLockHolder, messageLink } from './locks.js';

/**
 * What is in flight and which locks are held, for the services `channel` may use (channelMayUse): another
 * channel's restricted services are not shown, not even their names.
 */
export async function statusText(deps: Deps, service: string | undefined, channel: string): Promise<string> {
  if (service) {
    const svc = resolveService(deps.config, service, channel);
    if (!svc.ok) return renderRefusal(svc.refusal);
    if (!channelMayUse(svc.value, channel)) {
      return renderRefusal({
        code: 'channel_not_allowed',
        service: svc.value.name,
        channels: svc.value.channels ?? [],
      });
    }
    service = svc.value.name;
  }
  const visible = (name: string | undefined) => {
    const svc =
      name !== undefined && Object.hasOwn(deps.config.services, name) ? deps.config.services[name] : undefined;
    return svc !== undefined && channelMayUse(svc, channel) && (!service || name === service);
  };
  const now = deps.now();
  const active = (await deps.store.listActive())
    .filter((p) => visible(p.service))
    .sort((a, b) => compareIso(a.createdAt, b.createdAt));
  const lines = [`*${service ? `${esc(service)}: ` : ''}promotions in flight*`];
  if (active.length === 0) lines.push('None.');
  for (const p of active) {
    const link = p.messageTs ? ` <${messageLink(p.channel, p.messageTs)}|message>` : '';
    const path = p.kind === 'rollback' ? `rollback ${p.to}` : `${p.from} → ${p.to}`;
    lines.push(
      `• ${esc(p.service)} ${esc(path)}: ${describeState(p.state)}, by ${mentionUser(p.requester)} ${formatDistanceStrict(new Date(p.createdAt), now, { addSuffix: true })}${link}`,
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
    if (!visible(svc)) continue;
    shown.push(`• ${esc(l.key.slice(KEYS.lockPrefix.length))}: ${await describeLockHolder(deps, l.holder)}`);
  }
  lines.push('*Locks held*', ...(shown.length ? shown : ['None.']));
  return lines.join('\n');
}
