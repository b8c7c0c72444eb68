// Defect 2 of issue 7: a Cancel-update proposal is bound to what it was shown. Clicked after the stack moved on
// it is refused and cancels nothing; cancelling the bot's own running promotion acts through that promotion.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ALICE, PROD_ACCOUNT, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

const prodStatus = (w: World) => w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.status;

/** The outside deploy ends (UPDATE_COMPLETE, a new LastUpdatedTime). */
function finishOutsideUpdate(w: World): void {
  const s = w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!;
  w.aws.putStack({ name: 'api-prod', account: PROD_ACCOUNT, template: s.template, parameters: s.parameters });
}

async function proposeCancelOfOutsideUpdate(w: World) {
  w.aws.startOutsideUpdate('api-prod', { durationMs: Number.POSITIVE_INFINITY });
  await w.waitFor(() => prodStatus(w) === 'UPDATE_IN_PROGRESS');
  const r = w.replica();
  const { p } = await w.rollback(r);
  expect(p).toMatchObject({ mode: 'cancel_update', state: 'awaiting_approval' });
  expect(await w.lockHolder()).toBe(p!.id);
  return { r, p: p! };
}

it('a Cancel-update clicked after the outside update finished is refused and cancels nothing', async () => {
  const { r, p } = await proposeCancelOfOutsideUpdate(w);
  finishOutsideUpdate(w);
  await w.approve(r, p.id, ALICE);
  const done = await w.settled(p.id);
  expect(done.state).toBe('cancelled');
  expect(done.stateReason).toMatch(/no longer in the state/);
  expect(w.aws.callsOf('CancelUpdateStack')).toHaveLength(0);
  expect(await w.lockHolder()).toBeUndefined();
});

it('a Cancel-update clicked while another update runs (another LastUpdatedTime) is refused and cancels nothing', async () => {
  const { r, p } = await proposeCancelOfOutsideUpdate(w);
  finishOutsideUpdate(w);
  w.aws.startOutsideUpdate('api-prod', { durationMs: Number.POSITIVE_INFINITY });
  await w.waitFor(() => prodStatus(w) === 'UPDATE_IN_PROGRESS');
  await w.approve(r, p.id, ALICE);
  const done = await w.settled(p.id);
  expect(done.state).toBe('cancelled');
  expect(done.stateReason).toMatch(/no longer in the state/);
  expect(w.aws.callsOf('CancelUpdateStack')).toHaveLength(0);
  expect(prodStatus(w)).toBe('UPDATE_IN_PROGRESS');
});

it("cancelling the bot's own running promotion acts through it: its thread hears it, it keeps the lock, then rolls back", async () => {
  const r = w.replica();
  const { p: running } = await w.promote(r);
  w.aws.scriptExecution('api-prod', { holdInProgress: true });
  await w.approve(r, running!.id, ALICE);
  await w.waitFor(async () => (await w.get(running!.id)).execution?.confirmed);

  const { p: cancel } = await w.rollback(r);
  expect(cancel).toMatchObject({ mode: 'cancel_update', cancels: running!.id, state: 'awaiting_approval' });
  expect(await w.lockHolder()).toBe(running!.id);
  await w.approve(r, cancel!.id, ALICE);
  await w.waitFor(async () => (await w.get(cancel!.id)).execution?.confirmed);
  expect(await w.lockHolder()).toBe(running!.id);
  expect(w.aws.callsOf('CancelUpdateStack')).toHaveLength(1);
  await w.waitFor(() => w.slack.thread(running!.messageTs!).some((m) => /Update cancelled/.test(m.text ?? '')));

  const ran = await w.settled(running!.id);
  expect(ran.state).toBe('rolled_back');
  // Its thread: the cancel notice (broadcast) and one final reply.
  const broadcasts = w.finalReplies(ran.messageTs!);
  expect(broadcasts.filter((m) => /Update cancelled/.test(m.text ?? ''))).toHaveLength(1);
  expect(broadcasts.filter((m) => m.ts === ran.finalTs)).toHaveLength(1);
  expect(broadcasts).toHaveLength(2);
  expect((await w.settled(cancel!.id)).state).toBe('succeeded');
  expect(await w.lockHolder()).toBeUndefined();
});
