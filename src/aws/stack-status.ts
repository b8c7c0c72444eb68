// The one place that knows what CloudFormation stack statuses mean (platform-facts §2.4, §2.5).

export function isInProgress(status: string | undefined): boolean {
  return !!status && status.endsWith('_IN_PROGRESS');
}

/** Statuses from which an UPDATE change set can be created and executed. */
const UPDATABLE = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
]);

export function canTakeChangeSet(status: string | undefined): boolean {
  return !!status && UPDATABLE.has(status);
}

/** Why a stack cannot take a change set, in words for the person; undefined when it can. */
export function whyNotUpdatable(stack: string, status: string | undefined): string | undefined {
  if (canTakeChangeSet(status)) return undefined;
  if (!status) return `stack ${stack} does not exist`;
  if (isInProgress(status)) return `stack ${stack} is busy (${status}): wait for it to finish, or /rollback to cancel`;
  if (status === 'UPDATE_ROLLBACK_FAILED') {
    return `stack ${stack} is stuck in UPDATE_ROLLBACK_FAILED: run /rollback to continue the rollback first`;
  }
  if (status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_FAILED' || status === 'CREATE_FAILED') {
    return `stack ${stack} never finished creating (${status}): it must be deleted and created again`;
  }
  return `stack ${stack} is in ${status}, which cannot take a change set`;
}

/** The end of an update: nothing more will happen without someone acting. */
export function isSettled(status: string | undefined): boolean {
  return !!status && !isInProgress(status);
}

export function isUpdateSuccess(status: string | undefined): boolean {
  return status === 'UPDATE_COMPLETE';
}

/** The update failed but CloudFormation restored the previous state. */
export function isRollbackSuccess(status: string | undefined): boolean {
  return status === 'UPDATE_ROLLBACK_COMPLETE';
}

export function isRollbackFailure(status: string | undefined): boolean {
  return status === 'UPDATE_ROLLBACK_FAILED';
}

export function isResourceFailure(resourceStatus: string | undefined): boolean {
  return !!resourceStatus && resourceStatus.endsWith('_FAILED');
}

/** An update CancelUpdateStack can stop (platform-facts §2.5: only from UPDATE_IN_PROGRESS). */
export function isCancellable(status: string | undefined): boolean {
  return status === 'UPDATE_IN_PROGRESS';
}

/** Why a source stack's build is not promoted (see sourceHealth). */
export type UnhealthySource = 'busy' | 'failed' | 'never_created' | 'never_deployed' | 'unrecognised';

/**
 * Whether a stack runs a working build that may be promoted from it. Stack statuses:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
 * - CREATE_COMPLETE, UPDATE_COMPLETE, IMPORT_COMPLETE: it runs what was last deployed.
 * - UPDATE_ROLLBACK_COMPLETE, IMPORT_ROLLBACK_COMPLETE: the last deployment failed and was rolled back; it runs
 *   the build from before that failure (promotable, with a warning: `rolledBack`).
 * - REVIEW_IN_PROGRESS: created by a change set never executed, so nothing was ever deployed (`never_deployed`;
 *   checked before the other *_IN_PROGRESS statuses, since waiting would not help).
 * - ROLLBACK_COMPLETE, ROLLBACK_FAILED, CREATE_FAILED: its creation failed (`never_created`).
 * - any other *_IN_PROGRESS (an update or its clean-up, a rollback, a delete): still changing (`busy`).
 * - any other *_FAILED (UPDATE_FAILED, UPDATE_ROLLBACK_FAILED, DELETE_FAILED, …): broken (`failed`).
 */
export function sourceHealth(
  status: string | undefined,
): { ok: true; rolledBack: boolean } | { ok: false; why: UnhealthySource } {
  switch (status) {
    case 'CREATE_COMPLETE':
    case 'UPDATE_COMPLETE':
    case 'IMPORT_COMPLETE':
      return { ok: true, rolledBack: false };
    case 'UPDATE_ROLLBACK_COMPLETE':
    case 'IMPORT_ROLLBACK_COMPLETE':
      return { ok: true, rolledBack: true };
    case 'REVIEW_IN_PROGRESS':
      return { ok: false, why: 'never_deployed' };
    case 'ROLLBACK_COMPLETE':
    case 'ROLLBACK_FAILED':
    case 'CREATE_FAILED':
      return { ok: false, why: 'never_created' };
  }
  if (isInProgress(status)) return { ok: false, why: 'busy' };
  if (status?.endsWith('_FAILED')) return { ok: false, why: 'failed' };
  return { ok: false, why: 'unrecognised' };
}
