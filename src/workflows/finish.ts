// The end of an operation: the effects its final transition recorded (hold, release record, change set
// clean-up, lock, the requester's notice, the final thread reply, the summary), done in order, each marked
// done once it has happened. Whoever ends an operation runs them; the sweeper redoes what a crash left.
import { deleteChangeSet } from '../aws/cloudformation.js';
import type { StageHold } from '../domain/refusals.js';
import { changeSetsToDelete } from '../domain/stacks.js';
import type { EndEffect, Promotion } from '../domain/types.js';
import { type CrashPointName, crashPoint } from '../faults.js';
import { FINAL_BLOCK_ID, renderEndNotice, renderFinal } from '../slack/views/progress.js';
import { KEYS } from '../store/keys.js';
import { accessOf, audit, type Deps, forOperation, type Reply, stageOf, transition } from './deps.js';
import { type Lease, underLease } from './lease.js';
import { releaseLock } from './locks.js';
import { recordRelease } from './releases.js';
import { refreshSummary } from './summary-message.js';

/** An effect that keeps failing is given up (and audited) this long after the step before it. */
const EFFECT_DEADLINE_MS = 15 * 60_000;

/** Crash points of the fault suite after an effect is recorded done. */
const AFTER_EFFECT: Partial<Record<EndEffect, CrashPointName>> = {
  release_lock: 'after-lock-release',
  record_release: 'after-release-record',
  final_reply: 'after-final-reply',
};

type Outcome = { done: true; ts?: string } | { done: false; error: unknown };

async function perform(deps: Deps, p: Promotion, effect: EndEffect, reply?: Reply): Promise<Outcome> {
  try {
    switch (effect) {
      case 'hold': {
        const hold: StageHold = {
          user: p.requester,
          at: p.execution?.endedAt ?? deps.now().toISOString(),
          cause: 'rollback',
          promotionId: p.id,
        };
        await deps.store.setJson(KEYS.hold(p.service, p.to), hold);
        await audit(deps, p, 'bot', 'held', { reason: 'rollback' });
        return { done: true };
      }
      case 'record_release':
        await recordRelease(deps, p);
        return { done: true };
      case 'delete_change_set': {
        const stage = stageOf(deps, p);
        const cfn = stage && deps.aws.cloudFormation(accessOf(stage), p.requester);
        // Every change set never executed (one per stack of a multi-stack stage). Interrupted before
        // CloudFormation's answer, one may exist all the same, under the name we gave it.
        for (const cs of cfn ? changeSetsToDelete(p) : []) {
          if (cs.arn) await deleteChangeSet(cfn!, cs.arn);
          else if (cs.name) await deleteChangeSet(cfn!, cs.name, cs.stack);
        }
        return { done: true };
      }
      case 'release_lock':
        await releaseLock(deps, p);
        return { done: true };
      case 'notify_requester': {
        const text = renderEndNotice(p, deps.now());
        if (reply) await reply(text);
        else await deps.slack.ephemeral({ channel: p.channel, user: p.requester, text });
        return { done: true };
      }
      case 'final_reply': {
        // Posted once: an attempt is recorded before it is sent; after a crash mid-post the thread is read
        // to find it (block ID promotion_final) instead of posting it twice.
        const attempt = KEYS.finalAttempt(p.id);
        if (await deps.store.getJson(attempt)) {
          const thread = await deps.slack.threadMessages({ channel: p.channel, ts: p.messageTs! });
          const landed = thread.find((m) => m.ts !== p.messageTs && m.blockIds.includes(FINAL_BLOCK_ID));
          if (landed) return { done: true, ts: landed.ts };
        }
        await deps.store.setJson(attempt, deps.now().toISOString(), deps.timing.retentionMs);
        const view = renderFinal(p, deps.now());
        const r = await deps.slack.post(
          { channel: p.channel, thread_ts: p.messageTs!, reply_broadcast: true, ...view },
          { untilDelivered: true },
        );
        return { done: true, ts: r.ts };
      }
      case 'summary':
        await refreshSummary(deps, p);
        return { done: true };
    }
  } catch (error) {
    return { done: false, error };
  }
}

/** Tries to record an effect done this many times before leaving it to the sweeper (which would redo it). */
const MARK_ATTEMPTS = 3;

/**
 * Records that `effect` happened. Retried over a store blip: an effect that happened but was not recorded is
 * done again by the next run (a second final reply in the thread).
 */
async function markDone(deps: Deps, id: string, effect: EndEffect, ts: string | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await transition(deps, id, { type: 'effect_done', effect, ...(ts ? { ts } : {}) });
      return;
    } catch (err) {
      if (attempt >= MARK_ATTEMPTS) throw err;
      deps.log.warn('recording an end effect as done failed; trying again', { err, promotionId: id, effect });
      await deps.sleep(250 * attempt);
    }
  }
}

/**
 * Runs the pending end effects of operation `id`, in order, under its lease (held by the caller). Stops at
 * the first that fails for now (the sweeper tries again); one that keeps failing past its deadline is given
 * up, audited, and the next one runs, so the lock is always given back.
 */
export async function runEndEffects(outer: Deps, id: string, lease: Lease, reply?: Reply): Promise<void> {
  const deps = forOperation(outer, id);
  for (;;) {
    await lease.touch();
    const p = await deps.store.getPromotion(id);
    const effect = p?.pendingEffects?.[0];
    if (!p || !effect) return;
    if (effect === 'final_reply') crashPoint('before-final-reply');
    const outcome = await perform(deps, p, effect, reply);
    if (!outcome.done) {
      const overdue = deps.now().getTime() - Date.parse(p.updatedAt) > EFFECT_DEADLINE_MS;
      deps.log.error(overdue ? 'giving up an end effect' : 'end effect failed; will retry', {
        err: outcome.error,
        promotionId: id,
        effect,
      });
      if (!overdue) return;
      await audit(deps, p, 'bot', `gave up ${effect}`, { error: String((outcome.error as Error)?.message) });
    }
    await markDone(deps, id, effect, outcome.done ? outcome.ts : undefined);
    const point = AFTER_EFFECT[effect];
    if (point) crashPoint(point);
  }
}

/** Runs what remains of an ended operation's effects, if this replica can take its lease now. */
export function finishOperation(deps: Deps, id: string, reply?: Reply): Promise<boolean> {
  return underLease(deps, id, (lease) => runEndEffects(deps, id, lease, reply));
}
