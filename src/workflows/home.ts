// The App Home tab of one person (rendered by src/slack/views/home.ts), published when they open it and after
// each of their clicks in it. What waits for their approval is decided as a click would be (approvers.ts).
//
// Services with a `channels` list are only shown in their channels (/promote status); the Home tab is a private
// surface like a direct message, so it shows such a service only to the people involved in it: its reviewers
// and whoever asked to promote it lately. Services without a list are everyone's.
import type { ServiceConfig } from '../config.js';
import type { StageHold } from '../domain/refusals.js';
import type { Release } from '../domain/releases.js';
import { compareIso } from '../domain/text.js';
import type { Promotion } from '../domain/types.js';
import { type HomeInput, renderHome } from '../slack/views/home.js';
import { KEYS } from '../store/keys.js';
import { couldApprove, reviewerCheck } from './approvers.js';
import type { Deps } from './deps.js';
import { messageLink } from './locks.js';
import { userPrefs } from './reviewer-dms.js';

/** Recent operations read to find the services someone asked to promote. */
const RECENT_SCANNED = 100;
/** Releases read per stage, and shown in all. */
const RELEASES_PER_STAGE = 5;
const RELEASES_SHOWN = 15;

const linkOf = (p: Promotion) => (p.messageTs ? messageLink(p.channel, p.messageTs) : undefined);

/** Whether `user` reviews promotions or rollbacks of any stage of `service` (under either tier). */
async function reviews(deps: Deps, service: ServiceConfig, user: string): Promise<boolean> {
  for (const stage of service.stages) {
    const rules = [stage.approvals, stage.rollback].flatMap((r) => (r.destructive ? [r, r.destructive] : [r]));
    for (const rule of rules) {
      if (rule.reviewers.length && (await deps.reviewers.isReviewer(user, rule.reviewers))) return true;
    }
  }
  return false;
}

/** Everything the Home tab of `user` shows, read now. */
export async function homeInput(deps: Deps, user: string, notice?: string): Promise<HomeInput> {
  const services = Object.entries(deps.config.services);
  const recent = await deps.store.listRecent(RECENT_SCANNED);
  const requested = new Set(recent.filter((p) => p.requester === user).map((p) => p.service));
  const yours = new Set<string>();
  for (const [name, svc] of services) if (requested.has(name) || (await reviews(deps, svc, user))) yours.add(name);
  const visible = (name: string) => {
    const svc = Object.hasOwn(deps.config.services, name) ? deps.config.services[name] : undefined;
    return svc !== undefined && (!svc.channels || yours.has(name));
  };

  const active = (await deps.store.listActive()).sort((a, b) => compareIso(a.createdAt, b.createdAt));
  const awaiting: HomeInput['awaiting'] = [];
  for (const p of active) {
    if (p.state !== 'awaiting_approval' || !p.messageTs) continue;
    const { rule, isReviewer } = await reviewerCheck(deps, p, user);
    if (couldApprove(p, user, rule, isReviewer)) awaiting.push({ p, rule, link: linkOf(p) });
  }
  const running = active
    .filter((p) => (p.state === 'approved' || p.state === 'executing') && visible(p.service))
    .map((p) => ({ p, link: linkOf(p) }));

  const held: HomeInput['held'] = [];
  for (const [name, svc] of services) {
    if (!visible(name)) continue;
    for (const stage of svc.stages) {
      const hold = await deps.store.getJson<StageHold>(KEYS.hold(name, stage.name));
      if (hold) held.push({ service: name, stage: stage.name, hold });
    }
  }

  const servicesShown = yours.size ? 'yours' : 'all';
  const releases: Release[] = [];
  for (const [name, svc] of services) {
    if (!(servicesShown === 'yours' ? yours.has(name) : visible(name))) continue;
    for (const stage of svc.stages) {
      releases.push(...(await deps.store.listCapped<Release>(KEYS.releases(name, stage.name), RELEASES_PER_STAGE)));
    }
  }
  releases.sort((a, b) => compareIso(b.endedAt, a.endedAt));

  return {
    user,
    now: deps.now(),
    awaiting,
    running,
    held,
    releases: releases.slice(0, RELEASES_SHOWN),
    servicesShown,
    directMessages: (await userPrefs(deps, user)).directMessages !== false,
    ...(notice ? { notice } : {}),
  };
}

/** Publishes the Home tab of `user` (views.publish), with `notice` on top: the answer to their last click. */
export async function publishHome(deps: Deps, user: string, notice?: string): Promise<void> {
  await deps.slack.publishHome(user, renderHome(await homeInput(deps, user, notice)));
}
