// /rollback and the release history it needs. CloudFormation's GetTemplate only returns the current
// template, so every successful promotion records what the stage ran before and after it.
import type { Parameter, Stack } from '@aws-sdk/client-cloudformation';
import {
  createChangeSet,
  describeStack,
  fingerprint,
  getTemplateBody,
  getTemplateSummary,
  readStuckResources,
  rollbackConfiguration,
} from '../aws/cloudformation.js';
import { isCancellable, isInProgress, isRollbackFailure, whyNotUpdatable } from '../aws/stack-status.js';
import type { StageConfig } from '../config.js';
import { resolveService, resolveStage } from '../domain/command.js';
import { chooseRollbackTarget, snapshotSource, stackSnapshot } from '../domain/releases.js';
import type { Monitoring, Promotion, StackPart } from '../domain/types.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { accessOf, audit, type Deps, type LockHolder, lockKey, type Reply, targetOf } from './deps.js';
import { drive } from './execute.js';
import { endOperation, openOperation, planAndPublish, recordPlanAndPublish } from './operation.js';
import { templateFor } from './plan.js';
import { type Release, releasesKey, unpackTemplate } from './releases.js';
import { tellReviewers } from './reviewer-dms.js';
import { planStacks } from './stacks.js';
import { supersedeNowOrLater } from './supersede.js';

/**
 * A rollback's change set watches no alarm: it runs during an incident, when the stage's alarms are likely
 * firing, and CloudFormation would roll the rollback itself back (rollback triggers act on any update that
 * names them). The empty list also clears triggers the stack kept from earlier updates (RollbackConfiguration
 * in the CloudFormation API reference: CloudFormation reuses a stack's triggers unless a request names others),
 * and no monitoring time, so the old resources are cleaned up at once.
 */
const UNWATCHED: Monitoring = { alarms: [], minutes: 0 };

export interface RollbackRequest {
  service: string;
  stage?: string;
  release?: string;
  requester: string;
  channel: string;
}

export async function runRollback(deps: Deps, req: RollbackRequest, reply: Reply): Promise<Promotion | undefined> {
  const svc = resolveService(deps.config, req.service, req.channel);
  if (!svc.ok) return void (await reply(renderRefusal(svc.refusal)));
  const stage = resolveStage(svc.value, req.stage ?? svc.value.stages[svc.value.stages.length - 1]!.name);
  if (!stage.ok) return void (await reply(renderRefusal(stage.refusal)));
  const to = stage.value;
  if (to.stacks.length > 1) return rollbackStacks(deps, { ...req, service: svc.value.name }, to, reply);
  const cfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  const stack = await describeStack(cfn, to.stack);
  if (stack && isCancellable(stack.StackStatus)) {
    return recover(deps, { ...req, service: svc.value.name }, to, stack, 'cancel_update', reply);
  }
  if (stack && isRollbackFailure(stack.StackStatus)) {
    return recover(deps, { ...req, service: svc.value.name }, to, stack, 'continue_rollback', reply);
  }
  if (isInProgress(stack?.StackStatus)) {
    await reply(
      `${to.stack} is busy (${stack?.StackStatus}): only an update (UPDATE_IN_PROGRESS) can be cancelled. Wait for it to settle and run /rollback again.`,
    );
    return undefined;
  }
  const why = whyNotUpdatable(to.stack, stack?.StackStatus);
  if (why) return void (await reply(`Cannot roll back ${svc.value.name}/${to.name}: ${esc(why)}.`));

  const releases = await deps.store.listCapped<Release>(releasesKey(svc.value.name, to.name), to.keepReleases);
  // A rollback undoes the newest promotion still in effect, or re-applies the release named with `to`.
  const target = chooseRollbackTarget(releases, req.release, { service: svc.value.name, stage: to.name });
  if (!target.ok) return void (await reply(renderRefusal(target.refusal)));

  // What is needed before the lock is taken, so a failure here leaves nothing held.
  const body = await unpackTemplate(target.snapshot.templateGz);
  const current = releases[0]!.after;
  const currentBody = await getTemplateBody(cfn, to.stack);
  const drifted =
    fingerprint(currentBody) !== current.fingerprint ||
    JSON.stringify((stack?.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]).sort()) !==
      JSON.stringify(current.parameters.map((p) => [p.key, p.value]).sort());

  // A rollback reviewer's rollback supersedes a waiting promotion now; anyone else's only once approved.
  const { lock, supersedes } = await supersedeNowOrLater(deps, to, req.requester);
  const opened = await openOperation(
    deps,
    {
      kind: 'rollback',
      service: svc.value.name,
      to: to.name,
      requester: req.requester,
      channel: req.channel,
      stateReason: drifted
        ? `${to.stack} changed outside the bot since release ${releases[0]!.id}: the rollback also undoes those changes.`
        : undefined,
      target: targetOf(to, stack),
      source: { stack: to.stack, region: to.region, fingerprint: target.snapshot.fingerprint },
      rollbackTarget: target.target,
      monitoring: UNWATCHED,
      ...(to.monitoring?.alarms.length ? { unwatchedAlarms: to.monitoring.alarms } : {}),
      ...(supersedes ? { supersedes } : {}),
    },
    to,
    { lock, reply },
  );
  if (!opened) return undefined;
  const { id } = opened.p;
  return planAndPublish(
    deps,
    opened,
    async (name) => {
      const cs = await createRollbackChangeSet(deps, to, req.requester, {
        service: svc.value.name,
        stack: to.stack,
        name,
        body,
        parameters: target.snapshot.parameters,
        uploadId: id,
        description: `promote-bot: rollback of ${svc.value.name}/${to.name} to ${target.label}, requested by ${req.requester}`,
      });
      return 'refusal' in cs ? cs : { arn: cs.arn, name };
    },
    `${to.name} already runs ${target.label}: nothing to roll back.`,
    reply,
  );
}

/**
 * /rollback of a stage with several stacks. A stack in flight (cancel_update) or stuck in a failed rollback
 * (continue_rollback) is recovered on its own; otherwise every stack is put back to the release's snapshot of
 * it, in reverse order (the last deployed first), each planned at once and reviewed in one summary (stacks.ts).
 */
async function rollbackStacks(
  deps: Deps,
  req: RollbackRequest & { service: string },
  to: StageConfig,
  reply: Reply,
): Promise<Promotion | undefined> {
  const cfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  const stacks = await Promise.all(to.stacks.map((name) => describeStack(cfn, name)));
  const cancellable = stacks.find((s) => s && isCancellable(s.StackStatus));
  if (cancellable) return recover(deps, req, to, cancellable, 'cancel_update', reply);
  const stuck = stacks.find((s) => s && isRollbackFailure(s.StackStatus));
  if (stuck) return recover(deps, req, to, stuck, 'continue_rollback', reply);
  for (const [i, name] of to.stacks.entries()) {
    const status = stacks[i]?.StackStatus;
    if (isInProgress(status)) {
      await reply(
        `${name} is busy (${status}): only an update (UPDATE_IN_PROGRESS) can be cancelled. Wait for it to settle and run /rollback again.`,
      );
      return undefined;
    }
    const why = whyNotUpdatable(name, status);
    if (why) return void (await reply(`Cannot roll back ${req.service}/${to.name}: ${esc(why)}.`));
  }
  const releases = await deps.store.listCapped<Release>(releasesKey(req.service, to.name), to.keepReleases);
  const target = chooseRollbackTarget(releases, req.release, { service: req.service, stage: to.name });
  if (!target.ok) return void (await reply(renderRefusal(target.refusal)));
  const from = snapshotSource(target.target);
  const release = from && releases.find((r) => r.id === from.release);
  const drifted: string[] = [];
  const parts: StackPart[] = [];
  for (const [i, name] of to.stacks.entries()) {
    const snap = release && from && stackSnapshot(release, from.side, name, to.stack);
    if (!snap) {
      return void (await reply(
        `Cannot roll back ${req.service}/${to.name}: ${from ? `release ${esc(from.release)}` : 'the release'} records no template of ${esc(name)}.`,
      ));
    }
    const current = stackSnapshot(releases[0]!, 'after', name, to.stack);
    if (current && fingerprint(await getTemplateBody(cfn, name)) !== current.fingerprint) drifted.push(name);
    parts.push({
      stack: name,
      target: targetOf(to, stacks[i], name),
      source: { stack: name, region: to.region, fingerprint: snap.fingerprint },
      status: 'planned',
    });
  }
  // The last deployed first: app before infra.
  parts.reverse();
  const { lock, supersedes } = await supersedeNowOrLater(deps, to, req.requester);
  const opened = await openOperation(
    deps,
    {
      kind: 'rollback',
      service: req.service,
      to: to.name,
      requester: req.requester,
      channel: req.channel,
      stateReason: drifted.length
        ? `${drifted.join(', ')} changed outside the bot since release ${releases[0]!.id}: the rollback also undoes those changes.`
        : undefined,
      target: parts[0]!.target,
      parts,
      rollbackTarget: target.target,
      monitoring: UNWATCHED,
      ...(to.monitoring?.alarms.length ? { unwatchedAlarms: to.monitoring.alarms } : {}),
      ...(supersedes ? { supersedes } : {}),
    },
    to,
    { lock, reply },
  );
  if (!opened) return undefined;
  return planStacks(deps, opened, `${to.name} already runs ${target.label}: nothing to roll back.`, reply);
}

/**
 * A change set putting `stack` back to a recorded template and its parameters (NoEcho ones keep their
 * current value: DescribeStacks masks them as "****", and re-sending that would set the secret to "****").
 */
export async function createRollbackChangeSet(
  deps: Deps,
  to: StageConfig,
  requester: string,
  o: {
    service: string;
    stack: string;
    name: string;
    body: string;
    parameters: Array<{ key: string; value: string }>;
    uploadId: string;
    description: string;
  },
): Promise<{ arn: string } | { refusal: string }> {
  const cfn = deps.aws.cloudFormation(accessOf(to), requester);
  const templateSource = await templateFor(deps, to, o.body, o.service, o.uploadId, requester);
  if ('refusal' in templateSource) return templateSource;
  const summary = await getTemplateSummary(cfn, templateSource);
  const declared = new Set((summary.Parameters ?? []).map((x) => x.ParameterKey));
  const noEcho = new Set((summary.Parameters ?? []).filter((x) => x.NoEcho).map((x) => x.ParameterKey));
  const parameters: Parameter[] = o.parameters
    .filter((x) => declared.has(x.key))
    .map((x) =>
      noEcho.has(x.key)
        ? { ParameterKey: x.key, UsePreviousValue: true }
        : { ParameterKey: x.key, ParameterValue: x.value },
    );
  const cs = await createChangeSet(cfn, {
    StackName: o.stack,
    ChangeSetName: o.name,
    ChangeSetType: 'UPDATE',
    ...templateSource,
    Parameters: parameters,
    Capabilities: summary.Capabilities ?? [],
    // A rollback watches no alarm (they are likely firing in the incident it is for): an empty trigger list.
    RollbackConfiguration: rollbackConfiguration(UNWATCHED),
    Description: o.description.slice(0, 1024),
  });
  return { arn: cs.arn };
}

/**
 * Cancel an update in flight, or continue a failed rollback: a rollback record with no change set, approved
 * under the stage's rollback rule (required: 0 runs at once), then one API call. Bound to what it acts on:
 * cancelling the bot's own running promotion acts through that promotion (it keeps its lock and reports in
 * its thread); cancelling an outside update or continuing a rollback takes the stage lock, so no promotion
 * starts meanwhile. At click time the stack must still be as shown (status and LastUpdatedTime).
 */
async function recover(
  deps: Deps,
  req: RollbackRequest,
  to: StageConfig,
  stack: Stack,
  mode: 'cancel_update' | 'continue_rollback',
  reply: Reply,
): Promise<Promotion | undefined> {
  const cfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  // The stack in flight or stuck (one of a multi-stack stage's).
  const name = stack.StackName ?? to.stack;
  // Read before anything is taken, so a failure here leaves nothing held.
  const stuck = mode === 'continue_rollback' ? await readStuckResources(cfn, stack) : undefined;
  const running = mode === 'cancel_update' ? await runningPromotion(deps, to, name) : undefined;
  const { lock, supersedes } = running
    ? { lock: false, supersedes: undefined }
    : await supersedeNowOrLater(deps, to, req.requester);
  const opened = await openOperation(
    deps,
    {
      kind: 'rollback',
      mode,
      stuck,
      ...(running ? { cancels: running.id } : {}),
      ...(supersedes ? { supersedes } : {}),
      service: req.service,
      to: to.name,
      requester: req.requester,
      channel: req.channel,
      target: targetOf(to, stack, name),
    },
    to,
    { lock, reply },
  );
  if (!opened) return undefined;
  let published: Promotion | undefined;
  try {
    published = await recordPlanAndPublish(
      deps,
      opened,
      { changes: [], counts: { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: 0 } },
      undefined,
      reply,
    );
  } catch (err) {
    const current = await deps.store.getPromotion(opened.p.id).catch(() => undefined);
    if (current?.state === 'planning') {
      await endOperation(deps, opened, { type: 'plan_failed', reason: (err as Error).message }, reply);
    }
    throw err;
  } finally {
    await opened.lease.release();
  }
  if (published?.state === 'awaiting_approval') await tellReviewers(deps, published);
  if (published?.state === 'approved') {
    await audit(deps, published, 'bot', 'executing without approval (rollback.required: 0)');
    void drive(deps, published.id);
  }
  return published;
}

/** The bot's own promotion executing on this stack of the stage now, if any (it holds the stack's lock). */
async function runningPromotion(deps: Deps, stage: StageConfig, stack: string): Promise<Promotion | undefined> {
  const raw = await deps.store.holder(lockKey(stage, stack));
  if (!raw) return undefined;
  let h: LockHolder;
  try {
    h = JSON.parse(raw) as LockHolder;
  } catch {
    return undefined;
  }
  const p = await deps.store.getPromotion(h.promotionId);
  return p?.state === 'executing' ? p : undefined;
}
