// Refusals (src/domain/refusals.ts) as the ephemeral mrkdwn text the person sees. Every name that came
// from a command, the config or the store is escaped; mentions are built by ../escape.ts.
import { describeState } from '../../domain/promotion.js';
import type { Refusal } from '../../domain/refusals.js';
import { groupDigits } from '../../domain/text.js';
import { code, escapeMrkdwn as esc, mention, mentionChannel, mentionUser, truncate } from '../escape.js';
import { relative, utc } from './time.js';

const KNOWN_SHOWN = 30;

/** The operation as a noun: "this promotion", "this rollback". */
const noun = (kind: 'promote' | 'rollback') => (kind === 'rollback' ? 'rollback' : 'promotion');

function list(names: string[], sep = ', '): string {
  const shown = names.slice(0, KNOWN_SHOWN).map((n) => esc(truncate(n, 80)));
  if (names.length > KNOWN_SHOWN) shown.push(`+${names.length - KNOWN_SHOWN} more`);
  return shown.join(sep);
}

/** `"name"`, escaped and shortened: the name as typed, which may be anything. */
function quoted(name: string): string {
  return `"${esc(truncate(name, 100))}"`;
}

function unknown(what: string, r: { name: string; suggestion?: string; known: string[] }): string {
  const near = r.suggestion ? ` Did you mean ${quoted(r.suggestion)}?` : '';
  return `Unknown ${what} ${quoted(r.name)}.${near} Known ${what}s: ${list(r.known)}.`;
}

/**
 * The refusal as one mrkdwn message. `now` makes times relative ("since 5 minutes ago"); without it they
 * are absolute (UTC).
 */
export function renderRefusal(r: Refusal, now?: Date): string {
  const when = (iso: string) => (now ? relative(iso, now) : utc(iso));
  switch (r.code) {
    case 'status_args':
      return 'status takes at most a service name.';
    case 'history_args':
      return 'history takes a service and an optional stage.';
    case 'unhold_args':
      return 'unhold takes a service and a stage.';
    case 'too_long':
      return `That command is ${groupDigits(r.length)} characters long; at most ${groupDigits(r.max)} are read.`;
    case 'unlock_args':
      return 'unlock takes a service and a stage.';
    case 'missing_stage':
      return `say which stage to promote ${esc(truncate(r.service, 100))} to.`;
    case 'unreadable_stages':
      return `cannot read the stages in ${quoted(r.text)}.`;
    case 'missing_release':
      return 'say which release to roll back to.';
    case 'unreadable_rollback':
      return `cannot read ${quoted(r.text)}.`;
    case 'unknown_service':
      return unknown('service', r);
    case 'channel_not_allowed':
      return `${esc(r.service)} can only be promoted or rolled back from ${r.channels.map(mentionChannel).join(', ')}.`;
    case 'unknown_stage':
      return unknown('stage', r);
    case 'first_stage':
      return `${esc(r.service)}/${esc(r.stage)} is the first stage: nothing promotes into it.`;
    case 'same_stage':
      return `${esc(r.service)}: ${esc(r.stage)} → ${esc(r.stage)} is the same stage.`;
    case 'path_not_allowed':
      return `${esc(r.service)}/${esc(r.to)} can only be promoted from ${list(r.allowed, ' or ')}, not from ${esc(r.from)}.`;
    case 'source_unhealthy':
      return sourceUnhealthy(r);
    case 'unknown_promotion':
      return 'This promotion is no longer known (it may have been cleaned up).';
    case 'wrong_state':
      return `This ${noun(r.kind)} is ${describeState(r.state)}.`;
    case 'not_cancellable':
      return `This ${noun(r.kind)} is ${describeState(r.state)}: it can no longer be cancelled.`;
    case 'expired':
      return `This ${noun(r.kind)} expired: run the command again.`;
    case 'not_expired':
      return 'This promotion has not expired yet.';
    case 'not_reviewer': {
      const who = r.reviewers.slice(0, KNOWN_SHOWN).map(mention).join(', ');
      return `You are not a reviewer for ${esc(r.service)}/${esc(r.stage)}: ask ${who || 'a reviewer'}.`;
    }
    case 'self_approval':
      return `You requested this ${noun(r.kind)}, so you cannot approve it: another reviewer has to.`;
    case 'already_approved':
      return 'You have approved this already.';
    case 'not_rejecter':
      return 'Only the person who rejected it can give the reason.';
    case 'not_requester':
      return `Only ${mentionUser(r.requester)} can cancel this ${noun(r.kind)}.`;
    case 'wrong_place':
      return `This button does not belong here: act on this ${noun(r.kind)} from its own message.`;
    case 'reviewers_changed':
      return 'The approvals changed while the reviewers were being checked: click again.';
    case 'held':
      // Every hold today comes from a rollback (older stored holds have no `cause`).
      return (
        `${esc(r.service)}/${esc(r.stage)} is held since ${when(r.hold.at)}: rolled back by ${mentionUser(r.hold.user)}. ` +
        `Run ${code(`/promote unhold ${r.service} ${r.stage}`)} when it is safe to promote again.`
      );
    case 'no_releases':
      return `No releases recorded for ${esc(r.service)}/${esc(r.stage)}: there is nothing the bot can roll back to.`;
    case 'unknown_release':
      return `Unknown release ${quoted(r.name)} for ${esc(r.service)}/${esc(r.stage)}. Known releases (newest first): ${r.known
        .slice(0, KNOWN_SHOWN)
        .map((id) => code(id))
        .join(', ')}.`;
    case 'nothing_to_undo':
      return (
        `Nothing left to undo on ${esc(r.service)}/${esc(r.stage)}: every recorded promotion is already rolled back ` +
        `(the oldest kept is ${code(r.oldest)}). Name a release with ${code(`/rollback ${r.service} ${r.stage} to <release>`)} to re-apply it.`
      );
  }
}

/** Why the source stage's build is not promoted, and what to do about it. */
function sourceUnhealthy(r: Extract<Refusal, { code: 'source_unhealthy' }>): string {
  const stack = code(truncate(r.stack, 128));
  const status = r.status ? code(truncate(r.status, 60)) : '';
  const head = `Cannot promote ${esc(truncate(r.service, 100))} from ${esc(truncate(r.stage, 60))}: its stack ${stack}`;
  switch (r.why) {
    case 'missing':
      return `${head} does not exist.`;
    case 'busy':
      return `${head} is still changing (${status}). Wait until its deployment has finished, then run the command again.`;
    case 'failed':
      return `${head} is in ${status}: its last deployment failed. Fix ${esc(truncate(r.stage, 60))} first; only a working build is promoted.`;
    case 'never_created':
      return `${head} never finished creating (${status}), so it runs no build to promote.`;
    case 'never_deployed':
      return `${head} is in ${status}: it was created by a change set that was never executed, so nothing is deployed there to promote.`;
    case 'unrecognised':
      return `${head} is in ${status || 'an unknown status'}, which is not known to run a working build.`;
  }
}
