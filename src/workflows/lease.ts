// The lease on an operation: the one replica that plans, executes, follows or finishes it now. It is kept
// alive only while the work makes progress: each step calls touch(), and between steps a heartbeat renews it
// only if the last step began less than `stallMs` ago. So a long but live call (a big CreateChangeSet, the
// SDK's own retries) keeps it, while a replica stuck in a call loses it and another one takes over. A
// replica shutting down gives its leases back at once.
import { KEYS } from '../store/keys.js';
import type { Deps } from './deps.js';

export class LeaseLost extends Error {
  constructor(id: string, why: string) {
    super(`lease on ${id} ${why}`);
    this.name = 'LeaseLost';
  }
}

export interface Lease {
  readonly id: string;
  /**
   * Renews the lease when a third of its time has passed; throws LeaseLost when it is gone, or, with
   * `yieldOnStop` (long work such as following a stack), as soon as this replica is shutting down.
   */
  touch(opts?: { yieldOnStop?: boolean }): Promise<void>;
  release(): Promise<void>;
}

/** Leases this process holds, per replica (tests run several replicas in one process). */
const held = new Map<string, Set<Lease>>();

export function leasesHeld(deps: Deps): number {
  return held.get(deps.replicaId)?.size ?? 0;
}

/** Takes the lease on operation `id`, or undefined when another replica (or this one) has it. */
export async function takeLease(deps: Deps, id: string): Promise<Lease | undefined> {
  const key = KEYS.lease(id);
  const got = await deps.store.acquire(key, deps.replicaId, deps.timing.leaseMs);
  if (!got.acquired) return undefined;
  let renewedAt = Date.now();
  let progressAt = Date.now();
  let gone = false;
  const renew = async () => {
    if (await deps.store.renew(key, deps.replicaId, deps.timing.leaseMs)) renewedAt = Date.now();
    else gone = true;
  };
  const heartbeat = setInterval(
    () => {
      if (gone || Date.now() - progressAt > deps.timing.stallMs) return;
      renew().catch((err) => deps.log.warn('renewing a lease', { err, id }));
    },
    Math.max(100, Math.floor(deps.timing.leaseMs / 3)),
  );
  heartbeat.unref();
  const mine = held.get(deps.replicaId) ?? new Set<Lease>();
  held.set(deps.replicaId, mine);
  const lease: Lease = {
    id,
    async touch(opts) {
      if (gone) throw new LeaseLost(id, 'was given back');
      if (opts?.yieldOnStop && deps.stopping()) throw new LeaseLost(id, 'is given back: this replica is shutting down');
      progressAt = Date.now();
      if (Date.now() - renewedAt >= deps.timing.leaseMs / 3) await renew();
      if (gone) throw new LeaseLost(id, 'expired: another replica took over');
    },
    async release() {
      clearInterval(heartbeat);
      if (gone) return;
      gone = true;
      mine.delete(lease);
      await deps.store.release(key, deps.replicaId).catch((err) => deps.log.warn('giving back a lease', { err, id }));
    },
  };
  mine.add(lease);
  return lease;
}

/** Gives back every lease this replica holds (shutdown): another replica resumes those operations at once. */
export async function releaseAllLeases(deps: Deps): Promise<string[]> {
  const mine = [...(held.get(deps.replicaId) ?? [])];
  await Promise.all(mine.map((l) => l.release()));
  return mine.map((l) => l.id);
}

/** Runs `work` under the lease of operation `id` when this replica can take it; false when it could not. */
export async function underLease(deps: Deps, id: string, work: (lease: Lease) => Promise<void>): Promise<boolean> {
  const lease = await takeLease(deps, id);
  if (!lease) return false;
  try {
    await work(lease);
  } catch (err) {
    if (!(err instanceof LeaseLost)) throw err;
    deps.log.warn('stopped working on an operation', { promotionId: id, reason: err.message });
  } finally {
    await lease.release();
  }
  return true;
}
