// Defect 4 of issue 7: a store failure right after the summary is posted. The promotion never stays
// approvable but stuck: the recording is retried, or the summary is withdrawn and the sweeper ends it
// within its grace, freeing the lock.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Promotion } from '../../src/domain/types.js';
import { ALICE, CHANNEL, PROD_ACCOUNT, REQUESTER, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

/** Recording where the summary is: the compare-and-set that first carries its ts. */
const recordingSummary = (next: Promotion) => next.state === 'awaiting_approval' && next.messageTs !== undefined;

it('a store failure while recording the summary is retried: the summary stays and the promotion runs', async () => {
  const r = w.replica();
  r.faults.fail('casPromotion', { when: recordingSummary });
  const { p } = await w.promote(r);
  expect(p?.messageTs).toBeDefined();
  expect(w.slack.calls.filter((c) => c.method === 'chat.delete')).toHaveLength(0);
  await w.approve(r, p!.id, ALICE);
  expect((await w.settled(p!.id)).state).toBe('succeeded');
});

it('when the summary cannot be recorded it is withdrawn, and the sweeper ends the promotion and frees the lock', async () => {
  const r = w.replica();
  r.faults.fail('casPromotion', { when: recordingSummary, times: 10 });
  await expect(w.promote(r)).rejects.toThrow();

  const [p] = await w.store.listActive();
  expect(p?.messageTs).toBeUndefined();
  const summary = w.slack.messages.find((m) => m.channel === CHANNEL && !m.thread_ts);
  expect(summary?.deleted).toBe(true);
  expect(await w.lockHolder()).toBe(p!.id);

  // A click that reached Slack before the message went: approved, but nothing runs without a recorded summary.
  await w.approve(r, p!.id, ALICE);
  await w.idle(p!.id);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);

  w.clock.advance(61_000);
  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('cancelled');
  expect(await w.lockHolder()).toBeUndefined();
  expect(w.slack.ephemerals.filter((e) => e.user === REQUESTER)).toHaveLength(1);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
  expect(w.aws.callsOf('DeleteChangeSet')).toHaveLength(1);
});

it('a store failure while recording the new change set ends planning and leaves no change set behind', async () => {
  const r = w.replica();
  r.faults.fail('casPromotion', {
    when: (next: Promotion) => next.state === 'planning' && next.changeSet !== undefined,
  });
  const { p, replies } = await w.promote(r);
  expect(p).toBeUndefined();
  expect(replies).toHaveLength(1);
  const [ended] = await w.store.listRecent(1);
  expect(ended?.state).toBe('plan_failed');
  expect(await w.lockHolder()).toBeUndefined();
  const created = w.aws.callsOf('CreateChangeSet');
  expect(created).toHaveLength(1);
  await w.waitFor(() => w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.changeSets.length === 0);
});
