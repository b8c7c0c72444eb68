// Which source stack statuses run a working build that may be promoted (sourceHealth), as a table over every
// StackStatus CloudFormation documents.
import { StackStatus } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { sourceHealth } from '../../src/aws/stack-status.js';

const EXPECTED: Record<string, ReturnType<typeof sourceHealth>> = {
  CREATE_COMPLETE: { ok: true, rolledBack: false },
  UPDATE_COMPLETE: { ok: true, rolledBack: false },
  IMPORT_COMPLETE: { ok: true, rolledBack: false },
  UPDATE_ROLLBACK_COMPLETE: { ok: true, rolledBack: true },
  IMPORT_ROLLBACK_COMPLETE: { ok: true, rolledBack: true },
  REVIEW_IN_PROGRESS: { ok: false, why: 'never_deployed' },
  ROLLBACK_COMPLETE: { ok: false, why: 'never_created' },
  ROLLBACK_FAILED: { ok: false, why: 'never_created' },
  CREATE_FAILED: { ok: false, why: 'never_created' },
  CREATE_IN_PROGRESS: { ok: false, why: 'busy' },
  ROLLBACK_IN_PROGRESS: { ok: false, why: 'busy' },
  DELETE_IN_PROGRESS: { ok: false, why: 'busy' },
  UPDATE_IN_PROGRESS: { ok: false, why: 'busy' },
  UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: { ok: false, why: 'busy' },
  UPDATE_ROLLBACK_IN_PROGRESS: { ok: false, why: 'busy' },
  UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: { ok: false, why: 'busy' },
  IMPORT_IN_PROGRESS: { ok: false, why: 'busy' },
  IMPORT_ROLLBACK_IN_PROGRESS: { ok: false, why: 'busy' },
  UPDATE_FAILED: { ok: false, why: 'failed' },
  UPDATE_ROLLBACK_FAILED: { ok: false, why: 'failed' },
  IMPORT_ROLLBACK_FAILED: { ok: false, why: 'failed' },
  DELETE_FAILED: { ok: false, why: 'failed' },
  DELETE_COMPLETE: { ok: false, why: 'unrecognised' },
};

describe('sourceHealth', () => {
  it.each(Object.entries(EXPECTED))('%s → %j', (status, expected) => {
    expect(sourceHealth(status)).toEqual(expected);
  });

  it('covers every status the SDK knows', () => {
    expect(Object.values(StackStatus).filter((s) => !(s in EXPECTED))).toEqual([]);
  });

  it.each([undefined, '', 'SOMETHING_NEW'])('an unknown status (%j) is never promoted', (status) => {
    expect(sourceHealth(status).ok).toBe(false);
  });
});
