// Executing an approved promotion exactly once, following the stack, reporting in the thread.
// Exactly one replica drives a promotion at a time: it holds a lease in the store and renews it.
import { type CloudFormationClient, GetTemplateCommand, type StackEvent } from '@aws-sdk/client-cloudformation';
import {
  cancelUpdate,
  continueRollback,
  deleteChangeSet,
  describeChangeSetStatus,
  describeStack,
  eventsSince,
  executeChangeSet,
  fingerprint,
  isThrottling,
  requestToken,
} from '../aws/cloudformation.js';
import { isInProgress, isResourceFailure, isSettled } from '../aws/stack-status.js';
import type { FailedResource, Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import { renderFailedResource, renderFinal, renderProgress } from '../slack/views/progress.js';
import { renderPromotionMessage } from '../slack/views/summary.js';
import { accessOf, audit, type Deps, ruleOf, stageOf, transition } from './deps.js';
import { extendLock, releaseLock } from './locks.js';
import { recordBefore, recordRelease } from './releases.js';

const inFlight = new Set<string>();

/** How long the stack lock is kept once an execution starts; released as soon as it ends. */
const EXECUTION_LOCK_MS = 12 * 3_600_000;

/** How long a settled stack with no event of ours is given before the follower believes its status. */
const UNTAGGED_GRACE_MS = 60_000;

/** Our clock and CloudFormation's may disagree a little: read events from a bit before we started. */
const CLOCK_SKEW_MS = 5 * 60_000;

export function leaseKey(id: string): string {
  return `lease:exec:${id}`;
}

/** Summary updates queued per promotion, so they reach Slack in order even when one waits out a 429. */
const summaryQueues = new Map<string, Promise<void>>();

/**
 * Re-renders the channel summary of a promotion in place, from its latest stored state. Updates of one
 * promotion are serialised (a slow one never lands after a newer one); the returned promise settles when
 * this update is done, and callers on a hot path need not wait for it.
 */
export function refreshSummary(deps: Deps, p: Promotion): Promise<void> {
  if (!p.messageTs) return Promise.resolve();
  const run = async () => {
    const latest = (await deps.store.getPromotion(p.id).catch(() => undefined)) ?? p;
    const view = renderPromotionMessage({ promotion: latest, rule: ruleOf(deps, latest), now: deps.now() });
    await deps.slack.update({ channel: p.channel, ts: p.messageTs!, text: view.text, blocks: view.blocks });
  };
  const previous = summaryQueues.get(p.id) ?? Promise.resolve();
  const next = previous.then(run).catch((err) => deps.log.error('updating summary', { err, promotionId: p.id }));
  summaryQueues.set(p.id, next);
  void next.finally(() => {
    if (summaryQueues.get(p.id) === next) summaryQueues.delete(p.id);
  });
  return next;
}

async function threadReply(deps: Deps, p: Promotion, text: string, broadcast = false): Promise<string | undefined> {
  if (!p.messageTs) return undefined;
  try {
    const r = await deps.slack.post({ channel: p.channel, thread_ts: p.messageTs, text, reply_broadcast: broadcast });
    return r.ts;
  } catch (err) {
    deps.log.error('replying in thread', { err, promotionId: p.id });
    return undefined;
  }
}

/**
 * Drives an approved or executing promotion to its end, if this replica can take the lease.
 * Safe to call from anywhere, any number of times: only one caller does the work.
 */
export function drive(deps: Deps, id: string): Promise<void> {
  if (inFlight.has(`${deps.replicaId}:${id}`)) return Promise.resolve();
  inFlight.add(`${deps.replicaId}:${id}`);
  return driveUnderLease(deps, id)
    .catch((err) => deps.log.error('driving promotion', { err, promotionId: id }))
    .finally(() => inFlight.delete(`${deps.replicaId}:${id}`));
}

async function driveUnderLease(deps: Deps, id: string): Promise<void> {
  const key = leaseKey(id);
  const got = await deps.store.acquire(key, deps.replicaId, deps.timing.leaseMs);
  if (!got.acquired) return;
  let lost = false;
  const renew = setInterval(
    () => {
      deps.store
        .renew(key, deps.replicaId, deps.timing.leaseMs)
        .then((ok) => {
          if (!ok) lost = true;
        })
        .catch((err) => deps.log.warn('renewing execution lease', { err, promotionId: id }));
    },
    Math.max(200, Math.floor(deps.timing.leaseMs / 3)),
  );
  try {
    let p = await deps.store.getPromotion(id);
    if (!p) return;
    // required: 0 — nothing may run before its summary is in the channel (every report goes to its thread).
    if (p.state === 'approved' && !p.messageTs) return;
    if (p.state === 'approved') {
      const started = await startExecution(deps, p);
      if (!started) return;
      p = started;
    }
    if (p.state === 'executing') await follow(deps, p, () => lost);
  } finally {
    clearInterval(renew);
    await deps.store.release(key, deps.replicaId).catch(() => undefined);
  }
}

/** Why the reviewed plan no longer describes what would happen, or undefined when it still does. */
export async function staleness(deps: Deps, p: Promotion): Promise<string | undefined> {
  const stage = stageOf(deps, p);
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
    const tpl = await src.send(new GetTemplateCommand({ StackName: p.source.stack, TemplateStage: 'Original' }));
    if (fingerprint(tpl.TemplateBody ?? '') !== p.source.fingerprint) {
      return `${p.from} has a new template since the plan was reviewed`;
    }
  }
  return undefined;
}

async function startExecution(deps: Deps, p: Promotion): Promise<Promotion | undefined> {
  const stage = stageOf(deps, p)!;
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
  const recovery = p.mode === 'cancel_update' || p.mode === 'continue_rollback';
  // Recovery calls check the stack state themselves (CancelUpdateStack only from UPDATE_IN_PROGRESS…):
  // one API call after the click, as fast as an incident needs.
  const stale = recovery ? undefined : await staleness(deps, p);
  if (stale) {
    const t = await transition(deps, p.id, { type: 'stale', reason: `Not executed: ${stale}. Re-run /promote.` });
    if (t.ok) {
      await deleteChangeSet(cfn, p.changeSet!.arn).catch(() => undefined);
      await releaseLock(deps, p);
      await refreshSummary(deps, t.after);
      await threadReply(deps, t.after, `⚠️ Not executed: ${stale}. Re-run \`/promote\` to plan again.`, true);
    }
    return undefined;
  }
  // GetTemplate only returns the current template: keep what runs now, for /rollback.
  if (!recovery) await recordBefore(deps, p, stage);
  const token = requestToken(p.kind, p.id);
  const t = await transition(deps, p.id, { type: 'execute', token });
  if (!t.ok) return undefined;
  await extendLock(deps, t.after, EXECUTION_LOCK_MS);
  // Not awaited: the operation starts now; the summary follows (in order) when Slack allows.
  void refreshSummary(deps, t.after);
  return t.after;
}

/** Starts the operation once: ExecuteChangeSet, CancelUpdateStack or ContinueUpdateRollback. */
async function startOperation(
  cfn: CloudFormationClient,
  p: Promotion,
  token: string,
): Promise<{ started: true } | { started: false; alreadyStarted: true } | { started: false; refused: string }> {
  if (p.mode === 'cancel_update' || p.mode === 'continue_rollback') {
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

function applyEvent(pr: Progress, ev: StackEvent, stackName: string): void {
  const id = ev.LogicalResourceId ?? '';
  if (
    !id ||
    id === stackName ||
    (ev.ResourceType === 'AWS::CloudFormation::Stack' && ev.PhysicalResourceId === ev.StackId)
  )
    return;
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

async function follow(deps: Deps, start: Promotion, leaseLost: () => boolean): Promise<void> {
  let p = start;
  const stage = stageOf(deps, p)!;
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
  const ex = p.execution!;

  if (!ex.confirmed) {
    crashPoint('before-execute');
    const r = await startOperation(cfn, p, ex.token);
    crashPoint('after-execute');
    if (!r.started && 'refused' in r) {
      // Not started by us and not startable: maybe it ran before a restart; the events decide.
      const ours = await eventsSince(cfn, p.target.stack, undefined, ex.token, {
        notBefore: new Date(Date.parse(ex.startedAt) - CLOCK_SKEW_MS),
      });
      if (ours.length === 0) {
        const t = await transition(deps, p.id, { type: 'finished', stackStatus: 'NOT_EXECUTED', reason: r.refused });
        if (t.ok) await finish(deps, t.after);
        return;
      }
    }
    const t = await transition(deps, p.id, { type: 'execution_confirmed' });
    if (t.ok) p = t.after;
    await audit(deps, p, 'bot', p.mode && p.mode !== 'changeset' ? p.mode : 'executed', {
      token: ex.token,
      skip: p.skip,
    });
  }

  const pr: Progress = { done: new Set(), inProgress: new Set(), failed: new Map() };
  for (const f of p.execution!.failedResources) pr.failed.set(`${f.logicalId}:${f.status}`, f);
  const reported = new Set(pr.failed.keys());
  const total = p.plan?.counts.total ?? 0;
  const startedAt = Date.parse(p.execution!.startedAt);
  let lastEventId: string | undefined;
  let lastUpdate = 0;
  let dirty = true;
  let delay = deps.timing.pollMinMs;
  let progressTs = p.execution!.progressTs;

  const render = (status?: string) =>
    renderProgress({
      done: pr.done.size,
      // Recovery operations have no plan: count what CloudFormation touches.
      total: Math.max(total, pr.done.size + pr.inProgress.size),
      inProgress: [...pr.inProgress],
      failed: pr.failed.size,
      elapsedMs: deps.now().getTime() - startedAt,
      stackStatus: status,
    });

  if (!progressTs && p.messageTs) {
    const view = render();
    try {
      progressTs = (await deps.slack.post({ channel: p.channel, thread_ts: p.messageTs, ...view })).ts;
      crashPoint('after-progress-post');
      const t = await transition(deps, p.id, { type: 'progress', progressTs });
      if (t.ok) p = t.after;
      lastUpdate = Date.now();
      dirty = false;
    } catch (err) {
      deps.log.error('posting progress', { err, promotionId: p.id });
    }
  }

  for (;;) {
    if (leaseLost()) {
      deps.log.warn('lost the execution lease; another replica follows now', { promotionId: p.id });
      return;
    }
    let status: string | undefined;
    let gone = false;
    try {
      const events = await eventsSince(cfn, p.target.stack, lastEventId, ex.token, {
        notBefore: new Date(startedAt - CLOCK_SKEW_MS),
      });
      for (const ev of events) applyEvent(pr, ev, p.target.stack);
      if (events.length) {
        lastEventId = events[events.length - 1]!.EventId;
        dirty = true;
      }
      const stack = await describeStack(cfn, p.target.stack);
      gone = stack === undefined;
      status = stack?.StackStatus;
      delay = events.length ? deps.timing.pollMinMs : Math.min(deps.timing.pollMaxMs, delay * 1.5);
    } catch (err) {
      if (!isThrottling(err) && !isThrottling((err as { cause?: unknown }).cause)) throw err;
      delay = Math.min(deps.timing.pollMaxMs * 4, delay * 2);
      deps.log.warn('throttled while following the stack', { promotionId: p.id, delayMs: delay });
    }

    const fresh = [...pr.failed.entries()].filter(([k]) => !reported.has(k));
    if (fresh.length) {
      for (const [k, f] of fresh) {
        reported.add(k);
        await threadReply(deps, p, renderFailedResource(f));
      }
      const t = await transition(deps, p.id, { type: 'progress', failed: fresh.map(([, f]) => f) });
      if (t.ok) p = t.after;
    }

    // Settled after events of ours, or settled long after we started without any event carrying our token
    // (a safety net: a follower must end even if CloudFormation did not tag the events).
    const quietFor = deps.now().getTime() - startedAt;
    const settled =
      status !== undefined && isSettled(status) && (lastEventId !== undefined || quietFor > UNTAGGED_GRACE_MS);
    if (settled || gone) {
      const firstFailure = [...pr.failed.values()][0];
      const reason = status === 'UPDATE_COMPLETE' ? undefined : (firstFailure?.reason ?? `stack ended in ${status}`);
      if (progressTs && p.messageTs) {
        await deps.slack
          .update({ channel: p.channel, ts: progressTs, ...render(status) })
          .catch((err) => deps.log.warn('final progress update', { err, promotionId: p.id }));
      }
      const t = await transition(deps, p.id, { type: 'finished', stackStatus: status ?? 'DELETED', reason });
      crashPoint('after-final-transition');
      if (t.ok) await finish(deps, t.after);
      return;
    }

    if (dirty && progressTs && p.messageTs && Date.now() - lastUpdate >= deps.timing.progressEveryMs) {
      lastUpdate = Date.now();
      dirty = false;
      await deps.slack
        .update({ channel: p.channel, ts: progressTs, ...render(status) })
        .catch((err) => deps.log.warn('progress update', { err, promotionId: p.id }));
      crashPoint('during-progress');
    }
    await deps.sleep(delay);
  }
}

async function finish(deps: Deps, p: Promotion): Promise<void> {
  await releaseLock(deps, p);
  crashPoint('after-lock-release');
  await recordRelease(deps, p).catch((err) => deps.log.error('recording the release', { err, promotionId: p.id }));
  crashPoint('after-release-record');
  const view = renderFinal(p, deps.now());
  if (p.messageTs) {
    crashPoint('before-final-reply');
    // The final word is never dropped: the WebClient waits out rate limits and retries.
    await deps.slack
      .post({ channel: p.channel, thread_ts: p.messageTs, reply_broadcast: true, ...view })
      .catch((err) => deps.log.error('posting final result', { err, promotionId: p.id }));
    crashPoint('after-final-reply');
  }
  await refreshSummary(deps, p);
}
