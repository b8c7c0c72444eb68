// The kill points of the fault suite, in the order a promotion reaches them. A rollback (which shares the
// code after its change set is created) is killed at the same points.
import type { CrashCase } from './harness.js';

export const PROMOTION_CASES: CrashCase[] = [
  { at: 'after-ack', stage: 'command' },
  { at: 'after-lock', stage: 'command' },
  { at: 'aws:CreateChangeSet', stage: 'command' },
  { at: 'after-create-change-set', stage: 'command' },
  { at: 'after-summary-post', stage: 'command' },
  { at: 'after-summary-recorded', stage: 'command' },
  { at: 'after-approval', stage: 'approval' },
  { at: 'after-last-approval', stage: 'last-approval' },
  { at: 'before-execute', stage: 'execution' },
  { at: 'aws:ExecuteChangeSet', stage: 'execution' },
  { at: 'after-execute', stage: 'execution' },
  { at: 'after-progress-post', stage: 'execution' },
  { at: 'during-progress', nth: 1, stage: 'execution' },
  { at: 'after-final-transition', stage: 'execution' },
  { at: 'after-final-transition', stage: 'execution', failing: true },
  { at: 'after-lock-release', stage: 'execution' },
  { at: 'after-release-record', stage: 'execution' },
  { at: 'before-final-reply', stage: 'execution' },
  { at: 'slack:final-reply', stage: 'execution' },
  { at: 'after-final-reply', stage: 'execution' },
];

export const ROLLBACK_CASES: CrashCase[] = PROMOTION_CASES.filter((c) => !c.failing);
