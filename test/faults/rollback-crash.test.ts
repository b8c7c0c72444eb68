// A rollback (after a clean promotion) killed with SIGKILL at each point, then restarted: it ends exactly once, right.
import { afterEach, describe, inject, it } from 'vitest';
import type { Scenario } from '../support/scenario.js';
import { ROLLBACK_CASES } from './cases.js';
import { label, runCrashCase } from './harness.js';

describe('a rollback killed (SIGKILL) and restarted', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  for (const c of ROLLBACK_CASES) {
    it(`killed at ${label(c)}`, async () => {
      await runCrashCase(inject('redisUrl'), 'rollback', c, (started) => {
        s = started;
      });
    });
  }
});
