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
