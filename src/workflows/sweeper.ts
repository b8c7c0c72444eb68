// Runs on every replica: ends pending operations past their deadline (also when nobody clicks), ends
// operations whose planner died or whose summary was never recorded, picks up executions whose replica died,
// redoes the end effects a crash left undone, and tells the reviewers a crash left untold. Safe with several
// replicas: every step is a compare-and-set (or SET NX), and whatever does work on an operation holds its lease.
import { isTerminal } from '../domain/promotion.js';
import type { Promotion } from '../domain/types.js';
import { KEYS } from '../store/keys.js';
import type { Deps } from './deps.js';
import { transition } from './deps.js';
import { drive } from './execute.js';
import { finishOperation } from './finish.js';
import { tellReviewers } from './reviewer-dms.js';

/** A planner that took its lease has this long before a free lease means it died. */
const PLANNER_GRACE_MS = 5_000;

async function leaseFree(deps: Deps, p: Promotion): Promise<boolean> {
  return (await deps.store.holder(KEYS.lease(p.id))) === undefined;
}

/**
 * When the current planning began: at the start, or (multi-stack) when a stack that could not be planned before
 * the earlier ones ran started being planned, which can be hours after the operation was opened.
 */
function planningSince(p: Promotion): number {
  return Date.parse(p.parts && p.current !== undefined ? p.updatedAt : p.createdAt);
}

export async function sweepOnce(deps: Deps): Promise<void> {
  const now = deps.now().getTime();
  for (const p of await deps.store.listActive()) {
    try {
      const age = now - Date.parse(p.updatedAt);
      if (isTerminal(p.state)) {
        if (p.pendingEffects?.length)
          void finishOperation(deps, p.id).catch((err) => deps.log.error('finishing', { err, promotionId: p.id }));
      } else if (p.state === 'awaiting_approval' && p.expiresAt && Date.parse(p.expiresAt) <= now) {
        const t = await transition(deps, p.id, { type: 'expire' });
        if (t.ok) await finishOperation(deps, p.id);
      } else if (
        p.state === 'planning' &&
        ((now - planningSince(p) > PLANNER_GRACE_MS && (await leaseFree(deps, p))) ||
          now - planningSince(p) > deps.timing.planningTimeoutMs)
      ) {
        const t = await transition(deps, p.id, {
          type: 'plan_failed',
          reason: 'planning was interrupted (the bot restarted or lost its connection): run the command again',
        });
        if (t.ok) await finishOperation(deps, p.id);
      } else if (
        (p.state === 'awaiting_approval' || p.state === 'approved') &&
        !p.messageTs &&
        age > PLANNER_GRACE_MS &&
        (await leaseFree(deps, p)) // its publisher (holding the lease until the summary is recorded) died
      ) {
        const t = await transition(deps, p.id, {
          type: 'cancel',
          user: 'bot',
          force: true,
          reason: 'its summary could not be posted or recorded, so nobody could review it: run the command again',
        });
        if (t.ok) await finishOperation(deps, p.id);
      } else if (p.state === 'approved' || p.state === 'executing') {
        void drive(deps, p.id);
      } else if (p.state === 'awaiting_approval' && p.messageTs) {
        // Reviewers not yet told directly (its publisher died before it was done): told now, each once.
        void tellReviewers(deps, p);
      }
    } catch (err) {
      deps.log.error('sweeping an operation', { err, promotionId: p.id });
    }
  }
}

/** Sweeps now and then every `sweepEveryMs`; returns a stop function. */
export function startSweeper(deps: Deps): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped) return;
    await sweepOnce(deps).catch((err) => deps.log.error('sweeping', { err }));
    if (!stopped) timer = setTimeout(loop, deps.timing.sweepEveryMs);
  };
  timer = setTimeout(loop, 0);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
