// Refusal values rendered as mrkdwn: every code has a sentence, names from input are escaped, and the
// only control sequences are the mentions built from well-formed IDs.
import { describe, expect, it } from 'vitest';
import type { Refusal, RefusalCode } from '../../src/domain/refusals.js';
import { renderRefusal } from '../../src/slack/views/refusals.js';

const H = '<!channel> & <@U0BOSS>';

/** One hostile example per code; typed so a new code without an example fails to compile. */
const EXAMPLES: { [C in RefusalCode]: Extract<Refusal, { code: C }> } = {
  status_args: { code: 'status_args' },
  history_args: { code: 'history_args' },
  unhold_args: { code: 'unhold_args' },
  unlock_args: { code: 'unlock_args' },
  too_long: { code: 'too_long', length: 40_000, max: 4_000 },
  missing_stage: { code: 'missing_stage', service: H },
  unreadable_stages: { code: 'unreadable_stages', text: H },
  missing_release: { code: 'missing_release' },
  unreadable_rollback: { code: 'unreadable_rollback', text: H },
  unknown_service: { code: 'unknown_service', name: H, suggestion: H, known: [H, 'api'] },
  channel_not_allowed: { code: 'channel_not_allowed', service: H, channels: ['C0PROMOTE', H] },
  unknown_stage: { code: 'unknown_stage', name: H, known: ['dev', H] },
  first_stage: { code: 'first_stage', service: H, stage: H },
  same_stage: { code: 'same_stage', service: H, stage: H },
  path_not_allowed: { code: 'path_not_allowed', service: H, from: H, to: H, allowed: [H, 'stg'] },
  source_unhealthy: { code: 'source_unhealthy', service: H, stage: H, stack: H, status: H, why: 'busy' },
  unknown_promotion: { code: 'unknown_promotion' },
  wrong_state: { code: 'wrong_state', kind: 'promote', state: 'executing' },
  not_cancellable: { code: 'not_cancellable', kind: 'rollback', state: 'executing' },
  expired: { code: 'expired', kind: 'promote' },
  not_expired: { code: 'not_expired' },
  not_reviewer: { code: 'not_reviewer', service: H, stage: H, reviewers: ['U0ALICE', 'S0LEADS', H] },
  self_approval: { code: 'self_approval', kind: 'promote' },
  already_approved: { code: 'already_approved' },
  not_rejecter: { code: 'not_rejecter' },
  not_requester: { code: 'not_requester', requester: 'U0REQ', kind: 'promote' },
  wrong_place: { code: 'wrong_place', kind: 'rollback' },
  reviewers_changed: { code: 'reviewers_changed' },
  held: { code: 'held', service: H, stage: H, hold: { user: 'U0ONCALL', at: '2026-11-22T09:55:00.000Z' } },
  no_releases: { code: 'no_releases', service: H, stage: H },
  unknown_release: { code: 'unknown_release', service: H, stage: H, name: H, known: ['r1', H] },
  nothing_to_undo: { code: 'nothing_to_undo', service: H, stage: H, oldest: H },
};

/** Removes the mentions we build on purpose; what is left must ping nobody. */
function withoutOurMentions(text: string): string {
  return text.replace(/<@U0[A-Z0-9]+>|<!subteam\^S0[A-Z0-9]+>|<#C0[A-Z0-9]+>/g, '');
}

describe('renderRefusal', () => {
  it.each(Object.values(EXAMPLES))('$code: a sentence, with every name from input escaped', (r) => {
    const text = renderRefusal(r, new Date('2026-11-22T10:00:00Z'));
    expect(text.length).toBeGreaterThan(10);
    const rest = withoutOurMentions(text);
    expect(rest).not.toMatch(/[<>]/);
    expect(rest.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    expect(text).not.toContain('&amp;lt;'); // escaped once, never twice
  });

  it.each<[Refusal, string]>([
    [
      { code: 'unknown_service', name: 'apx', suggestion: 'api', known: ['api', 'web'] },
      'Unknown service "apx". Did you mean "api"? Known services: api, web.',
    ],
    [
      { code: 'channel_not_allowed', service: 'api', channels: ['C0PROMOTE', 'C0OTHER'] },
      'api can only be promoted or rolled back from <#C0PROMOTE>, <#C0OTHER>.',
    ],
    [{ code: 'not_requester', requester: 'U0REQ', kind: 'rollback' }, 'Only <@U0REQ> can cancel this rollback.'],
    [
      { code: 'not_reviewer', service: 'api', stage: 'prod', reviewers: ['U0ALICE', 'S0LEADS'] },
      'You are not a reviewer for api/prod: ask <@U0ALICE>, <!subteam^S0LEADS>.',
    ],
    [
      { code: 'not_reviewer', service: 'api', stage: 'prod', reviewers: [] },
      'You are not a reviewer for api/prod: ask a reviewer.',
    ],
    [{ code: 'wrong_state', kind: 'promote', state: 'rejected' }, 'This promotion is already rejected.'],
    [
      { code: 'unknown_release', service: 'api', stage: 'prod', name: 'nope', known: ['r2', 'r1'] },
      'Unknown release "nope" for api/prod. Known releases (newest first): `r2`, `r1`.',
    ],
    [
      {
        code: 'source_unhealthy',
        service: 'api',
        stage: 'stg',
        stack: 'api-stg',
        status: 'UPDATE_IN_PROGRESS',
        why: 'busy',
      },
      'Cannot promote api from stg: its stack `api-stg` is still changing (`UPDATE_IN_PROGRESS`). Wait until its deployment has finished, then run the command again.',
    ],
    [
      {
        code: 'source_unhealthy',
        service: 'api',
        stage: 'stg',
        stack: 'api-stg',
        status: 'UPDATE_ROLLBACK_FAILED',
        why: 'failed',
      },
      'Cannot promote api from stg: its stack `api-stg` is in `UPDATE_ROLLBACK_FAILED`: its last deployment failed. Fix stg first; only a working build is promoted.',
    ],
    [
      {
        code: 'source_unhealthy',
        service: 'api',
        stage: 'stg',
        stack: 'api-stg',
        status: 'ROLLBACK_COMPLETE',
        why: 'never_created',
      },
      'Cannot promote api from stg: its stack `api-stg` never finished creating (`ROLLBACK_COMPLETE`), so it runs no build to promote.',
    ],
    [
      {
        code: 'source_unhealthy',
        service: 'api',
        stage: 'stg',
        stack: 'api-stg',
        status: 'REVIEW_IN_PROGRESS',
        why: 'never_deployed',
      },
      'Cannot promote api from stg: its stack `api-stg` is in `REVIEW_IN_PROGRESS`: it was created by a change set that was never executed, so nothing is deployed there to promote.',
    ],
    [
      { code: 'source_unhealthy', service: 'api', stage: 'stg', stack: 'api-stg', why: 'missing' },
      'Cannot promote api from stg: its stack `api-stg` does not exist.',
    ],
  ])('%j', (r, expected) => {
    expect(renderRefusal(r)).toBe(expected);
  });

  it('names who held a stage with a real mention, not escaped text, and how to unhold it', () => {
    const held = { ...EXAMPLES.held, service: 'api', stage: 'prod' };
    const text = renderRefusal(held, new Date('2026-11-22T10:00:00Z'));
    expect(text).toContain('since 5 minutes ago: rolled back by <@U0ONCALL>');
    expect(text).not.toContain('&lt;@');
    expect(renderRefusal(held)).toContain(
      'since 2026-11-22 09:55 UTC: rolled back by <@U0ONCALL>. Run `/promote unhold api prod`',
    );
  });

  it('never pings through a malformed ID', () => {
    const text = renderRefusal({ code: 'not_requester', requester: '!channel', kind: 'promote' });
    expect(text).toBe('Only !channel can cancel this promotion.');
  });
});
