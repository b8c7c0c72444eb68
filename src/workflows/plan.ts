import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import {
  carryParameters,
  createChangeSet,
  describeStack,
  readSourceBuild,
  rollbackConfiguration,
  type SourceBuild,
  TEMPLATE_BODY_LIMIT,
} from '../aws/cloudformation.js';
import { uploadTemplate } from '../aws/s3.js';
import { sourceHealth, whyNotUpdatable } from '../aws/stack-status.js';
import type { ServiceConfig, StageConfig } from '../config.js';
import { resolvePath, resolveService } from '../domain/command.js';
import type { Refusal, StageHold } from '../domain/refusals.js';
import { type Release, releaseRunning } from '../domain/releases.js';
import { groupDigits } from '../domain/text.js';
import type { Promotion, StackPart } from '../domain/types.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { accessOf, accountOf, type Deps, type Reply, targetOf, transition } from './deps.js';
import { holdKey, refuseIfLocked } from './locks.js';
import { openOperation, planAndPublish } from './operation.js';
import { releasesKey } from './releases.js';
import { planStacks } from './stacks.js';

export interface PromoteRequest {
  service: string;
  from?: string;
  to: string;
  requester: string;
  channel: string;
}

/** Checks the request against the config; the refusal or the resolved stages. */
export function checkRequest(
  deps: Deps,
  req: PromoteRequest,
): { ok: true; service: ServiceConfig; from: StageConfig; to: StageConfig } | { ok: false; refusal: Refusal } {
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
    await reply(renderRefusal(checked.refusal));
    return undefined;
  }
  const { service, from, to } = checked;
  const _request = { ...req, service: service.name, from: from.name, to: to.name };

  const hold = await deps.store.getJson<StageHold>(holdKey(service.name, to.name));
  if (hold) {
    await reply(renderRefusal({ code: 'held', service: service.name, stage: to.name, hold }, deps.now()));
    return undefined;
  }

  if (await refuseIfLocked(deps, to, reply)) return undefined;

  const targetCfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  if (to.stacks.length > 1) return planStacksPromotion(deps, req, { service, from, to }, reply);
  const targetStack = await describeStack(targetCfn, to.stack);
  const why = whyNotUpdatable(to.stack, targetStack?.StackStatus);
  if (why) {
    await reply(`Cannot promote ${service.name} to ${to.name}: ${esc(why)}.`);
    return undefined;
  }

  // Only a working build is promoted: a source still deploying, failed or never deployed is refused before
  // anything is taken or created.
  const sourceCfn = deps.aws.cloudFormation(accessOf(from), req.requester);
  const unhealthy = sourceRefusal(service.name, from, await describeStack(sourceCfn, from.stack));
  if (unhealthy) {
    await reply(renderRefusal(unhealthy));
    return undefined;
  }

  const opened = await openOperation(
    deps,
    {
      kind: 'promote',
      service: service.name,
      from: from.name,
      to: to.name,
      requester: req.requester,
      channel: req.channel,
      target: targetOf(to, targetStack),
      // What the change set is created with, so the summary and progress show what CloudFormation watches.
      ...(to.monitoring ? { monitoring: to.monitoring } : {}),
    },
    to,
    { lock: true, reply },
  );
  if (!opened) return undefined;
  const { id } = opened.p;
  return planAndPublish(
    deps,
    opened,
    async (name) => {
      const source = await readSourceBuild(sourceCfn, from.stack);
      if (!source) return { refusal: `the source stack ${from.stack} (${from.name}) does not exist` };
      const health = sourceStillHealthy(source.stack, from.stack, from.name);
      if ('refusal' in health) return health;
      const sourceReleases = await deps.store.listCapped<Release>(
        releasesKey(service.name, from.name),
        from.keepReleases,
      );
      const release = releaseRunning(sourceReleases, source.fingerprint);
      const sourced = await transition(deps, id, {
        type: 'sourced',
        source: {
          stack: from.stack,
          region: from.region,
          account: accountOf(from),
          fingerprint: source.fingerprint,
          lastUpdatedTime: (source.stack.LastUpdatedTime ?? source.stack.CreationTime)?.toISOString(),
          version: source.version,
          ...(health.rolledBack ? { rolledBack: true } : {}),
          ...(release ? { release } : {}),
        },
      });
      if (!sourced.ok) return { refusal: 'it ended while planning' };
      const cs = await createPromotionChangeSet(deps, targetCfn, to, {
        p: opened.p,
        stack: to.stack,
        name,
        source,
        sourceStack: from.stack,
        target: targetStack,
        uploadId: id,
      });
      return 'refusal' in cs ? cs : { arn: cs.arn, name };
    },
    `${to.name} already matches ${from.name}: nothing to promote.`,
    reply,
  );
}

/**
 * The change set of a promotion on `stack`: the source build's template (through the template bucket when it is
 * too large), the target's parameters carried over, the stage's rollback triggers; shared by one stack and
 * several (stacks.ts).
 */
export async function createPromotionChangeSet(
  deps: Deps,
  cfn: CloudFormationClient,
  to: StageConfig,
  o: {
    p: Pick<Promotion, 'service' | 'from' | 'to' | 'requester' | 'monitoring'>;
    stack: string;
    name: string;
    source: SourceBuild;
    sourceStack: string;
    target: Stack | undefined;
    uploadId: string;
  },
): Promise<{ arn: string } | { refusal: string }> {
  const { p, source } = o;
  const templateSource = await templateFor(deps, to, source.templateBody, p.service, o.uploadId, p.requester);
  if ('refusal' in templateSource) return templateSource;
  const cs = await createChangeSet(cfn, {
    StackName: o.stack,
    ChangeSetName: o.name,
    ChangeSetType: 'UPDATE',
    ...templateSource,
    Parameters: carryParameters(source.declared, o.target?.Parameters),
    Capabilities: source.capabilities,
    // Without it CloudFormation keeps whatever triggers the stack had (set outside the bot, say).
    ...(p.monitoring ? { RollbackConfiguration: rollbackConfiguration(p.monitoring) } : {}),
    Description:
      `promote-bot: ${p.service} ${p.from} -> ${p.to} requested by ${p.requester}, source ${o.sourceStack} ${source.fingerprint.slice(0, 12)}`.slice(
        0,
        1024,
      ),
  });
  return { arn: cs.arn };
}

/**
 * The source stack as read again when its template is taken: it may have started deploying since it was
 * checked. Its health, or the reason the plan ends.
 */
export function sourceStillHealthy(
  stack: Stack,
  name: string,
  stage: string,
): { refusal: string } | { rolledBack: boolean } {
  const health = sourceHealth(stack.StackStatus);
  if (health.ok) return { rolledBack: !!health.rolledBack };
  return {
    refusal: `the source stack ${name} (${stage}) is in ${stack.StackStatus ?? 'an unknown status'}: only a working build is promoted`,
  };
}

/** The refusal for a source stack that runs no working build (see sourceHealth), or undefined. */
export function sourceRefusal(
  service: string,
  from: StageConfig,
  stack: Stack | undefined,
  name = from.stack,
): Refusal | undefined {
  const where = { code: 'source_unhealthy' as const, service, stage: from.name, stack: name };
  if (!stack) return { ...where, why: 'missing' };
  const health = sourceHealth(stack.StackStatus);
  return health.ok ? undefined : { ...where, status: stack.StackStatus, why: health.why };
}

/**
 * A promotion of a stage with several stacks: every target stack must be updatable; each is paired with the
 * source stage's stack at the same position, and all are planned at once (stacks.ts).
 */
async function planStacksPromotion(
  deps: Deps,
  req: PromoteRequest,
  { service, from, to }: { service: ServiceConfig; from: StageConfig; to: StageConfig },
  reply: Reply,
): Promise<Promotion | undefined> {
  const cfn = deps.aws.cloudFormation(accessOf(to), req.requester);
  const stacks = await Promise.all(to.stacks.map((name) => describeStack(cfn, name)));
  for (const [i, name] of to.stacks.entries()) {
    const why = whyNotUpdatable(name, stacks[i]?.StackStatus);
    if (why) {
      await reply(`Cannot promote ${service.name} to ${to.name}: ${esc(why)}.`);
      return undefined;
    }
  }
  // Only a working build is promoted: every source stack is checked before anything is taken or created.
  const sourceCfn = deps.aws.cloudFormation(accessOf(from), req.requester);
  const sources = await Promise.all(from.stacks.map((name) => describeStack(sourceCfn, name)));
  for (const [i, name] of from.stacks.entries()) {
    const unhealthy = sourceRefusal(service.name, from, sources[i], name);
    if (unhealthy) {
      await reply(renderRefusal(unhealthy));
      return undefined;
    }
  }
  const parts: StackPart[] = to.stacks.map((name, i) => ({
    stack: name,
    target: targetOf(to, stacks[i], name),
    status: 'planned',
  }));
  const opened = await openOperation(
    deps,
    {
      kind: 'promote',
      service: service.name,
      from: from.name,
      to: to.name,
      requester: req.requester,
      channel: req.channel,
      target: parts[0]!.target,
      parts,
      ...(to.monitoring ? { monitoring: to.monitoring } : {}),
    },
    to,
    { lock: true, reply },
  );
  if (!opened) return undefined;
  return planStacks(deps, opened, `${to.name} already matches ${from.name}: nothing to promote.`, reply);
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
        `the template is ${groupDigits(size)} bytes, over CloudFormation's ${groupDigits(TEMPLATE_BODY_LIMIT)}-byte TemplateBody limit. ` +
        `Set templateBucket on stage ${stage.name} (an S3 bucket in the target account the bot's role can write to) so the template goes through S3.`,
    };
  }
  const key = `promote-bot/${service}/${stage.name}/${id}.template`;
  return uploadTemplate(deps.aws.s3(accessOf(stage), actor), {
    bucket: stage.templateBucket,
    key,
    body,
    region: stage.region,
  });
}
