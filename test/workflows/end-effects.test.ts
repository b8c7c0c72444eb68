// Defect 5 of issue 7: the end of an operation is a set of effects recorded with its final state. A replica
// that dies right after the final transition loses none of them: another one's sweeper redoes them (hold
// before the lock is released, release recorded, final reply once, summary updated). A replica that dies
// while planning is cleaned up within seconds (requester told, change set deleted, lock freed).
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Promotion } from '../../src/domain/types.js';
import { KEYS } from '../../src/store/keys.js';
import { lockKey } from '../../src/workflows/deps.js';
import { releasesKey } from '../../src/workflows/releases.js';
import { ALICE, CHANNEL, devTemplate, PROD_ACCOUNT, REQUESTER, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

it('a replica dying right after a rollback ended: another replica does every end effect, the hold before the lock release', async () => {
  const a = w.replica();
  await w.release(a, devTemplate('r1'));
  const { p } = await w.rollback(a);
  expect(p?.state).toBe('awaiting_approval');
  const killed = a.faults.killAfter(
    'casPromotion',
    (next: Promotion) => next.state === 'succeeded' && (next.pendingEffects?.length ?? 0) > 0,
  );
  await w.approve(a, p!.id, ALICE);
  await killed;
  const ended = await w.get(p!.id);
  expect(ended.pendingEffects).toEqual(['hold', 'record_release', 'release_lock', 'final_reply', 'summary']);
  const summaryBefore = w.slack.messages.find((m) => m.ts === ended.messageTs)!;
  const shownBefore = summaryBefore.history.length;

  const b = w.replica();
  w.clock.advance(2_000); // a's lease runs out
  await w.sweep(b);
  const done = await w.settled(p!.id);
  await w.sweep(b); // a second pass redoes nothing
  await w.idle(p!.id);

  expect(done.state).toBe('succeeded');
  expect(await w.store.getJson(KEYS.hold('api', 'prod'))).toMatchObject({ cause: 'rollback', promotionId: p!.id });
  const order = b.faults.calls.map((c) => `${c.method}:${c.args[0]}`);
  const held = order.indexOf(`setJson:${KEYS.hold('api', 'prod')}`);
  const released = order.indexOf(`release:${lockKey(w.prod)}`);
  expect(held).toBeGreaterThanOrEqual(0);
  expect(released).toBeGreaterThan(held);
  expect(await w.lockHolder()).toBeUndefined();
  const releases = await w.store.listCapped<{ promotionId: string }>(releasesKey('api', 'prod'), 10);
  expect(releases[0]?.promotionId).toBe(p!.id);
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
  const summary = w.slack.messages.find((m) => m.ts === done.messageTs)!;
  expect(summary.history.length).toBeGreaterThan(shownBefore);
  expect(await w.store.getJson(KEYS.summaryShown(p!.id))).toBe((await w.get(p!.id)).version - 1);
  expect(w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.status).toBe('UPDATE_COMPLETE');
});

it('a planner that died is ended by the sweeper within seconds: requester told, change set deleted, lock freed', async () => {
  const a = w.replica();
  a.faults.killAfter('casPromotion', (next: Promotion) => next.state === 'planning' && next.changeSet !== undefined);
  await expect(w.promote(a)).rejects.toThrow();
  const [p] = await w.store.listActive();
  expect(p?.state).toBe('planning');
  expect(await w.lockHolder()).toBe(p!.id);

  const b = w.replica();
  w.clock.advance(6_000); // past the planner's grace and its lease, far below the planning timeout
  await w.sweep(b);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('plan_failed');
  expect(w.slack.ephemerals.filter((e) => e.user === REQUESTER && e.channel === CHANNEL)).toHaveLength(1);
  const deleted = w.aws.callsOf('DeleteChangeSet');
  expect(deleted.map((c) => c.params.ChangeSetName)).toEqual([p!.changeSet!.arn]);
  expect(await w.lockHolder()).toBeUndefined();
});

it('a store blip while recording that the final reply went out does not post it twice', async () => {
  const a = w.replica();
  const { p } = await w.promote(a);
  // The compare-and-set that marks final_reply done (it records the reply's ts) fails once.
  a.faults.fail('casPromotion', { when: (next: Promotion) => next.finalTs !== undefined });
  await w.approve(a, p!.id, ALICE);
  await w.waitFor(() => w.finalReplies(p!.messageTs!).length > 0);
  await w.idle(p!.id);
  await w.sweep(a);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
  expect(done.finalTs).toBe(w.finalReplies(done.messageTs!)[0]!.ts);
});
