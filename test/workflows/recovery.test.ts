// Defect 6 of issue 7: recovery is never blocked by a waiting promotion and never leaks its lock; /promote
// unlock is for the stage's reviewers only and refused while the stack really updates.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { unlock } from '../../src/workflows/stage-admin.js';
import { PROD_TEMPLATE } from '../support/scenario.js';
import { ALICE, CHANNEL, PROD_ACCOUNT, type Replica, replies, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

function rollbackFailed(w: World): void {
  w.aws.putStack({
    name: 'api-prod',
    account: PROD_ACCOUNT,
    template: PROD_TEMPLATE,
    parameters: { Env: 'prod', MemorySize: '1024' },
    status: 'UPDATE_ROLLBACK_FAILED',
  });
}

async function unlockAs(r: Replica, user: string): Promise<string[]> {
  const rep = replies();
  await unlock(r.deps, { service: 'api', stage: 'prod', user, channel: CHANNEL }, rep.reply);
  return rep.texts;
}

it('/rollback on UPDATE_ROLLBACK_FAILED supersedes a waiting promotion and takes the lock', async () => {
  const r = w.replica();
  const { p: waiting } = await w.promote(r);
  expect(waiting?.state).toBe('awaiting_approval');
  rollbackFailed(w);

  // Asked by a rollback reviewer: it supersedes at once (anyone else's rollback only when it is approved).
  const { p: recovery, replies: said } = await w.rollback(r, { requester: ALICE });
  expect(said).toEqual([]);
  expect(recovery).toMatchObject({ mode: 'continue_rollback', state: 'awaiting_approval' });
  const superseded = await w.settled(waiting!.id);
  expect(superseded.state).toBe('cancelled');
  expect(superseded.decision?.reason).toMatch(/superseded by a rollback/);
  expect(await w.lockHolder()).toBe(recovery!.id);
  expect(w.aws.callsOf('DeleteChangeSet').map((c) => c.params.ChangeSetName)).toEqual([waiting!.changeSet!.arn]);
});

it('a recovery whose ContinueUpdateRollback is denied ends as failed and releases its lock', async () => {
  const r = w.replica();
  rollbackFailed(w);
  const { p } = await w.rollback(r);
  expect(await w.lockHolder()).toBe(p!.id);
  w.aws.deny('ContinueUpdateRollback');
  await w.approve(r, p!.id, ALICE);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('failed');
  expect(done.stateReason).toContain('ContinueUpdateRollback');
  expect(await w.lockHolder()).toBeUndefined();
});

it('a recovery whose summary cannot be posted releases its lock', async () => {
  const r = w.replica();
  rollbackFailed(w);
  w.slack.failNext('chat.postMessage', 'not_in_channel');
  const { p, replies: said } = await w.rollback(r);
  expect(p).toBeUndefined();
  expect(said.join('\n')).toMatch(/invite me/);
  expect(await w.lockHolder()).toBeUndefined();
});

it('/promote unlock refuses someone who reviews neither approvals nor rollbacks of the stage', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  const said = await unlockAs(r, 'U0NOBODY');
  expect(said).toHaveLength(1);
  expect(await w.lockHolder()).toBe(p!.id);
  expect((await w.get(p!.id)).state).toBe('awaiting_approval');
});

it('/promote unlock is refused while the stack updates for the promotion holding the lock', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  w.aws.scriptExecution('api-prod', { holdInProgress: true });
  await w.approve(r, p!.id, ALICE);
  await w.waitFor(async () => (await w.get(p!.id)).execution?.confirmed);
  const said = await unlockAs(r, ALICE);
  expect(said.join('\n')).toMatch(/cannot be unlocked while it runs/);
  expect(await w.lockHolder()).toBe(p!.id);
});

it('/promote unlock by a reviewer cancels the waiting promotion holding the lock and frees it', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  const said = await unlockAs(r, ALICE);
  expect(said.join('\n')).toMatch(/is unlocked/);
  expect(await w.lockHolder()).toBeUndefined();
  expect((await w.settled(p!.id)).state).toBe('cancelled');
});

it('/rollback on UPDATE_ROLLBACK_FAILED supersedes a promotion still planning (its planner busy) and takes the lock', async () => {
  const r = w.replica({ awsRequestTimeoutMs: 30_000 });
  w.aws.hang('DescribeChangeSet', 1);
  const planning = w.promote(r);
  await w.waitFor(() => w.aws.callsOf('DescribeChangeSet').length === 1);
  const [waiting] = await w.store.listActive();
  expect(waiting?.state).toBe('planning');
  rollbackFailed(w);

  // Asked by a rollback reviewer: it supersedes at once (anyone else's rollback only when it is approved).
  const { p: recovery, replies: said } = await w.rollback(r, { requester: ALICE });
  expect(said).toEqual([]);
  expect(recovery).toMatchObject({ mode: 'continue_rollback', state: 'awaiting_approval' });
  expect(await w.lockHolder()).toBe(recovery!.id);
  expect((await w.get(waiting!.id)).state).toBe('cancelled');
  void planning.catch(() => undefined);
});
