// Defect 11 of issue 7: a replica shutting down (deps.stopping()) stops following at its next step and gives
// its lease back; releaseAllLeases gives back even the lease of a step still in flight, so another replica
// resumes at once instead of after the lease's TTL.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { KEYS } from '../../src/store/keys.js';
import { drivingNow } from '../../src/workflows/execute.js';
import { leasesHeld, releaseAllLeases } from '../../src/workflows/lease.js';
import { ALICE, PROD_ACCOUNT, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

it('when stopping, a follower yields at its next step and gives its lease back; another replica resumes', async () => {
  const a = w.replica();
  const { p } = await w.promote(a);
  w.aws.scriptExecution('api-prod', { holdInProgress: true });
  await w.approve(a, p!.id, ALICE);
  await w.waitFor(async () => (await w.get(p!.id)).execution?.progressTs);
  expect(await w.store.holder(KEYS.lease(p!.id))).toBe(a.deps.replicaId);

  a.stopping = true;
  await w.waitFor(() => drivingNow(a.deps) === 0);
  expect(await w.store.holder(KEYS.lease(p!.id))).toBeUndefined();
  expect(leasesHeld(a.deps)).toBe(0);
  expect(await releaseAllLeases(a.deps)).toEqual([]);
  expect((await w.get(p!.id)).state).toBe('executing');
  expect(w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.status).toBe('UPDATE_IN_PROGRESS');

  const b = w.replica();
  await w.sweep(b);
  await w.waitFor(async () => (await w.store.holder(KEYS.lease(p!.id))) === b.deps.replicaId);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
});

it('releaseAllLeases gives back the lease of a step still in flight, and another replica finishes the work', async () => {
  const a = w.replica({ awsRequestTimeoutMs: 30_000 });
  const { p } = await w.promote(a);
  w.aws.hang('DescribeStackEvents', 1);
  await w.approve(a, p!.id, ALICE);
  await w.waitFor(() => w.aws.callsOf('DescribeStackEvents').length === 1);

  a.stopping = true;
  expect(await releaseAllLeases(a.deps)).toEqual([p!.id]);
  expect(await w.store.holder(KEYS.lease(p!.id))).toBeUndefined();

  const b = w.replica();
  await w.sweep(b);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
});
