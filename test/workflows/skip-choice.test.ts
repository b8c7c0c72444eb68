// Defect 7 of issue 7: with rollback.required: 2, the stuck resources of a failed rollback are skipped only
// when every approver chose to skip them.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ALICE, BOB, PROD_ACCOUNT, type Replica, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld({ rollbackRequired: 2 });
});
afterEach(async () => {
  await w.close();
});

/** A promotion whose update fails on Fn and whose rollback fails too: the stack is UPDATE_ROLLBACK_FAILED. */
async function stuckStack(w: World, r: Replica): Promise<void> {
  const { p } = await w.promote(r);
  w.aws.scriptExecution('api-prod', {
    failResource: { logicalId: 'Fn', reason: 'Resource handler returned message: "boom"' },
    rollbackFails: true,
  });
  await w.approve(r, p!.id, ALICE);
  await w.settled(p!.id);
  expect(w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.status).toBe('UPDATE_ROLLBACK_FAILED');
}

async function continueRollback(w: World, r: Replica, skips: [boolean, boolean]) {
  const { p } = await w.rollback(r);
  expect(p).toMatchObject({ mode: 'continue_rollback', state: 'awaiting_approval' });
  expect(p!.stuck?.length).toBeGreaterThan(0);
  await w.approve(r, p!.id, ALICE, { skipStuck: skips[0] });
  await w.approve(r, p!.id, BOB, { skipStuck: skips[1] });
  await w.waitFor(() => w.aws.callsOf('ContinueUpdateRollback').length === 1);
  return { p: p!, call: w.aws.callsOf('ContinueUpdateRollback')[0]! };
}

it('one approver choosing not to skip means nothing is skipped', async () => {
  const r = w.replica();
  await stuckStack(w, r);
  const { call } = await continueRollback(w, r, [true, false]);
  expect(Object.keys(call.params).filter((k) => k.startsWith('ResourcesToSkip'))).toEqual([]);
});

it('every approver choosing to skip skips the stuck resources', async () => {
  const r = w.replica();
  await stuckStack(w, r);
  const { p, call } = await continueRollback(w, r, [true, true]);
  const skipped = Object.entries(call.params)
    .filter(([k]) => k.startsWith('ResourcesToSkip.member'))
    .map(([, v]) => v);
  expect(skipped.sort()).toEqual(p.stuck!.map((s) => s.logicalId).sort());
});
