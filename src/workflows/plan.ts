// /promote: from a checked request to a change set summary in the channel.
import type { Stack } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { formatDistanceStrict } from 'date-fns';
import {
  carryParameters,
  createChangeSet,
  deleteChangeSet,
  describeAllChanges,
  describeStack,
  isNoChangesReason,
  readSourceBuild,
  TEMPLATE_BODY_LIMIT,
  waitForChangeSet,
} from '../aws/cloudformation.js';
import { whyNotUpdatable } from '../aws/stack-status.js';
import type { ServiceConfig, StageConfig } from '../config.js';
import { buildPlan } from '../domain/classify.js';
import { resolvePath, resolveService, unescapeSlack } from '../domain/command.js';
import type { Promotion } from '../domain/types.js';
import { crashPoint } from '../faults.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { slackErrorCode } from '../slack/port.js';
import { renderChangeList } from '../slack/views/change-list.js';
import { BLOCK_ID, renderPromotionMessage } from '../slack/views/summary.js';
import { accessOf, accountOf, audit, type Deps, lockKey, type Reply, ruleOf, targetOf, transition } from './deps.js';
import { drive } from './execute.js';
import { holdKey, releaseLock, takeLock } from './locks.js';

export interface PromoteRequest {
  service: string;
  from?: string;
  to: string;
  requester: string;
  channel: string;
}

/** A change set name: [a-zA-Z][-a-zA-Z0-9]*, ≤ 128, unique per promotion. */
export function changeSetName(kind: string, service: string, from: string | undefined, to: string, id: string): string {
  const raw = [kind, service, from, 'to', to, id].filter(Boolean).join('-');
  return raw
    .replace(/[^-a-zA-Z0-9]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 128);
}

function newPromotion(
  deps: Deps,
  req: PromoteRequest,
  id: string,
  to: StageConfig,
  stack: Stack | undefined,
): Promotion {
  const at = deps.now().toISOString();
  return {
    id,
    version: 1,
    kind: 'promote',
    service: req.service,
    from: req.from,
    to: to.name,
    requester: req.requester,
    channel: req.channel,
    state: 'planning',
    createdAt: at,
    updatedAt: at,
    target: targetOf(to, stack),
    approvals: [],
  };
}

/** Ends a planning promotion that did not produce a plan, telling the requester why. */
async function endPlanning(
  deps: Deps,
  p: Promotion,
  kind: 'nothing_to_promote' | 'plan_failed',
  reason: string,
  reply: Reply,
): Promise<void> {
  await transition(deps, p.id, { type: kind, reason });
  await releaseLock(deps, p);
  await reply(kind === 'nothing_to_promote' ? reason : `Planning ${esc(p.service)} failed: ${esc(reason)}`);
}

/** Checks the request against the config; the refusal (already escaped) or the resolved stages. */
export function checkRequest(
  deps: Deps,
  req: PromoteRequest,
): { ok: true; service: ServiceConfig; from: StageConfig; to: StageConfig } | { ok: false; refusal: string } {
  const service = resolveService(deps.config, req.service, req.channel);
  if (!service.ok) return service;
  const path = resolvePath(service.value, req.from, req.to);
  if (!path.ok) return path;
  return { ok: true, service: service.value, ...path.value };
}

/**
 * Plans a promotion: checks, lock, change set, summary. Expected refusals go to `reply`; faults are
 * reported to the requester and logged, and leave nothing locked.
 */
export async function planPromotion(deps: Deps, req: PromoteRequest, reply: Reply): Promise<Promotion | undefined> {
  const checked = checkRequest(deps, req);
  if (!checked.ok) {
    await reply(checked.refusal);
    return undefined;
  }
  const { service, from, to } = checked;
  const request = { ...req, service: service.name, from: from.name, to: to.name };

  const hold = await deps.store.getJson<{ user: string; at: string; reason: string }>(holdKey(service.name, to.name));
  if (hold) {
    await reply(
      `${service.name}/${to.name} is held since ${formatDistanceStrict(new Date(hold.at), deps.now(), { addSuffix: true })}: ${esc(hold.reason)}. ` +
        `Run \`/promote unhold ${service.name} ${to.name}\` when it is safe to promote again.`,
    );
    return undefined;
  }

  const targetCfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  const targetStack = await describeStack(targetCfn, to.stack);
  const why = whyNotUpdatable(to.stack, targetStack?.StackStatus);
  if (why) {
    await reply(`Cannot promote ${service.name} to ${to.name}: ${esc(why)}.`);
    return undefined;
  }

  const id = deps.newId();
  const rule = to.approvals;
  const lockTtl = deps.timing.planningTimeoutMs + rule.expiresAfterMs;
  const holder = await takeLock(
    deps,
    to,
    { promotionId: id, user: req.requester, service: service.name, kind: 'promotion' },
    reply,
    lockTtl,
  );
  if (!holder) return undefined;

  let p = newPromotion(deps, request, id, to, targetStack);
  try {
    await deps.store.createPromotion(p, { active: true, ttlMs: deps.timing.retentionMs });
  } catch (err) {
    await deps.store.release(lockKey(to), holder).catch(() => undefined);
    throw err;
  }
  await audit(deps, p, req.requester, 'requested', { from: from.name, to: to.name });
  crashPoint('after-lock');

  try {
    const sourceCfn = deps.aws.cloudFormation(accessOf(from), req.requester);
    const source = await readSourceBuild(sourceCfn, from.stack);
    if (!source) {
      await endPlanning(deps, p, 'plan_failed', `the source stack ${from.stack} (${from.name}) does not exist`, reply);
      return undefined;
    }
    const sourced = await transition(deps, id, {
      type: 'sourced',
      source: {
        stack: from.stack,
        region: from.region,
        account: accountOf(from),
        fingerprint: source.fingerprint,
        lastUpdatedTime: (source.stack.LastUpdatedTime ?? source.stack.CreationTime)?.toISOString(),
        version: source.version,
      },
    });
    if (!sourced.ok) return undefined; // cancelled meanwhile (a rollback won)
    p = sourced.after;

    const name = changeSetName('promote', service.name, from.name, to.name, id);
    const templateSource = await templateFor(deps, to, source.templateBody, service.name, id, req.requester);
    if ('refusal' in templateSource) {
      await endPlanning(deps, p, 'plan_failed', templateSource.refusal, reply);
      return undefined;
    }
    const cs = await createChangeSet(targetCfn, {
      StackName: to.stack,
      ChangeSetName: name,
      ChangeSetType: 'UPDATE',
      ...templateSource,
      Parameters: carryParameters(source.declared, targetStack?.Parameters),
      Capabilities: source.capabilities,
      Description:
        `promote-bot: ${service.name} ${from.name} -> ${to.name} requested by ${req.requester}, source ${from.stack} ${source.fingerprint.slice(0, 12)}`.slice(
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
      `${to.name} already matches ${from.name}: nothing to promote.`,
    );
  } catch (err) {
    deps.log.error('planning promotion', { err, promotionId: id });
    await endPlanning(deps, p, 'plan_failed', (err as Error).message, reply);
    return undefined;
  }
}

/** TemplateBody when it fits, else upload to the stage's templateBucket and use TemplateURL. */
export async function templateFor(
  deps: Deps,
  stage: StageConfig,
  body: string,
  service: string,
  id: string,
  actor: string,
): Promise<{ TemplateBody: string } | { TemplateURL: string } | { refusal: string }> {
  const size = Buffer.byteLength(body, 'utf8');
  if (size <= TEMPLATE_BODY_LIMIT) return { TemplateBody: body };
  if (!stage.templateBucket) {
    return {
      refusal:
        `the template is ${size.toLocaleString('en-US')} bytes, over CloudFormation's ${TEMPLATE_BODY_LIMIT.toLocaleString('en-US')}-byte TemplateBody limit. ` +
        `Set templateBucket on stage ${stage.name} (an S3 bucket in the target account the bot's role can write to) so the template goes through S3.`,
    };
  }
  const key = `promote-bot/${service}/${stage.name}/${id}.template`;
  const s3 = deps.aws.s3(accessOf(stage), actor);
  try {
    await s3.send(new PutObjectCommand({ Bucket: stage.templateBucket, Key: key, Body: body }));
  } catch (cause) {
    throw new Error(`uploading the template to s3://${stage.templateBucket}/${key}`, { cause });
  }
  return { TemplateURL: `https://${stage.templateBucket}.s3.${stage.region}.amazonaws.com/${key}` };
}

/**
 * Waits for the change set, then records the plan and posts the summary (or ends the promotion when
 * there is nothing to do). Shared by promotions and rollbacks.
 */
export async function finishPlanning(
  deps: Deps,
  p: Promotion,
  arn: string,
  name: string,
  reply: Reply,
  nothingMessage: string,
): Promise<Promotion | undefined> {
  const stage = deps.config.services[p.service]!.stages.find((s) => s.name === p.to)!;
  const cfn = deps.aws.cloudFormation(accessOf(stage), p.requester);
  const described = await waitForChangeSet(cfn, arn, { sleep: deps.sleep });
  if (described.Status === 'FAILED') {
    await deleteChangeSet(cfn, arn).catch((err) => deps.log.warn('deleting failed change set', { err, arn }));
    if (isNoChangesReason(described.StatusReason)) {
      await endPlanning(deps, p, 'nothing_to_promote', nothingMessage, reply);
    } else {
      await endPlanning(deps, p, 'plan_failed', described.StatusReason ?? 'the change set failed', reply);
    }
    return undefined;
  }
  const plan = buildPlan(await describeAllChanges(cfn, arn));
  const rule = ruleOf(deps, p);
  const planned = await transition(deps, p.id, { type: 'planned', changeSet: { arn, name }, plan, rule }, p.requester);
  if (!planned.ok) {
    // Cancelled while planning (e.g. by a rollback): the change set is not needed.
    await deleteChangeSet(cfn, arn).catch(() => undefined);
    return undefined;
  }
  let current = planned.after;
  const view = renderPromotionMessage({ promotion: current, rule, now: deps.now() });
  let ts: string;
  try {
    ts = (await deps.slack.post({ channel: p.channel, text: view.text, blocks: view.blocks })).ts;
  } catch (err) {
    const code = slackErrorCode(err);
    const cancelled = await transition(deps, p.id, {
      type: 'cancel',
      user: 'bot',
      force: true,
      reason: 'summary could not be posted',
    });
    deps.log.error('posting summary', { err, promotionId: p.id });
    if (!cancelled.ok) return undefined; // it moved on meanwhile: leave its lock and change set alone
    await releaseLock(deps, p);
    await deleteChangeSet(cfn, arn).catch(() => undefined);
    await reply(
      code === 'not_in_channel' || code === 'channel_not_found'
        ? 'I am not in this channel: invite me (`/invite @promote-bot`) and run the command again.'
        : `Posting the summary failed (${esc(code ?? (err as Error).message)}); nothing was changed.`,
    );
    return undefined;
  }
  crashPoint('after-summary-post');
  const posted = await transition(deps, p.id, { type: 'posted', ts });
  if (posted.ok) current = posted.after;
  crashPoint('after-summary-recorded');
  // When the summary could not show every change, the full list goes in the thread.
  if (view.blocks.some((b) => b.block_id === BLOCK_ID.leftOut)) await shareChangeList(deps, current, ts);
  if (current.state === 'approved') {
    // required: 0 — no review for this stage; recorded as such.
    await audit(
      deps,
      current,
      'bot',
      `executing without approval (${p.kind === 'rollback' ? 'rollback' : 'approvals'}.required: 0)`,
    );
    void drive(deps, current.id);
  }
  return current;
}

/** Posts the full change list in the thread: as messages when short, as a file when long. */
export async function shareChangeList(deps: Deps, p: Promotion, threadTs: string): Promise<void> {
  if (!p.plan) return;
  const list = renderChangeList(p.plan);
  try {
    if (list.length <= 3_500) {
      await deps.slack.post({ channel: p.channel, thread_ts: threadTs, text: list });
    } else {
      await deps.slack.upload({
        channel: p.channel,
        thread_ts: threadTs,
        filename: `${p.service}-${p.to}-changes.txt`,
        title: `All ${p.plan.counts.total} changes: ${p.service} → ${p.to}`,
        // A file is not mrkdwn: no mention can fire from it, so it carries the plain text.
        content: unescapeSlack(list),
        comment: `All ${p.plan.counts.total} changes in this change set.`,
      });
    }
  } catch (err) {
    deps.log.error('sharing the change list', { err, promotionId: p.id });
  }
}
