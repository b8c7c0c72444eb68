// The crash point switch itself, and that every crash point in src/faults.ts has a scenario.
import { afterEach, describe, expect, it } from 'vitest';
import { armCrashPoint, CRASH_POINTS } from '../../src/faults.js';
import { PROMOTION_CASES, ROLLBACK_CASES } from './cases.js';

describe('crash points', () => {
  afterEach(() => armCrashPoint(undefined));

  it('every crash point is killed at by a promotion scenario and a rollback scenario', () => {
    expect(CRASH_POINTS.filter((p) => !PROMOTION_CASES.some((c) => c.at === p))).toEqual([]);
    expect(CRASH_POINTS.filter((p) => !ROLLBACK_CASES.some((c) => c.at === p))).toEqual([]);
  });

  it('refuses an unknown name or hit count, so a mistyped PROMOTE_CRASH_AT fails loudly', () => {
    expect(() => armCrashPoint('after-exectue')).toThrow(/unknown crash point "after-exectue"/);
    expect(() => armCrashPoint('after-execute#0')).toThrow(/1 or more/);
    expect(() => armCrashPoint('after-execute#x')).toThrow(/1 or more/);
    expect(() => armCrashPoint('during-progress#2')).not.toThrow();
    expect(() => armCrashPoint('')).not.toThrow();
  });
});
