// Shared domain types. Pure data: no I/O, no classes, JSON-serialisable (stored in Redis as JSON).

/** How bad a resource change is, worst first. The order of IMPACT_ORDER is the badness ranking. */
export type Impact =
  | 'destroys' // data-bearing resource removed or replaced: data will be lost
  | 'replaces' // replacement (Replacement: True) of a non data-bearing resource, or data-bearing with Retain/Snapshot
  | 'may-replace' // Replacement: Conditional, or unknown (missing fields never mean safe)
  | 'security' // IAM / resource policy / Lambda permission / security group change
  | 'removes' // removed from the stack (non data-bearing, or data-bearing but retained)
  | 'modify'
  | 'add'
  | 'minor'; // noise: log group tweaks, Lambda versions, API GW deployments, roles without policy change

export const IMPACT_ORDER: readonly Impact[] = [
  'destroys',
  'replaces',
  'may-replace',
  'security',
  'removes',
  'modify',
  'add',
  'minor',
];

export interface PropertyChange {
  /** e.g. `Properties.TableName` or `Tags` */
  path: string;
  before?: string;
  after?: string;
  requiresRecreation?: string; // Never | Conditionally | Always (absent = unknown)
  changeSource?: string;
}

export interface ClassifiedChange {
  logicalId: string;
  physicalId?: string;
  /** CloudFormation type, e.g. AWS::DynamoDB::Table; 'unknown' when CloudFormation left it out */
  resourceType: string;
  /** Add | Modify | Remove | Import | Dynamic | SyncWithActual | unknown */
  action: string;
  replacement?: string; // True | False | Conditional (absent = unknown)
  policyAction?: string;
  impact: Impact;
  /** Plain text (NOT escaped), e.g. "DELETES table UsersTable — data will be lost" */
  reason: string;
  /** Property names that force a replacement (from Details with RequiresRecreation Always/Conditionally) */
  forcedBy: string[];
  properties: PropertyChange[];
  dataBearing: boolean;
  /**
   * The stack the change belongs to, when a plan spans several: the stacks of a multi-stack stage (the stack's
   * name), or nested stacks (the logical ID path from the top, `Storage`, `Storage/Tables`). Views group changes by
   * it when more than one value is present.
   */
  stack?: string;
}

export interface PlanCounts {
  added: number;
  modified: number;
  removed: number;
  replaced: number; // Replacement True or Conditional
  minor: number; // hidden by default
  total: number;
}

export interface Plan {
  /** Sorted worst first (IMPACT_ORDER), then by logical ID */
  changes: ClassifiedChange[];
  counts: PlanCounts;
}

export type PromotionKind = 'promote' | 'rollback';

export type PromotionState =
  | 'planning'
  | 'awaiting_approval'
  | 'approved'
  | 'executing'
  | 'succeeded'
  | 'failed'
  | 'rolled_back'
  | 'rejected'
  | 'expired'
  | 'cancelled'
  | 'nothing_to_promote'
  | 'plan_failed';

export const TERMINAL_STATES: readonly PromotionState[] = [
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
  'expired',
  'cancelled',
  'nothing_to_promote',
  'plan_failed',
];

/**
 * What must happen once an operation has ended, in this order. Recorded with the final state (the same
 * compare-and-set) and redone by any replica until each is done, so a crash never loses one. The hold comes
 * before the lock is released, so no promotion slips in between.
 */
export type EndEffect =
  | 'hold'
  | 'record_release'
  | 'delete_change_set'
  | 'release_lock'
  | 'notify_requester'
  | 'final_reply'
  | 'summary';

export const END_EFFECT_ORDER: readonly EndEffect[] = [
  'hold',
  'record_release',
  'delete_change_set',
  'release_lock',
  'notify_requester',
  'final_reply',
  'summary',
];

export interface Approval {
  user: string;
  at: string; // ISO time
  /** continue_rollback: this approver chose to skip the resources stuck in rollback */
  skip?: boolean;
}

export interface ApprovalRule {
  required: number;
  /** Slack user IDs (U…/W…) and user-group IDs (S…) */
  reviewers: string[];
  allowSelfApproval: boolean;
  expiresAfterMs: number;
}

/**
 * A stage's `approvals` (or `rollback`) rule with its optional `destructive` tier: the rule used instead when
 * the plan deletes or replaces data or changes permissions (see domain/risk.ts). The tier has its own
 * `required` and `reviewers`; `allowSelfApproval` and the expiry are the base rule's.
 */
export interface TieredApprovalRule extends ApprovalRule {
  destructive?: ApprovalRule;
}

/** Why a change needs the destructive tier: what it does to data, or that it changes permissions. */
export type RiskKind = 'deletes' | 'replaces' | 'may-replace' | 'permissions';

export interface RiskyChange {
  logicalId: string;
  kind: RiskKind;
}

/**
 * The approval rule chosen for a plan, recorded with the plan: which tier, what it asked for when chosen, and
 * the changes that made it the destructive tier (empty for the normal tier).
 */
export interface ChosenRule {
  tier: 'normal' | 'destructive';
  required: number;
  reviewers: string[];
  because: RiskyChange[];
}

/** The recorded release of the source stage whose template the source stack runs (see domain/releases.ts). */
export interface SourceRelease {
  id: string;
  kind: 'promote' | 'rollback';
  /** The stage it was promoted from (promotions) */
  from?: string;
  requester: string;
  /** When it finished (ISO time) */
  at: string;
}

export interface FailedResource {
  logicalId: string;
  resourceType?: string;
  status: string;
  reason?: string;
}

/**
 * How a rollback puts the stage back: a change set re-applying a recorded release, cancelling an update in
 * flight (CancelUpdateStack), or continuing a failed rollback (ContinueUpdateRollback).
 */
export type RecoveryMode = 'changeset' | 'cancel_update' | 'continue_rollback';

/** What a rollback will do, in release IDs; kept on the rollback (shown in its summary, then recorded). */
export interface RollbackTarget {
  /** Plain `/rollback`: the release it undoes */
  undoes?: string;
  /** `to <release>`: the release it re-applies */
  reapplies?: string;
  /** The newest release in effect (undefined when every recorded release is rolled back) */
  runsNow?: string;
  /** The release whose template it puts back (undefined: none recorded, it is what ran before `undoes`) */
  putsBack?: string;
}

/**
 * CloudWatch alarms CloudFormation watches during an execution and for `minutes` after its resources are done,
 * rolling the update back when one goes to ALARM (the change set's RollbackConfiguration).
 */
export interface Monitoring {
  /** Alarm ARNs (rollback triggers) */
  alarms: string[];
  /** MonitoringTimeInMinutes, 0–180 */
  minutes: number;
}

/**
 * Where one stack of a multi-stack operation is:
 * - planned: its reviewed change set waits to run; unchanged: no changes, skipped;
 * - deferred: CloudFormation could not plan it before an earlier stack runs (it imports an export the earlier
 *   one adds): it is planned after that one is applied, and reviewed again before it runs;
 * - executing, succeeded, failed: its execution (failed covers any end other than UPDATE_COMPLETE).
 * A planned or deferred part of an operation that has ended was not run.
 */
export type StackPartStatus = 'planned' | 'unchanged' | 'deferred' | 'executing' | 'succeeded' | 'failed';

/** One stack of a multi-stack operation (a stage with `stacks:`), in the order it runs. */
export interface StackPart {
  stack: string;
  target: Promotion['target'];
  source?: Promotion['source'];
  changeSetRequested?: string;
  changeSet?: { arn: string; name: string };
  plan?: Plan;
  status: StackPartStatus;
  /** Why it is deferred, or how it ended */
  reason?: string;
  /** The approvals its plan was executed under */
  approvals?: Approval[];
  execution?: Promotion['execution'];
  /** Planned after an earlier stack ran: its plan is posted in the thread with buttons of its own (message ts) */
  planTs?: string;
}

export interface Promotion {
  id: string;
  /** Incremented by every stored transition (compare-and-set) */
  version: number;
  kind: PromotionKind;
  service: string;
  from?: string; // source stage (absent for rollbacks)
  to: string; // target stage
  requester: string; // Slack user ID
  channel: string;
  /** ts of the summary message (thread parent) once posted */
  messageTs?: string;
  state: PromotionState;
  /** Plain-text reason for the current state (failure reason, refusal, …) */
  stateReason?: string;
  createdAt: string;
  updatedAt: string;
  expiresAt?: string;
  target: {
    stack: string;
    region: string;
    account?: string;
    stackId?: string;
    status?: string; // stack status seen when planning
    lastUpdatedTime?: string; // seen when planning: a change means the plan is stale
  };
  source?: {
    stack: string;
    region: string;
    account?: string;
    /** sha256 of the template body (hex, first 12 chars shown) */
    fingerprint: string;
    lastUpdatedTime?: string;
    /** A version/commit tag or output of the source stack, when it has one */
    version?: string;
    /**
     * The source's last update failed and was rolled back (UPDATE_ROLLBACK_COMPLETE): it runs the build from
     * before that failure, and `lastUpdatedTime` is when the failed update started.
     */
    rolledBack?: boolean;
    /** The recorded release of the source stage that put this template there, when one matches */
    release?: SourceRelease;
  };
  changeSet?: { arn: string; name: string };
  /** The change set's name, recorded before CreateChangeSet is sent (its ARN comes with the answer) */
  changeSetRequested?: string;
  plan?: Plan;
  /**
   * The RollbackConfiguration the change set was created with. A rollback records `{ alarms: [], minutes: 0 }`
   * (alarms deliberately not watched) and the stage's alarms it leaves unwatched in `unwatchedAlarms`.
   */
  monitoring?: Monitoring;
  unwatchedAlarms?: string[];
  /** The approval rule chosen from the plan (absent: recorded before tiers existed, the normal rule) */
  rule?: ChosenRule;
  /** Rollbacks only; absent means 'changeset' */
  mode?: RecoveryMode;
  /** cancel_update of the bot's own running promotion: that promotion's ID (it keeps the lock and its thread) */
  cancels?: string;
  /**
   * Rollbacks proposed by someone who is not a rollback reviewer: the waiting promotion it would supersede, once
   * approved. Such a rollback waits without the stage lock and takes it when it starts.
   */
  supersedes?: string;
  /** Rollbacks re-applying a recorded release: which release they undo or re-apply (see domain/releases.ts) */
  rollbackTarget?: RollbackTarget;
  /** continue_rollback: resources whose rollback failed (shown), and those to skip (set once approved, when every approver chose to) */
  stuck?: FailedResource[];
  skip?: string[];
  approvals: Approval[];
  /** When the last approval needed arrived (or the plan, under required: 0): the start deadline counts from it */
  approvedAt?: string;
  /** Failed attempts to start the execution (transient faults), and the last one's reason */
  startAttempts?: { count: number; lastError: string; at: string };
  /** End effects still to do; set by the final transition, emptied one by one (see EndEffect) */
  pendingEffects?: EndEffect[];
  /** ts of the final reply in the thread, once posted */
  finalTs?: string;
  /** Who rejected / cancelled, with an optional reason */
  decision?: { user: string; at: string; reason?: string };
  /**
   * Multi-stack operations only (a stage with several stacks): one part per stack, in the order they run
   * (list order for a promotion, reverse for a rollback). The single-stack fields above and below (target,
   * source, changeSet, changeSetRequested, execution) are the working copy of the part being planned,
   * reviewed or run, `parts[current]`; every step copies them back into it. `plan` is all parts' changes.
   */
  parts?: StackPart[];
  current?: number;
  execution?: {
    token: string;
    startedAt: string;
    endedAt?: string;
    finalStackStatus?: string;
    reason?: string;
    failedResources: FailedResource[];
    /** ts of the progress reply in the thread */
    progressTs?: string;
    /** CloudFormation accepted the ExecuteChangeSet (a restart must not execute again, only follow) */
    confirmed?: boolean;
    /** Newest stack event already reported */
    lastEventId?: string;
    /** CloudFormation rolled the update back because this alarm (ARN, a rollback trigger) went to ALARM */
    alarm?: string;
  };
}
