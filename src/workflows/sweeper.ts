// Runs on every replica: ends pending promotions past their deadline (also when nobody clicks),
// ends plans interrupted by a restart, and picks up executions whose replica died.
// Safe with several replicas: every step is a compare-and-set, and executions take a lease.
import { isTerminal } from '../domain/promotion.js';
import type { Deps } from './deps.js';
import { transition } from './deps.js';
import { drive, refreshSummary } from './execute.js';
import { releaseLock } from './locks.js';
import { closePending } from './review.js';

export async function sweepOnce(deps: Deps): Promise<void> {
  const now = deps.now().getTime();
  for (const p of await deps.store.listActive()) {
    if (isTerminal(p.state)) continue;
    try {
      if (p.state === 'awaiting_approval' && p.expiresAt && Date.parse(p.expiresAt) <= now) {
        const t = await transition(deps, p.id, { type: 'expire' });
        if (t.ok) await closePending(deps, t);
      } else if (p.state === 'planning' && now - Date.parse(p.createdAt) > deps.timing.planningTimeoutMs) {
        const t = await transition(deps, p.id, {
          type: 'plan_failed',
          reason: 'planning was interrupted (the bot restarted): run the command again',
        });
        if (t.ok) {
          await releaseLock(deps, t.after);
          await refreshSummary(deps, t.after);
        }
      } else if (p.state === 'approved' || p.state === 'executing') {
        void drive(deps, p.id);
      }
    } catch (err) {
      deps.log.error('sweeping promotion', { err, promotionId: p.id });
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
