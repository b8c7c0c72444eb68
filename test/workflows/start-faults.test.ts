// Defect 3 of issue 7: permanent AWS faults end an approved operation at once (with an instruction naming the
// action and the role, the lock freed, never retried); transient ones are retried with backoff; an approval that
// could not start within 15 minutes is ended, never executed late.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Promotion } from '../../src/domain/types.js';
import { PROD_TEMPLATE } from '../support/scenario.js';
import { ALICE, PROD_ACCOUNT, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

const PROD_ROLE = `arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot`;

it('AccessDenied on ExecuteChangeSet ends the promotion as failed, says what to allow, frees the lock, and never retries', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  w.aws.deny('ExecuteChangeSet');
  await w.approve(r, p!.id, ALICE);
  const done = await w.settled(p!.id);

  expect(done.state).toBe('failed');
  const finals = w.finalReplies(done.messageTs!);
  expect(finals).toHaveLength(1);
  const text = JSON.stringify(finals[0]);
  expect(text).toContain('ExecuteChangeSet');
  expect(text).toContain(PROD_ROLE);
  expect(await w.lockHolder()).toBeUndefined();

  // The permission is fixed later: the sweeper never runs the old approval.
  w.aws.allow('ExecuteChangeSet');
  await w.sweep(r);
  await w.idle(done.id);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  expect((await w.get(done.id)).state).toBe('failed');
  expect(w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.template).toBe(PROD_TEMPLATE);
});

it('a throttled ExecuteChangeSet is retried after its backoff and then runs once', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  w.aws.throttle('ExecuteChangeSet', 1);
  await w.approve(r, p!.id, ALICE);
  const waiting = await w.waitFor(async () => {
    const cur = await w.get(p!.id);
    return cur.startAttempts?.count === 1 ? cur : undefined;
  });
  expect(waiting.execution?.confirmed).toBeFalsy();
  await w.idle(p!.id);

  // Before its backoff is over the sweeper leaves it alone; after it, the same token is sent again.
  await w.sweep(r);
  await w.idle(p!.id);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  w.clock.advance(1_100);
  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  const calls = w.aws.callsOf('ExecuteChangeSet');
  expect(calls).toHaveLength(2);
  expect(calls[0]!.params.ClientRequestToken).toBeTruthy();
  expect(calls[1]!.params.ClientRequestToken).toBe(calls[0]!.params.ClientRequestToken);
  expect(await w.lockHolder()).toBeUndefined();
});

it('an approved promotion whose start kept failing for over 15 minutes is ended, never executed late', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  w.aws.throttle('ExecuteChangeSet', 1);
  await w.approve(r, p!.id, ALICE);
  await w.waitFor(async () => (await w.get(p!.id)).startAttempts?.count === 1);
  await w.idle(p!.id);

  // AWS would accept it now, but the approval is 16 minutes old.
  w.clock.advance(16 * 60_000);
  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('failed');
  expect(done.stateReason).toMatch(/within 15 minutes/);
  expect(w.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  expect(w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.template).toBe(PROD_TEMPLATE);
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
  expect(await w.lockHolder()).toBeUndefined();
});

it('a store blip right after ExecuteChangeSet was accepted is not mistaken for an AWS fault: the promotion is followed to its end', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  // Recording that CloudFormation accepted the execution fails once.
  r.faults.fail('casPromotion', { when: (next: Promotion) => next.execution?.confirmed === true });
  await w.approve(r, p!.id, ALICE);
  await w.waitFor(() =>
    r.faults.calls.some((c) => c.method === 'casPromotion' && (c.args[0] as Promotion).execution?.confirmed),
  );
  await w.idle(p!.id);
  expect((await w.get(p!.id)).state).toBe('executing');

  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  expect(w.aws.callsOf('ExecuteChangeSet').length).toBeGreaterThanOrEqual(1);
  expect(w.finalReplies(done.messageTs!)).toHaveLength(1);
});
