// More error paths of issue 7, each ending exactly once with an explanation: a permanent fault while planning
// (defect 3, the error boundary), the final reply retried through transient Slack errors (defect 9), and an
// approval deadline passing with nobody clicking (the sweeper ends it and frees the lock).
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ALICE, CHANNEL, PROD_ACCOUNT, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

const hasButtons = (blocks: unknown[] | undefined) =>
  (blocks ?? []).some((b) => (b as { type: string }).type === 'actions');

it('AccessDenied on CreateChangeSet ends planning: the requester is told what to allow, nothing is posted, the lock is freed', async () => {
  const r = w.replica();
  w.aws.deny('CreateChangeSet');
  const { p, replies } = await w.promote(r);
  expect(p).toBeUndefined();
  expect(replies).toHaveLength(1);
  expect(replies[0]).toContain('CreateChangeSet');
  expect(replies[0]).toContain(`arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot`);
  expect(w.slack.messages.filter((m) => m.channel === CHANNEL)).toHaveLength(0);
  expect(await w.lockHolder()).toBeUndefined();
  const [ended] = await w.store.listRecent(1);
  expect(ended?.state).toBe('plan_failed');
  expect(ended?.pendingEffects ?? []).toEqual([]);
});

it('the final reply is retried through transient Slack errors and posted exactly once', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  // Ends at its start (no progress reply): the next message posted is the final reply.
  w.aws.deny('ExecuteChangeSet');
  w.slack.failNext('chat.postMessage', 'internal_error');
  w.slack.failNext('chat.postMessage', 'internal_error');
  await w.approve(r, p!.id, ALICE);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('failed');
  const failed = w.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.error === 'internal_error');
  expect(failed).toHaveLength(2);
  const finals = w.finalReplies(done.messageTs!);
  expect(finals).toHaveLength(1);
  expect(finals[0]!.ts).toBe(done.finalTs);
});

it('a promotion nobody decides on is expired by the sweeper: change set deleted, lock freed, buttons gone', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  expect(p?.state).toBe('awaiting_approval');
  await w.sweep(r);
  expect((await w.get(p!.id)).state).toBe('awaiting_approval');

  w.clock.advance(4 * 3_600_000 + 1_000);
  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('expired');
  expect(await w.lockHolder()).toBeUndefined();
  expect(w.aws.callsOf('DeleteChangeSet').map((c) => c.params.ChangeSetName)).toEqual([p!.changeSet!.arn]);
  const summary = w.slack.messages.find((m) => m.ts === p!.messageTs)!;
  expect(hasButtons(summary.history.at(-1)!.blocks)).toBe(false);
  expect(await w.approve(r, p!.id, ALICE)).toHaveLength(1);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
});

it('a follower that stopped when the store failed at the end is followed again by the same replica, which sees every event and ends at once', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  // The follower sees the stack settle, then its final transition fails as if Redis went away at that moment.
  r.faults.fail('casPromotion', { when: (next: { state: string }) => next.state === 'succeeded' });
  await w.approve(r, p!.id, ALICE);
  await w.waitFor(() => r.logs.some((l) => l.includes('driving an operation')));
  await w.idle(p!.id);
  expect((await w.get(p!.id)).state).toBe('executing');

  // The same replica's sweeper follows it again. What the stopped follower saw is not this one's: without its
  // events it would take the settled stack for someone else's and wait out a minute's grace before believing it.
  // Well within the grace: settled() throws after 5 s.
  await w.sweep(r);
  const done = await w.settled(p!.id, 5_000);
  expect(done.state).toBe('succeeded');
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
  const progress = w.slack.thread(done.messageTs!).find((m) => /Executing/.test(m.text ?? ''));
  const counts = /(\d+)\/(\d+) resources/.exec(progress?.text ?? '');
  expect(counts?.[1]).toBe(counts?.[2]);
  expect(Number(counts?.[2])).toBeGreaterThan(0);
});
