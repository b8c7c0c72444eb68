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
