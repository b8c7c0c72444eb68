// A promotion killed with SIGKILL at each point of its life, then restarted: it ends exactly once, right.
import { afterEach, describe, inject, it } from 'vitest';
import type { Scenario } from '../support/scenario.js';
import { PROMOTION_CASES } from './cases.js';
import { label, runCrashCase } from './harness.js';

describe('a promotion killed (SIGKILL) and restarted', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  for (const c of PROMOTION_CASES) {
    it(`killed at ${label(c)}`, async () => {
      await runCrashCase(inject('redisUrl'), 'promote', c, (started) => {
        s = started;
      });
    });
  }
});
