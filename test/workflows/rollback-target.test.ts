// Defect 1 of issue 7: a second /rollback undoes the release before (it never rolls forward to the release
// the first rollback undid).
import { afterEach, beforeEach, expect, it } from 'vitest';
import { releasesKey } from '../../src/workflows/releases.js';
import { PROD_TEMPLATE } from '../support/scenario.js';
import { ALICE, devTemplate, PROD_ACCOUNT, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

it('a second /rollback undoes the release before the one the first undid, back to what ran before both', async () => {
  const r = w.replica();
  const prodTemplate = () => w.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.template;
  const r1 = await w.release(r, devTemplate('r1'));
  const afterR1 = prodTemplate();
  const r2 = await w.release(r, devTemplate('r2'));
  expect(prodTemplate()).not.toBe(afterR1);
  const ids = await w.store.listCapped<{ id: string; promotionId: string }>(releasesKey('api', 'prod'), 10);
  const idOf = (promotionId: string) => ids.find((x) => x.promotionId === promotionId)!.id;

  const first = await w.rollback(r);
  expect(first.p?.rollbackTarget).toMatchObject({ undoes: idOf(r2.id), runsNow: idOf(r2.id) });
  await w.approve(r, first.p!.id, ALICE);
  expect((await w.settled(first.p!.id)).state).toBe('succeeded');
  expect(prodTemplate()).toBe(afterR1);

  const second = await w.rollback(r);
  expect(second.p?.rollbackTarget).toMatchObject({ undoes: idOf(r1.id), runsNow: idOf(r1.id) });
  await w.approve(r, second.p!.id, ALICE);
  expect((await w.settled(second.p!.id)).state).toBe('succeeded');
  expect(prodTemplate()).toBe(PROD_TEMPLATE);
});
