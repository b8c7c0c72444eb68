// /promote unhold and /promote unlock: lifting a stage's post-rollback hold, and freeing a stage lock that
// nothing running holds. Only the stage's reviewers (approvals or rollback) may; both are audited.
import { describeStack } from '../aws/cloudformation.js';
import { isInProgress } from '../aws/stack-status.js';
import type { StageConfig } from '../config.js';
import { resolveService, resolveStage } from '../domain/command.js';
import { isTerminal } from '../domain/promotion.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';
import { renderRefusal } from '../slack/views/refusals.js';
import { KEYS } from '../store/keys.js';
import { accessOf, audit, type Deps, type LockHolder, lockKey, type Reply, transition } from './deps.js';
import { finishOperation } from './finish.js';
import { describeLockHolder } from './locks.js';

export interface StageRequest {
  service: string;
  stage: string;
  user: string;
  channel: string;
}

/** The stage the request names, if the person may administer it; otherwise the refusal was replied. */
async function stageFor(deps: Deps, req: StageRequest, reply: Reply): Promise<StageConfig | undefined> {
  const svc = resolveService(deps.config, req.service, req.channel);
  if (!svc.ok) return void (await reply(renderRefusal(svc.refusal)));
  const stage = resolveStage(svc.value, req.stage);
  if (!stage.ok) return void (await reply(renderRefusal(stage.refusal)));
  const { approvals, rollback } = stage.value;
  const reviewers = [
    ...new Set([
      ...approvals.reviewers,
      ...rollback.reviewers,
      ...(approvals.destructive?.reviewers ?? []),
      ...(rollback.destructive?.reviewers ?? []),
    ]),
  ];
  if (!(await deps.reviewers.isReviewer(req.user, reviewers))) {
    return void (await reply(
      renderRefusal({ code: 'not_reviewer', service: svc.value.name, stage: stage.value.name, reviewers }),
    ));
  }
  return stage.value;
}

export async function unhold(deps: Deps, req: StageRequest, reply: Reply): Promise<void> {
  const stage = await stageFor(deps, req, reply);
  if (!stage) return;
  const service = req.service;
  const key = KEYS.hold(service, stage.name);
  if (!(await deps.store.getJson(key))) return reply(`${esc(service)}/${esc(stage.name)} is not held.`);
  await deps.store.del(key);
  await audit(deps, undefined, req.user, 'unheld', { service, stage: stage.name });
  await reply(`${esc(service)}/${esc(stage.name)} is no longer held: promotions can run again.`);
}

/**
 * Frees the stage lock: refused while an execution really runs (the stack is updating: /rollback cancels
 * it); a pending operation holding it is cancelled first, so it can never run without its lock.
 */
export async function unlock(deps: Deps, req: StageRequest, reply: Reply): Promise<void> {
  const stage = await stageFor(deps, req, reply);
  if (!stage) return;
  // Every stack of the stage has its lock; they are freed together.
  const held: Array<{ key: string; stack: string; raw: string }> = [];
  for (const stack of stage.stacks) {
    const key = lockKey(stage, stack);
    const raw = await deps.store.holder(key);
    if (raw) held.push({ key, stack, raw });
  }
  if (held.length === 0) return reply(`${esc(stage.stacks.join(', '))} is not locked.`);
  for (const { key, stack: name, raw } of held) {
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(raw) as LockHolder;
    } catch {
      holder = undefined;
    }
    const p = holder ? await deps.store.getPromotion(holder.promotionId) : undefined;
    const stack = await describeStack(deps.aws.cloudFormation(accessOf(stage), req.user), name);
    if ((p?.state === 'executing' || p?.state === 'approved') && isInProgress(stack?.StackStatus)) {
      return reply(
        `${esc(name)} is updating now (${esc(stack?.StackStatus ?? '')}) for ${await describeLockHolder(deps, raw)}: it cannot be unlocked while it runs. Use \`/rollback ${esc(req.service)} ${esc(stage.name)}\` to cancel the update.`,
      );
    }
    if (p && !isTerminal(p.state) && p.state !== 'executing') {
      const t = await transition(
        deps,
        p.id,
        { type: 'cancel', user: req.user, force: true, reason: `unlocked by ${req.user}` },
        req.user,
      );
      if (t.ok) await finishOperation(deps, p.id);
    }
    await deps.store.release(key, raw);
    await audit(deps, p, req.user, 'unlocked', { lock: key, holder: holder ?? raw, stackStatus: stack?.StackStatus });
  }
  await reply(`${esc(held.map((h) => h.stack).join(', '))} is unlocked.`);
}
