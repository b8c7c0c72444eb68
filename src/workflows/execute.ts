// Executing an approved operation exactly once, following the stack, reporting in the thread, then its end.
// Exactly one replica drives an operation at a time: the one holding its lease (lease.ts), renewed by each
// step of the work itself.
import type { CloudFormationClient, StackEvent } from '@aws-sdk/client-cloudformation';
import {
  alarmOfRollback,
  cancelUpdate,
  continueRollback,
  describeChangeSetStatus,
  describeStack,
  eventsSince,
  executeChangeSet,
  fingerprint,
  getTemplateBody,
  requestToken,
} from '../aws/cloudformation.js';
import { classifyAwsError, explainAwsFault, isAwsError } from '../aws/errors.js';
import { type StackFollowers, sharedFollowers } from '../aws/stack-follower.js';
import { isInProgress, isResourceFailure, isSettled, isUpdateSuccess } from '../aws/stack-status.js';
import type { StageConfig } from '../domain/config-model.js';
import { isTerminal, type PromotionEvent } from '../domain/promotion.js';
import type { FailedResource, Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import {
  type ProgressInput,
  renderCancelNotice,
  renderFailedResource,
  renderProgress,
  renderProgressNote,
  renderStartingNote,
} from '../slack/views/progress.js';
import { renderStackDone } from '../slack/views/stacks.js';
import { alarmLabel } from '../slack/views/time.js';
import { accessOf, audit, type Deps, forOperation, stageOf, transition } from './deps.js';
import { runEndEffects } from './finish.js';
import { type Lease, LeaseLost, underLease } from './lease.js';
import { extendLock } from './locks.js';
import { recordBefore } from './releases.js';
import { planLaterStack } from './stacks.js';
import { refreshSummaryQuietly, threadReply } from './summary-message.js';
import { takeOverStage } from './supersede.js';

/** Operations this process is driving now (per replica: tests run several in one process). */
const inFlight = new Set<string>();

/** How long the stack lock is kept once an execution starts; released as soon as it ends. */
const EXECUTION_LOCK_MS = 12 * 3_600_000;

/** An approved operation that could not start within this long is ended: a plan is never executed late. */
export const START_DEADLINE_MS = 15 * 60_000;

/** Transient start failures are retried after 1 s, 2 s, 4 s … at most this long apart. */
const START_RETRY_MAX_MS = 60_000;

/** How long a settled stack with no event of ours is given before the follower believes its status. */
const UNTAGGED_GRACE_MS = 60_000;

/** Our clock and CloudFormation's may disagree a little: read events from a bit before we started. */
const CLOCK_SKEW_MS = 5 * 60_000;

const isRecovery = (p: Promotion) => p.mode === 'cancel_update' || p.mode === 'continue_rollback';

/**
 * Drives an operation to its end if this replica can take its lease: starts an approved one, follows a
 * running one, and does the end effects of an ended one. Safe to call from anywhere, any number of times:
 * only one caller does the work.
 */
export function drive(outer: Deps, id: string): Promise<void> {
  const deps = forOperation(outer, id);
  const key = `${deps.replicaId}:${id}`;
  if (inFlight.has(key)) return Promise.resolve();
  inFlight.add(key);
  return underLease(deps, id, (lease) => driveOnce(deps, id, lease))
    .then(() => undefined)
    .catch((err) => deps.log.error('driving an operation', { err, promotionId: id }))
    .finally(() => inFlight.delete(key));
}

/** Operations this replica is driving now. */
export function drivingNow(deps: Deps): number {
  let n = 0;
  for (const k of inFlight) if (k.startsWith(`${deps.replicaId}:`)) n++;
  return n;
}

async function driveOnce(deps: Deps, id: string, lease: Lease): Promise<void> {
  let p = await deps.store.getPromotion(id);
  if (!p) return;
  // Nothing runs before its summary is in the channel (every report goes to its thread); publishing records
  // it, or the sweeper ends an operation whose summary was never recorded.
  if (p.state === 'approved' && !p.messageTs) return;
  for (;;) {
    // Multi-stack: a stack that could not be planned before the earlier ones ran is planned now.
    if (p.state === 'planning' && p.parts && p.current !== undefined && p.messageTs) {
      p = await planLaterStack(deps, p, lease);
    }
    if (p.state === 'approved' || (p.state === 'executing' && !p.execution?.confirmed)) {
      p = await start(deps, p, lease);
    }
    if (p.state === 'executing' && p.execution?.confirmed) {
      p = await follow(deps, p, lease);
      // Multi-stack: one stack is done and the next is to run (or to be planned): on to it.
      if (p.parts && (p.state === 'approved' || p.state === 'planning')) {
        await threadReply(deps, p, renderStackDone(p));
        void refreshSummaryQuietly(deps, p);
        continue;
      }
    }
    break;
  }
  if (isTerminal(p.state)) await runEndEffects(deps, id, lease);
}

/** Moves the operation by `event`; returns the promotion as stored afterwards. */
async function move(deps: Deps, p: Promotion, event: PromotionEvent): Promise<Promotion> {
  const t = await transition(deps, p.id, event);
  if (t.ok) return t.after;
  return t.current ?? (await deps.store.getPromotion(p.id)) ?? p;
}

/** Why the reviewed plan no longer describes what would happen, or undefined when it still does. */
export async function staleness(deps: Deps, p: Promotion): Promise<string | undefined> {
  if (!p.parts) return stalenessOf(deps, p, p);
  // Multi-stack: every stack still to run was reviewed as it was planned; any of them moving on makes the
  // reviewed plan stale, not only the one starting now.
  for (const part of p.parts.filter((x, i) => x.status === 'planned' || i === p.current)) {
    const stale = await stalenessOf(deps, p, partAsPromotion(p, part));
    if (stale) return stale;
  }
  return undefined;
}

/** A part seen as a promotion of its own stack, for the checks shared with single-stack operations. */
function partAsPromotion(p: Promotion, part: NonNullable<Promotion['parts']>[number]): Promotion {
  return { ...p, target: part.target, source: part.source, changeSet: part.changeSet };
}

async function stalenessOf(deps: Deps, base: Promotion, p: Promotion): Promise<string | undefined> {
  const stage = stageOf(deps, base);
  if (!stage || !p.changeSet) return 'the stage is no longer configured';
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
  const stack = await describeStack(cfn, p.target.stack);
  if (!stack) return `stack ${p.target.stack} no longer exists`;
  const updated = stack.LastUpdatedTime?.toISOString();
  if (stack.StackStatus !== p.target.status || updated !== p.target.lastUpdatedTime) {
    return `stack ${p.target.stack} changed since the plan was made (now ${stack.StackStatus}, last updated ${updated ?? 'never'})`;
  }
  const cs = await describeChangeSetStatus(cfn, p.changeSet.arn);
  if (!cs) return 'the change set no longer exists';
  if (cs.executionStatus !== 'AVAILABLE') return `the change set is ${cs.executionStatus ?? cs.status}, not AVAILABLE`;
  if (p.kind === 'promote' && p.source) {
    const sourceStage = deps.config.services[p.service]?.stages.find((s) => s.name === p.from);
    if (!sourceStage) return 'the source stage is no longer configured';
    const src = deps.aws.cloudFormation(accessOf(sourceStage), p.requester);
    if (fingerprint(await getTemplateBody(src, p.source.stack)) !== p.source.fingerprint) {
      return `${p.from} has a new template since the plan was reviewed`;
    }
  }
  return undefined;
}

/**
 * Why a recovery operation no longer acts on what its proposal showed: the stack moved on (another status or
 * update time), or the promotion it would cancel has ended. Undefined when it still does.
 */
async function recoveryStaleness(deps: Deps, p: Promotion): Promise<string | undefined> {
  const stage = stageOf(deps, p);
  if (!stage) return 'the stage is no longer configured';
  if (p.cancels) {
    const running = await deps.store.getPromotion(p.cancels);
    if (running?.state !== 'executing') return 'the promotion it would cancel is no longer running';
  }
  const stack = await describeStack(deps.aws.cloudFormation(accessOf(stage), p.requester), p.target.stack);
  const updated = stack?.LastUpdatedTime?.toISOString();
  if (!stack || stack.StackStatus !== p.target.status || updated !== p.target.lastUpdatedTime) {
    const now = stack ? `${stack.StackStatus}, last updated ${updated ?? 'never'}` : 'gone';
    return `${p.target.stack} is no longer in the state this was proposed for (${p.target.status}; now ${now})`;
  }
  return undefined;
}

/** Did the operation with our token start at CloudFormation (before a restart, say)? */
async function startedAtCloudFormation(cfn: CloudFormationClient, p: Promotion): Promise<boolean> {
  if (p.changeSet && !isRecovery(p)) {
    const cs = await describeChangeSetStatus(cfn, p.changeSet.arn);
    if (cs?.executionStatus?.startsWith('EXECUTE_')) return true;
  }
  if (!p.execution) return false;
  const ours = await eventsSince(cfn, p.target.stack, undefined, p.execution.token, {
    notBefore: new Date(Date.parse(p.execution.startedAt) - CLOCK_SKEW_MS),
  });
  return ours.length > 0;
}

/**
 * Starts an approved operation once: checks the plan is still current, records what runs now, then one
 * ExecuteChangeSet / CancelUpdateStack / ContinueUpdateRollback with a token derived from the operation.
 * A permanent fault ends it with an instruction; a transient one is retried with backoff until the start
 * deadline, after which it is ended, never executed late.
 */
async function start(deps: Deps, p: Promotion, lease: Lease): Promise<Promotion> {
  const stage = stageOf(deps, p);
  if (!stage)
    return move(deps, p, { type: 'start_failed', reason: 'Not executed: the stage is no longer configured.' });
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
  const approvedAt = Date.parse(p.approvedAt ?? p.updatedAt);
  const startingNote = noteSlowStart(deps, p, approvedAt);
  try {
    return await startNow(deps, p, lease, stage, cfn, approvedAt);
  } finally {
    startingNote.stop();
  }
}

/**
 * A first start that has not got going progressNoteAfter after the approval (its checks wait for the account's
 * AWS budget behind other deployments, say) says so in the thread, once; a quick start says nothing.
 */
function noteSlowStart(deps: Deps, p: Promotion, approvedAt: number): { stop(): void } {
  if (p.state !== 'approved' || p.startAttempts || !p.messageTs) return { stop: () => undefined };
  let started = false;
  const timer = setTimeout(
    () => {
      deps.slack
        .postOptional(p.channel, () =>
          started ? undefined : { channel: p.channel, thread_ts: p.messageTs, ...renderStartingNote() },
        )
        .catch((err) => deps.log.warn('progress note', { err, promotionId: p.id }));
    },
    // Counted from the approval; a start resumed long after it (by another replica, say) still gets a moment.
    Math.max(noteGraceMs(deps), approvedAt + deps.timing.progressNoteAfterMs - deps.now().getTime()),
  );
  timer.unref();
  return {
    stop() {
      started = true; // a note still waiting for its channel has nothing to say any more
      clearTimeout(timer);
    },
  };
}

async function startNow(
  deps: Deps,
  initial: Promotion,
  lease: Lease,
  stage: StageConfig,
  cfn: CloudFormationClient,
  approvedAt: number,
): Promise<Promotion> {
  let p = initial;
  try {
    if (deps.now().getTime() - approvedAt > START_DEADLINE_MS) {
      // Unconfirmed may still mean it ran just before a crash: never end what runs, never run it late.
      if (p.state === 'executing' && (await startedAtCloudFormation(cfn, p))) {
        return move(deps, p, { type: 'execution_confirmed' });
      }
      const last = p.startAttempts ? ` (last error: ${p.startAttempts.lastError})` : '';
      return move(deps, p, {
        type: 'start_failed',
        reason: `Not executed: it could not start within ${START_DEADLINE_MS / 60_000} minutes of its approval${last}. Run the command again to plan afresh.`,
      });
    }
    if (p.startAttempts) {
      const wait = Math.min(START_RETRY_MAX_MS, 1000 * 2 ** (p.startAttempts.count - 1));
      if (deps.now().getTime() < Date.parse(p.startAttempts.at) + wait) return p; // the sweeper comes back
    }
    if (p.state === 'approved') {
      // Recovery calls check the stack state themselves (CancelUpdateStack only from UPDATE_IN_PROGRESS…):
      // one API call after the click, as fast as an incident needs.
      const stale = isRecovery(p) ? await recoveryStaleness(deps, p) : await staleness(deps, p);
      await lease.touch();
      if (stale)
        return move(deps, p, { type: 'stale', reason: `Not executed: ${stale}. Re-run /promote to plan again.` });
      // A rollback proposed by someone who is not a rollback reviewer supersedes the waiting promotion only now,
      // once approved, and takes the stage lock (or ends, when another operation holds it by now).
      if (p.supersedes) {
        const locked = await takeOverStage(deps, p, stage, START_DEADLINE_MS);
        await lease.touch();
        if (locked) return move(deps, p, { type: 'start_failed', reason: `Not executed: ${locked}` });
      }
      // GetTemplate only returns the current template: keep what runs now, for /rollback.
      if (!isRecovery(p)) await recordBefore(deps, p, stage);
      await lease.touch();
      p = await move(deps, p, { type: 'execute', token: requestToken(p.kind, p.id) });
      if (p.state !== 'executing') return p;
      await extendLock(deps, p, EXECUTION_LOCK_MS);
      crashPoint('before-execute');
      // Not awaited: the operation starts now; the summary follows when Slack allows.
      void refreshSummaryQuietly(deps, p);
    }
    // The start call's role session carries the approvers as a session tag (CloudTrail: who asked, who approved).
    const approvers = p.approvals.map((a) => a.user);
    const startCfn = deps.aws.cloudFormation(accessOf(stage), p.requester, { approvers });
    const r = await startOperation(startCfn, p, p.execution!.token);
    crashPoint('after-execute');
    if (!r.started && 'refused' in r && !(await startedAtCloudFormation(cfn, p))) {
      return move(deps, p, { type: 'start_failed', reason: `Not executed: ${r.refused}` });
    }
    p = await move(deps, p, { type: 'execution_confirmed' });
    if (p.cancels) await tellCancelled(deps, p);
    await audit(deps, p, 'bot', p.mode && p.mode !== 'changeset' ? p.mode : 'executed', {
      token: p.execution?.token,
      skip: p.skip,
    });
    return p;
  } catch (err) {
    if (err instanceof LeaseLost) throw err;
    // Not an AWS fault (the store, say, right after CloudFormation accepted the call): nothing is known about
    // the start, so nothing is decided; the sweeper comes back and the same token tells whether it ran.
    if (!isAwsError(err)) throw err;
    const fault = classifyAwsError(err);
    const reason = explainAwsFault(fault);
    deps.log.error('starting an operation', { err, promotionId: p.id, fault: fault.code, permanent: fault.kind });
    if (fault.kind === 'permanent') return move(deps, p, { type: 'start_failed', reason: `Not executed: ${reason}` });
    return move(deps, p, { type: 'start_retry', reason });
  }
}

/** The cancelled promotion's thread hears who cancelled it; its own follower reports the rollback. */
async function tellCancelled(deps: Deps, p: Promotion): Promise<void> {
  const running = await deps.store.getPromotion(p.cancels!);
  if (!running) return;
  await threadReply(deps, running, renderCancelNotice(p), true);
}

type StartResult = { started: true } | { started: false; alreadyStarted: true } | { started: false; refused: string };

/** Starts the operation once: ExecuteChangeSet, CancelUpdateStack or ContinueUpdateRollback. */
async function startOperation(cfn: CloudFormationClient, p: Promotion, token: string): Promise<StartResult> {
  if (isRecovery(p)) {
    try {
      if (p.mode === 'cancel_update') await cancelUpdate(cfn, p.target.stack, token);
      else await continueRollback(cfn, p.target.stack, token, p.skip ?? []);
      return { started: true };
    } catch (e) {
      const name = (e as { cause?: { name?: string } }).cause?.name;
      if (name === 'TokenAlreadyExistsException') return { started: false, alreadyStarted: true };
      if (name === 'ValidationError') return { started: false, refused: (e as Error).message };
      throw e;
    }
  }
  return executeChangeSet(cfn, p.changeSet!.arn, token);
}

interface Progress {
  done: Set<string>;
  inProgress: Set<string>;
  failed: Map<string, FailedResource>;
}

const isStackEvent = (ev: StackEvent, stackName: string) =>
  ev.LogicalResourceId === stackName ||
  (ev.ResourceType === 'AWS::CloudFormation::Stack' && ev.PhysicalResourceId === ev.StackId);

function applyEvent(pr: Progress, ev: StackEvent, stackName: string): void {
  const id = ev.LogicalResourceId ?? '';
  if (!id || isStackEvent(ev, stackName)) return;
  const status = ev.ResourceStatus ?? '';
  if (isInProgress(status)) pr.inProgress.add(id);
  else {
    pr.inProgress.delete(id);
    if (status.endsWith('_COMPLETE')) pr.done.add(id);
  }
  if (isResourceFailure(status) && !pr.failed.has(`${id}:${status}`)) {
    pr.failed.set(`${id}:${status}`, {
      logicalId: id,
      resourceType: ev.ResourceType,
      status,
      reason: ev.ResourceStatusReason,
    });
  }
}

/** A progress note waits this long (at most a quarter of progressNoteAfter) for a pending update to land. */
const NOTE_GRACE_MS = 2_500;
const noteGraceMs = (deps: Deps) => Math.min(NOTE_GRACE_MS, deps.timing.progressNoteAfterMs / 4);

/** A note that has not landed this long after it was queued waits for a busy channel (progressDue). */
const NOTE_LANDS_MS = 1_000;

/** Notes of a long execution come rarer: at most one per this fraction of the time it has run. */
const NOTE_SPACING = 1 / 10;

/**
 * The least time between two progress notes of an execution that has run `elapsedMs`: `afterMs`
 * (progressNoteAfter), or a tenth of the time it has run once that is longer, so that a long deployment while
 * many run does not fill its thread (about 10 notes in its first 80 s at 8 s, then some 7 more each time its
 * running time doubles).
 */
export function noteSpacingMs(afterMs: number, elapsedMs: number): number {
  return Math.max(afterMs, Math.max(0, elapsedMs) * NOTE_SPACING);
}

/**
 * When an execution's waiting progress update becomes due (ms since the epoch): a moment (NOTE_LANDS_MS) after
 * the note queued since `notingSince` should have landed, or, with no note waiting, after the next one would
 * (the spacing and grace after the thread last showed more).
 */
export function progressDueAt(t: {
  noting: boolean;
  notingSince: number;
  shownAt: number;
  spacingMs: number;
  graceMs: number;
}): number {
  return NOTE_LANDS_MS + (t.noting ? t.notingSince : t.shownAt + t.spacingMs + t.graceMs);
}

/** Failed resources posted in one reply: at most this many listed, the rest counted. */
const FAILED_PER_REPLY = 10;

/**
 * Follows a started operation to the stack's settled status: one progress reply updated in place (at most
 * every progressEvery), failed resources in one reply per update, then the final transition. Returns the
 * promotion as stored at the end (ended, or still executing when this replica stops following).
 */
async function follow(deps: Deps, start: Promotion, lease: Lease): Promise<Promotion> {
  const stage = stageOf(deps, start)!;
  const followers = deps.followers ?? sharedFollowers(deps.aws, { eventsEveryMs: deps.timing.progressEveryMs });
  // What a follower saw (the stack's status, the events it read) is its own: a follower of the same operation
  // before it in this process (one that stopped when the store failed, or the previous stack's) read events this
  // one has not, and this one must read them again.
  const followerId = `${start.id}#${++followersStarted}`;
  try {
    return await followAs(deps, start, lease, stage, followers, followerId);
  } finally {
    followers.forget(accessOf(stage), followerId);
  }
}

/** Followers started by this process: each one's reads are its own (see follow). */
let followersStarted = 0;

async function followAs(
  deps: Deps,
  start: Promotion,
  lease: Lease,
  stage: StageConfig,
  followers: StackFollowers,
  followerId: string,
): Promise<Promotion> {
  let p = start;
  // Following lets planning, starts and end effects of the same account go first (for a few seconds at most):
  // with many executions at once their reads would otherwise hold every approved start behind them.
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester, { background: true });
  const ex = p.execution!;
  const pr: Progress = { done: new Set(), inProgress: new Set(), failed: new Map() };
  for (const f of ex.failedResources) pr.failed.set(`${f.logicalId}:${f.status}`, f);
  const reported = new Set(pr.failed.keys());
  const part = p.parts && p.current !== undefined ? p.parts[p.current] : undefined;
  // The stack's own resources: changes inside nested stacks show up in the nested stacks' events, not here (a
  // multi-stack part's own changes name its stack, its nested stacks' changes a path below it).
  const own = (p.plan?.changes ?? []).filter((c) => !c.stack || c.stack === p.target.stack);
  const total = own.length;
  // Resources the update phase touches (removals come in the cleanup, after any monitoring time).
  const updated = own.filter((c) => c.action !== 'Remove').map((c) => c.logicalId);
  const monitoring = p.monitoring;
  const startedAt = Date.parse(ex.startedAt);
  /** The rollback trigger (alarm ARN) CloudFormation rolled back for, once its rollback event is seen. */
  let alarm = ex.alarm;
  /** When the update phase ended: CloudFormation then watches the alarms for the monitoring time. */
  let resourcesDoneAt: Date | undefined;
  let lastEventId: string | undefined;
  let lastUpdate = 0;
  let dirty = true;
  let delay = deps.timing.pollMinMs;
  let progressTs = ex.progressTs;
  // What the thread shows: `changes` counts the reads that brought events, `shown` is the count the thread
  // shows (through the progress message or a note), `shownAt` when it last showed more, `behindSince` since when
  // it lacks a change. A note goes out when the thread has shown nothing new for progressNoteAfter and has been
  // behind for a moment (an update with budget to spare lands well within it): one note at a time, tried at
  // most every progressNoteAfter.
  const seenThread = {
    changes: 0,
    shown: 0,
    shownAt: Date.now(),
    behindSince: Date.now(),
    noteTriedAt: 0,
    noting: false,
    notingSince: 0,
  };
  const showing = (changes: number) => () => {
    if (changes <= seenThread.shown) return;
    seenThread.shown = changes;
    seenThread.shownAt = Date.now();
    seenThread.behindSince = Date.now();
  };
  /**
   * When a progress update waiting for Slack's chat.update budget is due (from then on it goes as urgent,
   * SendOptions.due): once a note, due progressNoteAfter (or the spacing of a long execution) after the thread
   * last showed more, has had a moment to land and has not (its channel is busy). Where the channel is free
   * the note shows the progress and the workspace's chat.update budget goes to threads that need it.
   */
  const progressDue = () =>
    progressDueAt({
      ...seenThread,
      spacingMs: noteSpacingMs(deps.timing.progressNoteAfterMs, deps.now().getTime() - startedAt),
      graceMs: noteGraceMs(deps),
    });
  const noteDue = () => {
    const now = Date.now();
    const after = noteSpacingMs(deps.timing.progressNoteAfterMs, deps.now().getTime() - startedAt);
    return (
      seenThread.changes > seenThread.shown &&
      !seenThread.noting &&
      now - Math.max(seenThread.shownAt, seenThread.noteTriedAt) >= after &&
      now - seenThread.behindSince >= noteGraceMs(deps)
    );
  };

  const render = (status?: string) => renderProgress(progressOf(status));
  const progressOf = (status?: string): ProgressInput => ({
    done: pr.done.size,
    // Recovery operations have no plan: count what CloudFormation touches.
    total: Math.max(total, pr.done.size + pr.inProgress.size),
    inProgress: [...pr.inProgress],
    failed: pr.failed.size,
    elapsedMs: deps.now().getTime() - startedAt,
    stackStatus: status,
    ...(watchingUntil(status) ?? {}),
    ...(part ? { stack: { name: part.stack, position: p.current! + 1, of: p.parts!.length } } : {}),
  });

  // CloudFormation stays UPDATE_IN_PROGRESS while it watches the alarms after the last resource is updated
  // (RollbackConfiguration.MonitoringTimeInMinutes in the CloudFormation API reference).
  const watchingUntil = (status?: string) => {
    if (!monitoring || monitoring.minutes === 0 || status !== 'UPDATE_IN_PROGRESS' || !resourcesDoneAt) return;
    return {
      watching: {
        alarms: monitoring.alarms,
        until: new Date(resourcesDoneAt.getTime() + monitoring.minutes * 60_000).toISOString(),
      },
    };
  };

  if (!progressTs && p.messageTs) {
    try {
      progressTs = (await deps.slack.post({ channel: p.channel, thread_ts: p.messageTs, ...render() })).ts;
      crashPoint('after-progress-post');
      showing(seenThread.changes)();
      p = await move(deps, p, { type: 'progress', progressTs });
      lastUpdate = Date.now();
      dirty = false;
    } catch (err) {
      deps.log.error('posting progress', { err, promotionId: p.id });
    }
  }

  /** The stack's status as last read (for notes posted between reads). */
  let lastStatus: string | undefined;
  const following = { ended: false };
  const noteIfDue = () => {
    if (!noteDue() || !progressTs || !p.messageTs) return;
    // The progress message is behind (its update waits for the workspace's chat.update budget, or fails): a
    // note in the thread, under the channel's chat.postMessage budget, says where the execution is when its turn
    // comes. It lets the channel's other posts go first (it never holds up a summary or a final reply) and says
    // nothing once the follower has stopped.
    const queuedAt = Date.now();
    seenThread.noting = true;
    seenThread.notingSince = queuedAt;
    let changes = seenThread.changes;
    void deps.slack
      .postOptional(p.channel, () => {
        // Nothing to say once the follower has stopped, or once the progress message showed more meanwhile (its
        // update went first): the channel's turn goes to another post.
        if (following.ended || seenThread.shownAt > queuedAt) return undefined;
        changes = seenThread.changes;
        return { channel: p.channel, thread_ts: p.messageTs, ...renderProgressNote(progressOf(lastStatus)) };
      })
      .then((posted) => {
        if (posted) showing(changes)();
      })
      .catch((err) => deps.log.warn('progress note', { err, promotionId: p.id }))
      .finally(() => {
        seenThread.noteTriedAt = Date.now();
        seenThread.noting = false;
      });
  };
  // Also between reads: a read may wait for the account's budget (following goes after starts and planning).
  const noteTimer = setInterval(noteIfDue, Math.max(10, Math.min(1_000, deps.timing.progressNoteAfterMs / 4)));
  noteTimer.unref();

  try {
    for (;;) {
      await lease.touch({ yieldOnStop: true });
      let status: string | undefined;
      let gone = false;
      try {
        // Shared with the followers of other executions in the account and region (src/aws/stack-follower.ts).
        const seen = await followers.read(cfn, accessOf(stage), {
          id: followerId,
          stack: p.target.stack,
          token: ex.token,
          afterEventId: lastEventId,
          notBefore: new Date(startedAt - CLOCK_SKEW_MS),
        });
        const events = seen.events;
        for (const ev of events) {
          applyEvent(pr, ev, p.target.stack);
          if (isStackEvent(ev, p.target.stack) && ev.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS' && !alarm) {
            alarm = alarmOfRollback(ev.ResourceStatusReason, monitoring?.alarms);
          }
          if (
            !resourcesDoneAt &&
            updated.length > 0 &&
            pr.inProgress.size === 0 &&
            updated.every((id) => pr.done.has(id))
          ) {
            resourcesDoneAt = ev.Timestamp ?? deps.now();
          }
        }
        if (events.length) {
          lastEventId = events[events.length - 1]!.EventId;
          dirty = true;
          if (seenThread.changes === seenThread.shown) seenThread.behindSince = Date.now();
          seenThread.changes++;
        }
        gone = seen.gone;
        status = seen.stack?.StackStatus;
        delay = events.length ? deps.timing.pollMinMs : Math.min(deps.timing.pollMaxMs, delay * 1.5);
      } catch (err) {
        const fault = classifyAwsError(err);
        if (fault.kind === 'permanent') {
          // We can no longer see the stack: say so and end; CloudFormation itself lets no other update in meanwhile.
          return move(deps, p, {
            type: 'finished',
            stackStatus: 'UNKNOWN',
            reason: `lost sight of ${p.target.stack}: ${explainAwsFault(fault)}`,
          });
        }
        delay = Math.min(deps.timing.pollMaxMs * 4, delay * 2);
        deps.log.warn('reading the stack failed for now; trying again', {
          promotionId: p.id,
          delayMs: delay,
          fault: fault.code,
        });
      }

      const fresh = [...pr.failed.entries()].filter(([k]) => !reported.has(k));
      if (fresh.length) {
        for (const [k] of fresh) reported.add(k);
        const failed = fresh.map(([, f]) => f);
        const lines = failed.slice(0, FAILED_PER_REPLY).map(renderFailedResource);
        if (failed.length > FAILED_PER_REPLY)
          lines.push(`…and ${failed.length - FAILED_PER_REPLY} more failed resources`);
        await threadReply(deps, p, lines.join('\n'));
        p = await move(deps, p, { type: 'progress', failed });
      }

      // Settled after events of ours, or settled long after we started without any event carrying our token
      // (a safety net: a follower must end even if CloudFormation did not tag the events).
      const quietFor = deps.now().getTime() - startedAt;
      const settled =
        status !== undefined && isSettled(status) && (lastEventId !== undefined || quietFor > UNTAGGED_GRACE_MS);
      if (settled || gone) {
        clearInterval(noteTimer); // the final reply tells the rest
        following.ended = true; // a note still waiting for its turn would come after the final reply: none
        const firstFailure = [...pr.failed.values()][0];
        const byAlarm = alarm && !isUpdateSuccess(status) ? alarm : undefined;
        const reason = isUpdateSuccess(status)
          ? undefined
          : byAlarm
            ? `the alarm ${alarmLabel(byAlarm)} went into ALARM, so CloudFormation rolled the update back (rollback trigger ${byAlarm})`
            : (firstFailure?.reason ?? `stack ended in ${status}`);
        if (progressTs && p.messageTs) {
          // Not awaited, and after the summary: the final reply (a message of its own) and the summary (end effects)
          // tell the outcome; with many executions ending at once, Slack's chat.update budget (about 50 a minute)
          // would otherwise hold each final reply behind every progress message's last update. Due like the progress
          // before it: in a busy channel the final reply waits its turn behind the others', and this tells the end
          // meanwhile.
          void deps.slack
            .update(
              { channel: p.channel, ts: progressTs, ...render(status) },
              { coalesce: true, priority: 'final', due: progressDue },
            )
            .catch((err) => deps.log.warn('final progress update', { err, promotionId: p.id }));
        }
        p = await move(deps, p, {
          type: 'finished',
          stackStatus: status ?? 'DELETED',
          reason,
          ...(byAlarm ? { alarm: byAlarm } : {}),
        });
        crashPoint('after-final-transition');
        return p;
      }

      if (dirty && progressTs && p.messageTs && Date.now() - lastUpdate >= deps.timing.progressEveryMs) {
        lastUpdate = Date.now();
        dirty = false;
        crashPoint('during-progress');
        // Not awaited: when Slack's chat.update budget is short it waits behind state changes, and a newer one
        // replaces it while it waits (coalesced, src/slack/port.ts); following goes on meanwhile.
        void deps.slack
          .update(
            { channel: p.channel, ts: progressTs, ...render(status) },
            { coalesce: true, priority: 'progress', due: progressDue },
          )
          .then(showing(seenThread.changes))
          .catch((err) => deps.log.warn('progress update', { err, promotionId: p.id }));
      }
      lastStatus = status;
      noteIfDue();
      await deps.sleep(delay);
    }
  } finally {
    clearInterval(noteTimer);
    following.ended = true;
  }
}
