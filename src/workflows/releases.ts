// Release history: what each stage ran before and after every successful promotion or rollback.
// CloudFormation's GetTemplate only returns the current template, so /rollback depends on this record.
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { describeStack, fingerprint, getTemplateBody } from '../aws/cloudformation.js';
import type { StageConfig } from '../config.js';
import { channelMayUse, resolveService, resolveStage } from '../domain/command.js';
import type { Release, StageSnapshot } from '../domain/releases.js';
import { allApprovers, anyPartRan } from '../domain/stacks.js';
import type { Promotion } from '../domain/types.js';
import { renderHistory } from '../slack/views/history.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { KEYS } from '../store/keys.js';
import { accessOf, audit, type Deps } from './deps.js';

export type { Release, StageSnapshot } from '../domain/releases.js';

export const releasesKey = KEYS.releases;
const snapshotKey = KEYS.snapshot;

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

// Compressed on libuv's thread pool (nodejs.org/api/zlib.html#threadpool-usage-and-performance-considerations), not
// on the event loop: gzip of a 1 MB template is tens of milliseconds of CPU.
export async function packTemplate(body: string): Promise<string> {
  return (await gzipAsync(body)).toString('base64');
}

export async function unpackTemplate(gz: string): Promise<string> {
  return (await gunzipAsync(Buffer.from(gz, 'base64'))).toString('utf8');
}

async function snapshot(
  deps: Deps,
  stage: StageConfig,
  actor: string,
  stackName = stage.stack,
): Promise<StageSnapshot | undefined> {
  const cfn = deps.aws.cloudFormation(accessOf(stage), actor);
  const stack = await describeStack(cfn, stackName);
  if (!stack) return undefined;
  const body = await getTemplateBody(cfn, stackName);
  return {
    templateGz: await packTemplate(body),
    parameters: (stack.Parameters ?? []).map((p) => ({ key: p.ParameterKey ?? '', value: p.ParameterValue ?? '' })),
    fingerprint: fingerprint(body),
  };
}

/** Records what the stage runs before an execution starts (called just before ExecuteChangeSet). */
export async function recordBefore(deps: Deps, p: Promotion, stage: StageConfig): Promise<void> {
  if (p.parts) {
    // Multi-stack: the stack about to run, each when its turn comes.
    const snap = await snapshot(deps, stage, p.requester, p.target.stack);
    if (snap) await deps.store.setJson(KEYS.stackSnapshot(p.id, p.target.stack), snap, deps.timing.retentionMs);
    return;
  }
  const snap = await snapshot(deps, stage, p.requester);
  if (snap) await deps.store.setJson(snapshotKey(p.id), snap, deps.timing.retentionMs);
}

/**
 * Every stack of a multi-stack stage before and after the operation: the recorded snapshot of each stack that
 * ran, and for the others what runs now (they did not change). Undefined when a stack cannot be read.
 */
async function stackSnapshots(deps: Deps, p: Promotion, stage: StageConfig): Promise<Release['stacks'] | undefined> {
  const stacks: NonNullable<Release['stacks']> = [];
  for (const name of stage.stacks) {
    const after = await snapshot(deps, stage, p.requester, name);
    if (!after) return undefined;
    const ran = p.parts?.some((x) => x.stack === name && x.execution);
    const before = ran ? await deps.store.getJson<StageSnapshot>(KEYS.stackSnapshot(p.id, name)) : after;
    if (!before) return undefined;
    stacks.push({ stack: name, before, after });
  }
  return stacks;
}

export async function recordRelease(deps: Deps, p: Promotion): Promise<void> {
  const stage = deps.config.services[p.service]?.stages.find((s) => s.name === p.to);
  if (!stage) return;
  const stacks = p.parts ? await stackSnapshots(deps, p, stage) : undefined;
  // A multi-stack operation some of whose stacks ran is recorded whatever its end (the stage changed).
  if (p.state !== 'succeeded' && !(stacks && anyPartRan(p))) return;
  const before = stacks ? stacks[0]?.before : await deps.store.getJson<StageSnapshot>(snapshotKey(p.id));
  const after = stacks ? stacks[0]?.after : await snapshot(deps, stage, p.requester);
  if (!before || !after) return;
  const release: Release = {
    id: `r${p.id.slice(0, 6)}`,
    promotionId: p.id,
    kind: p.kind,
    service: p.service,
    stage: p.to,
    from: p.from,
    before,
    after,
    ...(stacks ? { stacks } : {}),
    sourceFingerprint: p.source?.fingerprint,
    changeSetArn: p.changeSet?.arn,
    requester: p.requester,
    approvers: p.parts ? allApprovers(p) : p.approvals.map((a) => a.user),
    startedAt: p.execution?.startedAt ?? p.createdAt,
    endedAt: p.execution?.endedAt ?? deps.now().toISOString(),
    counts: p.plan?.counts,
    ...(p.rollbackTarget?.undoes ? { undoes: p.rollbackTarget.undoes } : {}),
    ...(p.rollbackTarget?.reapplies ? { reapplies: p.rollbackTarget.reapplies } : {}),
  };
  await deps.store.pushCapped(releasesKey(p.service, p.to), release, stage.keepReleases);
  await audit(deps, p, 'bot', 'release recorded', { release: release.id });
}

export async function historyText(
  deps: Deps,
  serviceName: string,
  stageName: string | undefined,
  channel: string,
): Promise<string> {
  const svc = resolveService(deps.config, serviceName, channel);
  if (!svc.ok) return renderRefusal(svc.refusal);
  // Only services the channel may use (a restricted one never in a direct message).
  if (!channelMayUse(svc.value, channel)) {
    return renderRefusal({ code: 'channel_not_allowed', service: svc.value.name, channels: svc.value.channels ?? [] });
  }
  const stage = resolveStage(svc.value, stageName ?? svc.value.stages[svc.value.stages.length - 1]!.name);
  if (!stage.ok) return renderRefusal(stage.refusal);
  const releases = await deps.store.listCapped<Release>(
    releasesKey(svc.value.name, stage.value.name),
    stage.value.keepReleases,
  );
  return renderHistory(svc.value.name, stage.value.name, releases, deps.now());
}
