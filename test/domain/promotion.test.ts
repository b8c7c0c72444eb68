// The promotion state machine and approval rules, as tables. Pure: no store, no clock but `now`.
import { describe, expect, it } from 'vitest';
import {
  approvalsMissing,
  approversToRecheck,
  droppedApprovals,
  type PromotionEvent,
  step,
} from '../../src/domain/promotion.js';
import type { Refusal } from '../../src/domain/refusals.js';
import type { ApprovalRule, Plan, Promotion, PromotionState } from '../../src/domain/types.js';

const NOW = new Date('2026-11-22T10:00:00Z');
const LATER = new Date('2026-11-22T20:00:00Z'); // past a 4h expiry

const rule: ApprovalRule = {
  required: 2,
  reviewers: ['U0ALICE', 'U0BOB'],
  allowSelfApproval: false,
  expiresAfterMs: 4 * 3_600_000,
};
const plan: Plan = { changes: [], counts: { added: 0, modified: 1, removed: 0, replaced: 0, minor: 0, total: 1 } };

function promotion(state: PromotionState, patch: Partial<Promotion> = {}): Promotion {
  return {
    id: 'p1',
    version: 3,
    kind: 'promote',
    service: 'api',
    from: 'dev',
    to: 'prod',
    requester: 'U0REQ',
    channel: 'C1',
    state,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    expiresAt: '2026-11-22T14:00:00.000Z',
    target: { stack: 'api-prod', region: 'us-east-1' },
    approvals: [],
    ...patch,
  };
}

/** Everyone these tables approve as, looked up afresh (as the workflow does when a click completes the quorum). */
const CHECKED = ['U0ALICE', 'U0BOB', 'U0LEAD1', 'U0REQ', 'U0MALLORY'];

const approve = (user: string, isReviewer = true, r = rule): PromotionEvent => ({
  type: 'approve',
  user,
  isReviewer,
  rule: r,
  recheck: { checked: CHECKED, valid: CHECKED.filter((u) => isReviewer || u !== user) },
});

type Row = [string, Promotion, PromotionEvent, Date, PromotionState | Partial<Refusal>];

const rows: Row[] = [
  [
    'planned → awaiting approval',
    promotion('planning', { expiresAt: undefined }),
    { type: 'planned', changeSet: { arn: 'arn:cs', name: 'cs' }, plan, rule },
    NOW,
    'awaiting_approval',
  ],
  [
    'planned with required 0 → approved at once',
    promotion('planning'),
    { type: 'planned', changeSet: { arn: 'a', name: 'n' }, plan, rule: { ...rule, required: 0 } },
    NOW,
    'approved',
  ],
  [
    'nothing to promote',
    promotion('planning'),
    { type: 'nothing_to_promote', reason: 'prod already matches dev' },
    NOW,
    'nothing_to_promote',
  ],
  ['plan failed', promotion('planning'), { type: 'plan_failed', reason: 'boom' }, NOW, 'plan_failed'],
  ['first approval keeps waiting', promotion('awaiting_approval'), approve('U0ALICE'), NOW, 'awaiting_approval'],
  [
    'quorum reached → approved',
    promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: NOW.toISOString() }] }),
    approve('U0BOB'),
    NOW,
    'approved',
  ],
  [
    'group member (resolved as reviewer) counts',
    promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: '' }] }),
    approve('U0LEAD1'),
    NOW,
    'approved',
  ],
  [
    'self-approval refused',
    promotion('awaiting_approval'),
    approve('U0REQ'),
    NOW,
    { code: 'self_approval', kind: 'promote' },
  ],
  [
    'self-approval allowed when configured',
    promotion('awaiting_approval'),
    approve('U0REQ', true, { ...rule, required: 1, allowSelfApproval: true }),
    NOW,
    'approved',
  ],
  [
    'non-reviewer refused',
    promotion('awaiting_approval'),
    approve('U0MALLORY', false),
    NOW,
    { code: 'not_reviewer', service: 'api', stage: 'prod', reviewers: ['U0ALICE', 'U0BOB'] },
  ],
  [
    'duplicate approval refused',
    promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: '' }] }),
    approve('U0ALICE'),
    NOW,
    { code: 'already_approved' },
  ],
  [
    'approve after expiry refused',
    promotion('awaiting_approval'),
    approve('U0ALICE'),
    LATER,
    { code: 'expired', kind: 'promote' },
  ],
  [
    'the summary recorded once: another message is never adopted',
    promotion('awaiting_approval', { messageTs: '1700000000.000100' }),
    { type: 'posted', ts: '1700000000.000200' },
    NOW,
    { code: 'wrong_state', state: 'awaiting_approval' },
  ],
  [
    'a summary found from a click after the operation ended is recorded (so its buttons can go)',
    promotion('cancelled'),
    { type: 'posted', ts: '1700000000.000200' },
    NOW,
    'cancelled',
  ],
  [
    'approve after reject refused',
    promotion('rejected'),
    approve('U0ALICE'),
    NOW,
    { code: 'wrong_state', kind: 'promote', state: 'rejected' },
  ],
  [
    'approve while executing refused',
    promotion('executing'),
    approve('U0ALICE'),
    NOW,
    { code: 'wrong_state', state: 'executing' },
  ],
  [
    'the quorum is never reached without looking the approvers up again',
    promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: '' }] }),
    { type: 'approve', user: 'U0BOB', isReviewer: true, rule },
    NOW,
    { code: 'reviewers_changed' },
  ],
  [
    'an approval that arrived while the others were looked up again sends the click back',
    promotion('awaiting_approval', { approvals: [{ user: 'U0LEAD1', at: '' }] }),
    { type: 'approve', user: 'U0BOB', isReviewer: true, rule, recheck: { checked: ['U0BOB'], valid: ['U0BOB'] } },
    NOW,
    { code: 'reviewers_changed' },
  ],
  [
    'an approver no longer a reviewer (config or group) no longer counts: still waiting',
    promotion('awaiting_approval', { approvals: [{ user: 'U0LEAD1', at: '' }] }),
    {
      type: 'approve',
      user: 'U0BOB',
      isReviewer: true,
      rule,
      recheck: { checked: ['U0LEAD1', 'U0BOB'], valid: ['U0BOB'] },
    },
    NOW,
    'awaiting_approval',
  ],
  [
    'the looked-up answer wins over the cached hint for the clicker',
    promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: '' }] }),
    {
      type: 'approve',
      user: 'U0LEAD1',
      isReviewer: true,
      rule,
      recheck: { checked: ['U0ALICE', 'U0LEAD1'], valid: ['U0ALICE'] },
    },
    NOW,
    { code: 'not_reviewer' },
  ],
  [
    'reject after an approval ends it',
    promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: '' }] }),
    { type: 'reject', user: 'U0BOB', isReviewer: true },
    NOW,
    'rejected',
  ],
  [
    'reject by a non-reviewer refused',
    promotion('awaiting_approval'),
    { type: 'reject', user: 'U0X', isReviewer: false, reviewers: ['U0ALICE'] },
    NOW,
    { code: 'not_reviewer', service: 'api', stage: 'prod', reviewers: ['U0ALICE'] },
  ],
  [
    'reject after approval quorum refused',
    promotion('approved'),
    { type: 'reject', user: 'U0BOB', isReviewer: true },
    NOW,
    { code: 'wrong_state', state: 'approved' },
  ],
  [
    'the rejecter adds a reason afterwards',
    promotion('rejected', { decision: { user: 'U0BOB', at: '' } }),
    { type: 'reason', user: 'U0BOB', reason: 'freeze' },
    NOW,
    'rejected',
  ],
  [
    'someone else cannot add the reason',
    promotion('rejected', { decision: { user: 'U0BOB', at: '' } }),
    { type: 'reason', user: 'U0ALICE', reason: 'x' },
    NOW,
    { code: 'not_rejecter' },
  ],
  [
    'no reason on a promotion that was not rejected',
    promotion('awaiting_approval'),
    { type: 'reason', user: 'U0BOB', reason: 'x' },
    NOW,
    { code: 'not_rejecter' },
  ],
  ['requester cancels', promotion('awaiting_approval'), { type: 'cancel', user: 'U0REQ' }, NOW, 'cancelled'],
  [
    'someone else cannot cancel',
    promotion('awaiting_approval'),
    { type: 'cancel', user: 'U0ALICE' },
    NOW,
    { code: 'not_requester', requester: 'U0REQ', kind: 'promote' },
  ],
  [
    'a rollback supersedes an approved promotion',
    promotion('approved'),
    { type: 'cancel', user: 'U0ONCALL', force: true },
    NOW,
    'cancelled',
  ],
  [
    'nothing cancels an execution',
    promotion('executing'),
    { type: 'cancel', user: 'U0REQ', force: true },
    NOW,
    { code: 'not_cancellable', state: 'executing' },
  ],
  ['expire past the deadline', promotion('awaiting_approval'), { type: 'expire' }, LATER, 'expired'],
  ['no expiry before the deadline', promotion('awaiting_approval'), { type: 'expire' }, NOW, { code: 'not_expired' }],
  [
    'an approved promotion does not expire',
    promotion('approved'),
    { type: 'expire' },
    LATER,
    { code: 'wrong_state', state: 'approved' },
  ],
  [
    'stale plan is cancelled, never executed',
    promotion('approved'),
    { type: 'stale', reason: 'stack changed' },
    NOW,
    'cancelled',
  ],
  ['execute from approved', promotion('approved'), { type: 'execute', token: 'promote-p1' }, NOW, 'executing'],
  [
    'execute twice refused',
    promotion('executing', { execution: { token: 't', startedAt: '', failedResources: [] } }),
    { type: 'execute', token: 't' },
    NOW,
    { code: 'wrong_state', state: 'executing' },
  ],
  [
    'execute without approval refused',
    promotion('awaiting_approval'),
    { type: 'execute', token: 't' },
    NOW,
    { code: 'wrong_state', state: 'awaiting_approval' },
  ],
  [
    'UPDATE_COMPLETE → succeeded',
    promotion('executing', { execution: { token: 't', startedAt: '', failedResources: [] } }),
    { type: 'finished', stackStatus: 'UPDATE_COMPLETE' },
    NOW,
    'succeeded',
  ],
  [
    'UPDATE_ROLLBACK_COMPLETE → rolled back',
    promotion('executing', { execution: { token: 't', startedAt: '', failedResources: [] } }),
    { type: 'finished', stackStatus: 'UPDATE_ROLLBACK_COMPLETE', reason: 'x' },
    NOW,
    'rolled_back',
  ],
  [
    'UPDATE_ROLLBACK_FAILED → failed',
    promotion('executing', { execution: { token: 't', startedAt: '', failedResources: [] } }),
    { type: 'finished', stackStatus: 'UPDATE_ROLLBACK_FAILED' },
    NOW,
    'failed',
  ],
  [
    'finished twice refused',
    promotion('succeeded'),
    { type: 'finished', stackStatus: 'UPDATE_COMPLETE' },
    NOW,
    { code: 'wrong_state', state: 'succeeded' },
  ],
];

describe('step', () => {
  it.each(rows)('%s', (_name, p, event, now, expected) => {
    const r = step(p, event, now);
    if (typeof expected === 'string') {
      expect(r.ok ? r.promotion.state : r.refusal).toBe(expected);
      if (r.ok) {
        expect(r.promotion.version).toBe(p.version + 1);
        expect(r.promotion.updatedAt).toBe(now.toISOString());
      }
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.refusal).toMatchObject(expected);
    }
  });

  it('never changes the promotion it was given', () => {
    const p = promotion('awaiting_approval');
    const copy = structuredClone(p);
    step(p, approve('U0ALICE'), NOW);
    expect(p).toEqual(copy);
  });

  it('records who approved and when, and the deadline when planned', () => {
    const a = step(promotion('awaiting_approval'), approve('U0ALICE'), NOW);
    expect(a.ok && a.promotion.approvals).toEqual([{ user: 'U0ALICE', at: NOW.toISOString() }]);
    const p = step(promotion('planning'), { type: 'planned', changeSet: { arn: 'a', name: 'n' }, plan, rule }, NOW);
    expect(p.ok && p.promotion.expiresAt).toBe('2026-11-22T14:00:00.000Z');
  });

  it('records the rule chosen for the plan, and nothing when none was chosen', () => {
    const chosen = {
      tier: 'destructive' as const,
      required: 2,
      reviewers: ['U0ALICE'],
      because: [{ logicalId: 'UsersTable', kind: 'deletes' as const }],
    };
    const base = { type: 'planned' as const, changeSet: { arn: 'a', name: 'n' }, plan };
    const withRule = step(promotion('planning'), { ...base, rule: { ...rule, required: 2 }, chosen }, NOW);
    expect(withRule.ok && withRule.promotion.rule).toEqual(chosen);
    expect(withRule.ok && withRule.promotion.state).toBe('awaiting_approval');
    const without = step(promotion('planning'), { ...base, rule }, NOW);
    expect(without.ok && 'rule' in without.promotion).toBe(false);
  });

  it('keeps failed resources reported during the execution', () => {
    const p = promotion('executing', { execution: { token: 't', startedAt: '', failedResources: [] } });
    const r = step(
      p,
      { type: 'progress', failed: [{ logicalId: 'Fn', status: 'UPDATE_FAILED', reason: 'boom' }] },
      NOW,
    );
    expect(r.ok && r.promotion.execution?.failedResources).toEqual([
      { logicalId: 'Fn', status: 'UPDATE_FAILED', reason: 'boom' },
    ]);
  });
});

describe('re-checking the approvers at the quorum', () => {
  it('asks for everyone only when the click would complete the quorum', () => {
    const one = promotion('awaiting_approval', { approvals: [{ user: 'U0ALICE', at: '' }] });
    expect(approversToRecheck(promotion('awaiting_approval'), 'U0ALICE', rule)).toBeUndefined();
    expect(approversToRecheck(one, 'U0BOB', rule)).toEqual(['U0ALICE', 'U0BOB']);
    expect(approversToRecheck(one, 'U0ALICE', { ...rule, required: 3 })).toBeUndefined();
    expect(approversToRecheck(promotion('awaiting_approval'), 'U0ALICE', { ...rule, required: 1 })).toEqual([
      'U0ALICE',
    ]);
  });

  it('names the approvals it dropped, and keeps the new one', () => {
    const before = promotion('awaiting_approval', { approvals: [{ user: 'U0LEAD1', at: '' }] });
    const r = step(
      before,
      {
        type: 'approve',
        user: 'U0BOB',
        isReviewer: true,
        rule,
        recheck: { checked: ['U0LEAD1', 'U0BOB'], valid: ['U0BOB'] },
      },
      NOW,
    );
    if (!r.ok) throw new Error(r.refusal.code);
    expect(r.promotion.approvals.map((a) => a.user)).toEqual(['U0BOB']);
    expect(droppedApprovals(before, r.promotion)).toEqual(['U0LEAD1']);
  });
});

describe('approvalsMissing', () => {
  it.each([
    [0, 2, 2],
    [1, 2, 1],
    [2, 2, 0],
    [3, 2, 0],
  ])('%i approvals of %i required → %i missing', (have, required, missing) => {
    const approvals = Array.from({ length: have }, (_, i) => ({ user: `U${i}`, at: '' }));
    expect(approvalsMissing(promotion('awaiting_approval', { approvals }), { ...rule, required })).toBe(missing);
  });
});

describe('continue_rollback: skipping the stuck resources', () => {
  const stuck = [
    { logicalId: 'Fn', status: 'UPDATE_FAILED' },
    { logicalId: 'Queue', status: 'UPDATE_FAILED' },
  ];
  const recovery = (approvals: Promotion['approvals'] = []) =>
    promotion('awaiting_approval', { kind: 'rollback', mode: 'continue_rollback', stuck, approvals });
  const two = { ...rule, required: 2 };
  const one = { ...rule, required: 1 };

  /** Approves in turn (each approver's choice: skip or not) and returns the promotion after the last. */
  function approveAll(choices: boolean[], r: ApprovalRule): Promotion {
    let p = recovery();
    choices.forEach((skip, i) => {
      const users = [...p.approvals.map((a) => a.user), `U0R${i}`];
      const recheck = { checked: users, valid: users };
      const s = step(p, { type: 'approve', user: `U0R${i}`, isReviewer: true, rule: r, skip, recheck }, NOW);
      if (!s.ok) throw new Error(`approval ${i} refused: ${s.refusal.code}`);
      p = s.promotion;
    });
    return p;
  }

  it.each<[string, boolean[], ApprovalRule, PromotionState, string[] | undefined]>([
    ['one approver skips', [true], one, 'approved', ['Fn', 'Queue']],
    ['one approver does not skip', [false], one, 'approved', undefined],
    ['both skip', [true, true], two, 'approved', ['Fn', 'Queue']],
    ['the first skips, the last does not', [true, false], two, 'approved', undefined],
    ['the first does not, the last skips', [false, true], two, 'approved', undefined],
    ['neither skips', [false, false], two, 'approved', undefined],
    ['one skip of two still waits, nothing decided yet', [true], two, 'awaiting_approval', undefined],
  ])('%s → %s, skip %j', (_name, choices, r, state, skip) => {
    const p = approveAll(choices, r);
    expect(p.state).toBe(state);
    expect(p.skip).toEqual(skip);
    expect(p.approvals.map((a) => a.skip ?? false)).toEqual(choices);
  });
});
