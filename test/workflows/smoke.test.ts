import { afterEach, beforeEach, expect, it } from 'vitest';
import { startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

it('a promotion runs from /promote to its final reply in-process', async () => {
  const r = w.replica();
  const done = await w.release(r);
  expect(done.state).toBe('succeeded');
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
  expect(await w.lockHolder()).toBeUndefined();
});

it('a /promote for a stage whose operation is under way is refused at once, without a call to AWS', async () => {
  const r = w.replica();
  const { p: first } = await w.promote(r);
  expect(first?.state).toBe('awaiting_approval');
  const callsBefore = w.aws.calls.length;
  const { p, replies } = await w.promote(r, { requester: 'U0OTHER' });
  expect(p).toBeUndefined();
  expect(replies).toHaveLength(1);
  expect(replies[0]).toMatch(/^api-prod is locked: .*Try again when it has finished\.$/);
  expect(w.aws.calls.slice(callsBefore).map((c) => c.action)).toEqual([]);
  expect(await w.lockHolder()).toBe(first!.id);
});
