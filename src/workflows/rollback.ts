// /rollback and the release history it needs. CloudFormation's GetTemplate only returns the current
// template, so every successful promotion records what the stage ran before and after it.
import {
  type CloudFormationClient,
  DescribeStackEventsCommand,
  GetTemplateCommand,
  GetTemplateSummaryCommand,
  type Parameter,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { createChangeSet, describeStack, fingerprint } from '../aws/cloudformation.js';
import { isInProgress, whyNotUpdatable } from '../aws/stack-status.js';
import type { StageConfig } from '../config.js';
import { resolveService, resolveStage } from '../domain/command.js';
import { isPending } from '../domain/promotion.js';
import type { FailedResource, Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { renderPromotionMessage } from '../slack/views/summary.js';
import { accessOf, audit, type Deps, type LockHolder, lockKey, type Reply, targetOf, transition } from './deps.js';
import { drive } from './execute.js';
import { holdKey, releaseLock, takeLock } from './locks.js';
import { changeSetName, finishPlanning, templateFor } from './plan.js';
import { type Release, releasesKey, type StageSnapshot, unpackTemplate } from './releases.js';
import { closePending } from './review.js';

export async function unhold(
  deps: Deps,
  req: { service: string; stage: string; user: string; channel: string },
  reply: Reply,
): Promise<void> {
  const svc = resolveService(deps.config, req.service, req.channel);
  if (!svc.ok) return reply(svc.refusal);
  const stage = resolveStage(svc.value, req.stage);
  if (!stage.ok) return reply(stage.refusal);
  const key = holdKey(svc.value.name, stage.value.name);
  if (!(await deps.store.getJson(key))) return reply(`${svc.value.name}/${stage.value.name} is not held.`);
  await deps.store.del(key);
  await deps.store.appendAudit({
    at: deps.now().toISOString(),
    service: svc.value.name,
    stage: stage.value.name,
    actor: req.user,
    action: 'unheld',
  });
  deps.log.info('audit', {
    audit: { actor: req.user, action: 'unheld', service: svc.value.name, stage: stage.value.name },
  });
  await reply(`${svc.value.name}/${stage.value.name} is no longer held: promotions can run again.`);
}

export interface RollbackRequest {
  service: string;
  stage?: string;
  release?: string;
  requester: string;
  channel: string;
}

/** Cancels a promotion waiting on this stack: a rollback wins over it. */
async function supersedePending(deps: Deps, stage: StageConfig, by: string): Promise<void> {
  const key = lockKey(stage);
  const raw = await deps.store.holder(key);
  if (!raw) return;
  const h = JSON.parse(raw) as LockHolder;
  const p = await deps.store.getPromotion(h.promotionId);
  if (p && (isPending(p.state) || p.state === 'approved')) {
    const t = await transition(
      deps,
      p.id,
      { type: 'cancel', user: by, force: true, reason: `superseded by a rollback of ${stage.name} by <@${by}>` },
      by,
    );
    if (t.ok) await closePending(deps, t);
  }
}

export async function runRollback(deps: Deps, req: RollbackRequest, reply: Reply): Promise<Promotion | undefined> {
  const svc = resolveService(deps.config, req.service, req.channel);
  if (!svc.ok) return void (await reply(svc.refusal));
  const stage = resolveStage(svc.value, req.stage ?? svc.value.stages[svc.value.stages.length - 1]!.name);
  if (!stage.ok) return void (await reply(stage.refusal));
  const to = stage.value;
  const cfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  const stack = await describeStack(cfn, to.stack);
  if (stack?.StackStatus === 'UPDATE_IN_PROGRESS') {
    return recover(deps, { ...req, service: svc.value.name }, to, stack, 'cancel_update', reply);
  }
  if (stack?.StackStatus === 'UPDATE_ROLLBACK_FAILED') {
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
  if (releases.length === 0) {
    return void (await reply(
      `No releases recorded for ${svc.value.name}/${to.name}: there is nothing the bot can roll back to.`,
    ));
  }
  let target: { snapshot: StageSnapshot; label: string };
  if (req.release) {
    const r = releases.find((x) => x.id === req.release);
    if (!r) {
      return void (await reply(
        `Unknown release "${esc(req.release)}" for ${svc.value.name}/${to.name}. Known releases (newest first): ${releases.map((x) => `\`${x.id}\``).join(', ')}.`,
      ));
    }
    target = { snapshot: r.after, label: `release ${r.id}` };
  } else {
    target = { snapshot: releases[0]!.before, label: `what ran before release ${releases[0]!.id}` };
  }

  // What is needed before the lock is taken, so a failure here leaves nothing held.
  const body = unpackTemplate(target.snapshot.templateGz);
  const current = releases[0]!.after;
  const tpl = await cfn.send(new GetTemplateCommand({ StackName: to.stack, TemplateStage: 'Original' }));
  const drifted =
    fingerprint(tpl.TemplateBody ?? '') !== current.fingerprint ||
    JSON.stringify((stack?.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]).sort()) !==
      JSON.stringify(current.parameters.map((p) => [p.key, p.value]).sort());

  await supersedePending(deps, to, req.requester);
  const id = deps.newId();
  const rule = to.rollback;
  const holder = await takeLock(
    deps,
    to,
    { promotionId: id, user: req.requester, service: svc.value.name, kind: 'rollback' },
    reply,
    deps.timing.planningTimeoutMs + rule.expiresAfterMs,
  );
  if (!holder) return undefined;
  const at = deps.now().toISOString();
  const p: Promotion = {
    id,
    version: 1,
    kind: 'rollback',
    service: svc.value.name,
    to: to.name,
    requester: req.requester,
    channel: req.channel,
    state: 'planning',
    stateReason: drifted
      ? `${to.stack} changed outside the bot since release ${releases[0]!.id}: the rollback also undoes those changes.`
      : undefined,
    createdAt: at,
    updatedAt: at,
    target: targetOf(to, stack),
    source: { stack: to.stack, region: to.region, fingerprint: target.snapshot.fingerprint },
    approvals: [],
  };
  try {
    await deps.store.createPromotion(p, { active: true, ttlMs: deps.timing.retentionMs });
  } catch (err) {
    await deps.store.release(lockKey(to), holder).catch(() => undefined);
    throw err;
  }
  await audit(deps, p, req.requester, 'rollback requested', { target: target.label, drifted });
  crashPoint('after-lock');
  try {
    const templateSource = await templateFor(deps, to, body, svc.value.name, id, req.requester);
    if ('refusal' in templateSource) throw new Error(templateSource.refusal);
    const summary = await cfn.send(new GetTemplateSummaryCommand(templateSource));
    const declared = new Set((summary.Parameters ?? []).map((x) => x.ParameterKey));
    // DescribeStacks masks NoEcho values as "****": re-sending them would set the secret to "****".
    const noEcho = new Set((summary.Parameters ?? []).filter((x) => x.NoEcho).map((x) => x.ParameterKey));
    const parameters: Parameter[] = target.snapshot.parameters
      .filter((x) => declared.has(x.key))
      .map((x) =>
        noEcho.has(x.key)
          ? { ParameterKey: x.key, UsePreviousValue: true }
          : { ParameterKey: x.key, ParameterValue: x.value },
      );
    const name = changeSetName('rollback', svc.value.name, undefined, to.name, id);
    const cs = await createChangeSet(cfn, {
      StackName: to.stack,
      ChangeSetName: name,
      ChangeSetType: 'UPDATE',
      ...templateSource,
      Parameters: parameters,
      Capabilities: summary.Capabilities ?? [],
      Description:
        `promote-bot: rollback of ${svc.value.name}/${to.name} to ${target.label}, requested by ${req.requester}`.slice(
          0,
          1024,
        ),
    });
    crashPoint('after-create-change-set');
    return await finishPlanning(
      deps,
      p,
      cs.arn,
      name,
      reply,
      `${to.name} already runs ${target.label}: nothing to roll back.`,
    );
  } catch (err) {
    deps.log.error('planning rollback', { err, promotionId: id });
    await transition(deps, id, { type: 'plan_failed', reason: (err as Error).message });
    await releaseLock(deps, p);
    await reply(`Planning the rollback failed: ${esc((err as Error).message)}`);
    return undefined;
  }
}

/** Resources whose rollback failed: failures after the stack's last UPDATE_ROLLBACK_IN_PROGRESS event. */
export async function stuckResources(cfn: CloudFormationClient, stack: Stack): Promise<FailedResource[]> {
  const stuck = new Map<string, FailedResource>();
  let next: string | undefined;
  for (let page = 0; page < 10; page++) {
    const out = await cfn.send(new DescribeStackEventsCommand({ StackName: stack.StackName, NextToken: next }));
    for (const ev of out.StackEvents ?? []) {
      const isStack = ev.PhysicalResourceId === stack.StackId || ev.LogicalResourceId === stack.StackName;
      if (isStack && ev.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS') return [...stuck.values()];
      if (
        !isStack &&
        ev.ResourceStatus?.endsWith('_FAILED') &&
        ev.LogicalResourceId &&
        !stuck.has(ev.LogicalResourceId)
      ) {
        stuck.set(ev.LogicalResourceId, {
          logicalId: ev.LogicalResourceId,
          resourceType: ev.ResourceType,
          status: ev.ResourceStatus,
          reason: ev.ResourceStatusReason,
        });
      }
    }
    next = out.NextToken;
    if (!next) break;
  }
  return [...stuck.values()];
}

/**
 * Cancel an update in flight, or continue a failed rollback: a rollback record with no change set, approved
 * under the stage's rollback rule (required: 0 runs at once), then one API call.
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
  const id = deps.newId();
  const rule = to.rollback;
  if (mode === 'continue_rollback') {
    const holder = await takeLock(
      deps,
      to,
      { promotionId: id, user: req.requester, service: req.service, kind: 'rollback' },
      reply,
      deps.timing.planningTimeoutMs + rule.expiresAfterMs,
    );
    if (!holder) return undefined;
  }
  const stuck = mode === 'continue_rollback' ? await stuckResources(cfn, stack) : undefined;
  const at = deps.now().toISOString();
  let p: Promotion = {
    id,
    version: 1,
    kind: 'rollback',
    mode,
    stuck,
    service: req.service,
    to: to.name,
    requester: req.requester,
    channel: req.channel,
    state: 'planning',
    createdAt: at,
    updatedAt: at,
    target: targetOf(to, stack),
    approvals: [],
  };
  await deps.store.createPromotion(p, { active: true, ttlMs: deps.timing.retentionMs });
  await audit(deps, p, req.requester, `rollback requested (${mode})`, {
    stackStatus: stack.StackStatus,
    stuck: stuck?.map((r) => r.logicalId),
  });
  const planned = await transition(deps, id, {
    type: 'planned',
    plan: { changes: [], counts: { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: 0 } },
    rule,
  });
  if (!planned.ok) return undefined;
  p = planned.after;
  const view = renderPromotionMessage({ promotion: p, rule, now: deps.now() });
  const ts = (await deps.slack.post({ channel: p.channel, text: view.text, blocks: view.blocks })).ts;
  crashPoint('after-summary-post');
  const posted = await transition(deps, id, { type: 'posted', ts });
  if (posted.ok) p = posted.after;
  crashPoint('after-summary-recorded');
  if (p.state === 'approved') {
    await audit(deps, p, 'bot', `executing without approval (rollback.required: 0)`);
    void drive(deps, p.id);
  }
  return p;
}
