// The approval rule chosen from the plan, recorded with it and used by the review: the rollback tier here (the
// promotion tier is covered end to end in test/e2e/destructive-approvals.test.ts).
import { afterEach, expect, it } from 'vitest';
import { configYaml } from '../support/scenario.js';
import { ALICE, BOB, devTemplate, startWorld, type World } from './harness.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const config = configYaml({ required: 1, reviewers: [ALICE, BOB, 'U0CAROL'], rollbackRequired: 1 }).replace(
  'rollback:\n          required: 1',
  'rollback:\n          required: 1\n          destructive: { required: 2, reviewers: [U0ALICE, U0BOB] }',
);

it('a rollback that replaces data needs rollback.destructive: recorded with the plan, its reviewers, its quorum', async () => {
  expect(config).toContain('destructive: { required: 2');
  w = await startWorld({ config });
  const r = w.replica();
  const released = await w.release(r, devTemplate('r1'));
  // The promotion had no destructive tier to choose: recorded as the normal rule.
  expect(released.rule).toEqual({ tier: 'normal', required: 1, reviewers: [ALICE, BOB, 'U0CAROL'], because: [] });

  // Rolling back puts prod's old template back: UsersTable renamed again (replaced) and OldQueue re-added.
  const rb = await w.rollback(r);
  const p = rb.p!;
  expect(p.state).toBe('awaiting_approval');
  expect(p.rule).toMatchObject({ tier: 'destructive', required: 2, reviewers: [ALICE, BOB] });
  expect(p.rule?.because).toContainEqual({ logicalId: 'UsersTable', kind: 'replaces' });
  expect(p.rule?.because).toContainEqual({ logicalId: 'AppRole', kind: 'permissions' });

  // Carol reviews promotions (and so, by default, rollbacks) but not destructive rollbacks.
  expect((await w.approve(r, p.id, 'U0CAROL')).join('\n')).toMatch(
    /not a reviewer for api\/prod: ask <@U0ALICE>, <@U0BOB>/,
  );
  expect((await w.approve(r, p.id, ALICE)).join('\n')).toMatch(/1 more approval needed/);
  expect((await w.get(p.id)).state).toBe('awaiting_approval');
  await w.approve(r, p.id, BOB);
  expect((await w.settled(p.id)).state).toBe('succeeded');
});
