// Defect 8 of issue 7: a hung AWS call ends at the client's timeout as a transient fault (retried, never
// lost); a replica stuck in a step longer than `stallMs` loses its lease and another replica takes over.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { KEYS } from '../../src/store/keys.js';
import { drivingNow } from '../../src/workflows/execute.js';
import { ALICE, PROD_ACCOUNT, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

it('a hung ExecuteChangeSet ends at the client timeout as a transient fault, and the retry runs it once', async () => {
  const r = w.replica({ awsRequestTimeoutMs: 300 });
  const { p } = await w.promote(r);
  w.aws.hang('ExecuteChangeSet', 1);
  await w.approve(r, p!.id, ALICE);
  const retrying = await w.waitFor(async () => {
    const cur = await w.get(p!.id);
    return cur.startAttempts ? cur : undefined;
  });
  expect(retrying.state).toBe('executing');
  expect(retrying.startAttempts?.count).toBe(1);
  expect(retrying.startAttempts?.lastError).toMatch(/TimeoutError|timed out|timeout/i);
  await w.idle(p!.id);

  w.clock.advance(1_100);
  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  const updates = w.aws
    .stack('api-prod', undefined, PROD_ACCOUNT)!
    .events.filter((e) => e.LogicalResourceId === 'api-prod' && e.ResourceStatus === 'UPDATE_IN_PROGRESS');
  expect(updates).toHaveLength(1);
});

it('a follower stuck in a call longer than stallMs loses its lease, and another replica takes over', async () => {
  const a = w.replica({ timing: { stallMs: 200, leaseMs: 600 }, awsRequestTimeoutMs: 30_000 });
  const { p } = await w.promote(a);
  // The follower's first read of the stack events never gets an answer.
  w.aws.hang('DescribeStackEvents', 1);
  await w.approve(a, p!.id, ALICE);
  await w.waitFor(() => w.aws.callsOf('DescribeStackEvents').length === 1);

  await w.idle(p!.id); // the stuck replica stopped renewing; its lease ran out
  expect(drivingNow(a.deps)).toBe(1); // …while it is still inside the hung call

  const b = w.replica();
  await w.sweep(b);
  await w.waitFor(async () => (await w.store.holder(KEYS.lease(p!.id))) === b.deps.replicaId);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  expect(drivingNow(a.deps)).toBe(1);
});
