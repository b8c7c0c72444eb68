// Direct messages to reviewers, in-process: who is told (user groups expanded, not the requester, not who opted
// out), once per operation and person whatever runs again, and a failure that never touches the operation.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { KEYS } from '../../src/store/keys.js';
import { setDirectMessages, tellReviewers } from '../../src/workflows/reviewer-dms.js';
import { imChannel } from '../fakes/slack.js';
import { configYaml } from '../support/scenario.js';
import { ALICE, BOB, REQUESTER, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld({ config: configYaml({ required: 2, reviewers: [ALICE, BOB, 'S0LEADS'] }) });
  w.slack.userGroups.set('S0LEADS', ['U0LEAD1', 'U0LEAD2']);
});
afterEach(async () => {
  await w.close();
});

const REVIEWERS = [ALICE, BOB, 'U0LEAD1', 'U0LEAD2']; // U0ALICE, U0BOB and the group S0LEADS
const dmCounts = (w: World) => Object.fromEntries([...REVIEWERS, REQUESTER].map((u) => [u, w.slack.dm(u).length]));

it('tells every reviewer the operation waits for, once, with a link to its summary; never its requester', async () => {
  const r = w.replica();
  const { p } = await w.promote(r);
  expect(p?.state).toBe('awaiting_approval');
  expect(dmCounts(w)).toEqual({ U0ALICE: 1, U0BOB: 1, U0LEAD1: 1, U0LEAD2: 1, [REQUESTER]: 0 });
  const dm = w.slack.dm(ALICE)[0]!;
  expect(dm.channel).toBe(imChannel(ALICE));
  expect(dm.text).toContain(`https://slack.com/archives/${p!.channel}/p${p!.messageTs!.replace('.', '')}`);
  expect(dm.text).toContain(`<@${REQUESTER}> asks for your approval`);

  // Again, from another replica, and again after the "all told" record is gone: the per-person markers hold.
  const other = w.replica();
  await tellReviewers(other.deps, await w.get(p!.id));
  await w.store.del(KEYS.reviewersTold(p!.id));
  await tellReviewers(other.deps, await w.get(p!.id));
  await w.sweep(other);
  expect(dmCounts(w)).toEqual({ U0ALICE: 1, U0BOB: 1, U0LEAD1: 1, U0LEAD2: 1, [REQUESTER]: 0 });
});

it('tells nobody who turned direct messages off, and nobody about an operation not waiting for approval', async () => {
  const r = w.replica();
  await setDirectMessages(r.deps, ALICE, false);
  const { p } = await w.promote(r);
  expect(dmCounts(w)).toMatchObject({ U0ALICE: 0, U0BOB: 1 });
  await w.approve(r, p!.id, BOB);
  await w.approve(r, p!.id, 'U0LEAD1');
  const done = await w.settled(p!.id);
  await w.store.del(KEYS.reviewersTold(p!.id));
  await tellReviewers(r.deps, done);
  expect(dmCounts(w)).toMatchObject({ U0ALICE: 0, U0BOB: 1, U0LEAD1: 1 });
  expect((await r.deps.metrics.reviewerDms.get()).values).toContainEqual(
    expect.objectContaining({ labels: { result: 'opted_out' }, value: 1 }),
  );
});

it('a message Slack refuses is logged and counted; the others go out and the operation waits as before', async () => {
  w.slack.users.set(BOB, { deleted: true }); // a deactivated user has no direct conversation: channel_not_found
  const r = w.replica();
  const { p } = await w.promote(r);
  expect(p?.state).toBe('awaiting_approval');
  expect(dmCounts(w)).toMatchObject({ U0ALICE: 1, U0BOB: 0, U0LEAD1: 1, U0LEAD2: 1 });
  expect((await r.deps.metrics.reviewerDms.get()).values).toContainEqual(
    expect.objectContaining({ labels: { result: 'failed' }, value: 1 }),
  );
  expect(r.logs.join('\n')).toContain('sending a reviewer a direct message');
  expect((await w.get(p!.id)).state).toBe('awaiting_approval');
});

it('when the store fails before anyone was told, the sweeper tells them later, each once', async () => {
  const r = w.replica();
  r.faults.fail('acquire', { when: (key: string) => key.startsWith('dm:') });
  const { p } = await w.promote(r);
  expect(p?.state).toBe('awaiting_approval');
  expect(dmCounts(w)).toMatchObject({ U0ALICE: 0, U0BOB: 0 });
  await w.sweep(r);
  await w.slack.waitFor(() => REVIEWERS.every((u) => w.slack.dm(u).length === 1));
  await w.sweep(r);
  await new Promise((done) => setTimeout(done, 200));
  expect(dmCounts(w)).toEqual({ U0ALICE: 1, U0BOB: 1, U0LEAD1: 1, U0LEAD2: 1, [REQUESTER]: 0 });
});
