// Where a button counts (misplacedClick) and who could approve (couldApprove): pure tables.
import { describe, expect, it } from 'vitest';
import { type ClickPlace, misplacedClick } from '../../src/domain/promotion.js';
import type { ApprovalRule, Promotion } from '../../src/domain/types.js';
import { couldApprove } from '../../src/workflows/approvers.js';

const p: Promotion = {
  id: 'p1',
  version: 2,
  kind: 'promote',
  service: 'api',
  from: 'dev',
  to: 'prod',
  requester: 'U0REQ',
  channel: 'C1',
  messageTs: '100.1',
  state: 'awaiting_approval',
  createdAt: '2026-11-22T10:00:00Z',
  updatedAt: '2026-11-22T10:00:00Z',
  target: { stack: 'api-prod', region: 'us-east-1' },
  approvals: [{ user: 'U0BOB', at: '2026-11-22T10:01:00Z' }],
};

describe('misplacedClick', () => {
  const cases: Array<[string, Promotion, ClickPlace, boolean]> = [
    ['on the summary', p, { channel: 'C1', messageTs: '100.1' }, true],
    ['on a reply in its thread', p, { channel: 'C1', messageTs: '100.9', threadTs: '100.1' }, true],
    ['on another message', p, { channel: 'C1', messageTs: '100.2' }, false],
    ['in another channel', p, { channel: 'C2', messageTs: '100.1' }, false],
    ['in the App Home, its summary recorded', p, { surface: 'home' }, true],
    ['in the App Home, no summary recorded yet', { ...p, messageTs: undefined }, { surface: 'home' }, false],
    ['nowhere', p, {}, false],
  ];
  it.each(cases)('a click %s counts: %s', (_where, promotion, at, counts) => {
    const refusal = misplacedClick(promotion, at);
    if (counts) expect(refusal).toBeUndefined();
    else expect(refusal).toEqual({ code: 'wrong_place', kind: 'promote' });
  });
});

describe('couldApprove', () => {
  const rule: ApprovalRule = { required: 2, reviewers: ['U0ALICE'], allowSelfApproval: false, expiresAfterMs: 1 };
  const cases: Array<[string, Promotion, string, ApprovalRule, boolean, boolean]> = [
    ['a reviewer who has not approved', p, 'U0ALICE', rule, true, true],
    ['someone who is not a reviewer', p, 'U0ALICE', rule, false, false],
    ['a reviewer who approved already', p, 'U0BOB', rule, true, false],
    ['its requester', p, 'U0REQ', rule, true, false],
    ['its requester, self-approval allowed', p, 'U0REQ', { ...rule, allowSelfApproval: true }, true, true],
    ['a reviewer, once it is approved', { ...p, state: 'approved' }, 'U0ALICE', rule, true, false],
    ['a reviewer, while it is planned', { ...p, state: 'planning' }, 'U0ALICE', rule, true, false],
  ];
  it.each(cases)('%s: %s', (_who, promotion, user, r, isReviewer, expected) => {
    expect(couldApprove(promotion, user, r, isReviewer)).toBe(expected);
  });
});
