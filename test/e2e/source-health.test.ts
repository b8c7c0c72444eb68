// Only a working build is promoted (issue 9 §2), end to end: a source stack still deploying, failed or never
// deployed is refused before anything is locked or created; a rolled-back source is promoted with a warning;
// the summary names the source's recorded release.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import {
  allText,
  configYaml,
  DEV_ACCOUNT,
  DEV_TEMPLATE,
  PROD_TEMPLATE,
  promotionIdOf,
  REQUESTER,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';

const putDev = (s: Scenario, status: string, lastUpdatedTime?: Date) =>
  s.aws.putStack({
    name: 'api-dev',
    account: DEV_ACCOUNT,
    template: DEV_TEMPLATE,
    parameters: { Env: 'dev', MemorySize: '256' },
    outputs: { Version: 'v1.4.2' },
    status,
    lastUpdatedTime: lastUpdatedTime ?? new Date(Date.now() - 2 * 3600_000),
  });

describe('the source stage must run a working build', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
  });
  afterAll(async () => {
    await s?.close();
  });

  it.each<[string, RegExp]>([
    ['UPDATE_IN_PROGRESS', /is still changing \(`UPDATE_IN_PROGRESS`\)\. Wait until its deployment has finished/],
    ['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', /is still changing \(`UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`\)/],
    ['UPDATE_ROLLBACK_IN_PROGRESS', /is still changing \(`UPDATE_ROLLBACK_IN_PROGRESS`\)/],
    ['CREATE_IN_PROGRESS', /is still changing \(`CREATE_IN_PROGRESS`\)/],
    ['UPDATE_FAILED', /is in `UPDATE_FAILED`: its last deployment failed/],
    ['UPDATE_ROLLBACK_FAILED', /is in `UPDATE_ROLLBACK_FAILED`: its last deployment failed/],
    ['DELETE_FAILED', /is in `DELETE_FAILED`: its last deployment failed/],
    ['ROLLBACK_COMPLETE', /never finished creating \(`ROLLBACK_COMPLETE`\)/],
    ['REVIEW_IN_PROGRESS', /is in `REVIEW_IN_PROGRESS`: it was created by a change set that was never executed/],
  ])('%s: refused, naming the stack and why, with nothing created or locked', async (status, why) => {
    const before = { creates: s.aws.callsOf('CreateChangeSet').length, summaries: summaries(s.slack).length };
    putDev(s, status);
    await s.promote('api dev→prod');
    const [refusal] = await s.slack.waitFor(() => {
      const r = replies(s.slack, new RegExp(`Cannot promote api from dev: its stack \`api-dev\`.*${status}`));
      return r.length ? r : undefined;
    });
    expect(refusal).toMatch(why);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(before.creates);
    expect(summaries(s.slack)).toHaveLength(before.summaries);
    // Nothing was locked: another user's promotion is not told the stage is locked (it is refused the same way).
    await s.promote('api dev→prod', 'U0OTHER');
    await s.slack.waitFor(() => {
      const r = replies(s.slack, new RegExp(`its stack \`api-dev\`.*${status}`));
      return r.length >= 2 ? r : undefined;
    });
    expect(replies(s.slack, /locked/)).toHaveLength(0);
  });

  it('a source that no longer exists is refused before anything is created', async () => {
    s.aws.putStack({ name: 'web-prod', template: PROD_TEMPLATE, parameters: { Env: 'prod' } });
    const before = s.aws.callsOf('CreateChangeSet').length;
    await s.promote('web dev→prod', REQUESTER, 'C0WEB');
    const [refusal] = await s.slack.waitFor(() => {
      const r = replies(s.slack, /Cannot promote web from dev/);
      return r.length ? r : undefined;
    });
    expect(refusal).toContain('its stack `web-dev` does not exist.');
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(before);
  });

  it('UPDATE_ROLLBACK_COMPLETE: promoted, and the summary warns that it runs the build from before the failure', async () => {
    const failedAt = new Date(Date.now() - 3 * 3600_000);
    putDev(s, 'UPDATE_ROLLBACK_COMPLETE', failedAt);
    const { summary, id, ts } = await s.plan();
    const text = allText(summary.blocks);
    const when = `${failedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    expect(text).toContain(
      `The last deployment of \`api-dev\` (dev) failed and was rolled back (it started ${when}): this promotes the build it runs, from before that failure.`,
    );
    expect(text).toMatch(/last update failed 3 hours ago/);
    expect(s.aws.callsOf('CreateChangeSet').at(-1)?.params.StackName).toBe('api-prod');
    // A healthy source carries no warning.
    await s.click(ACTION.cancel, id, REQUESTER, ts);
    await s.slack.waitFor(() =>
      /Cancelled/.test(allText(s.slack.messages.find((m) => m.ts === ts)?.blocks)) ? true : undefined,
    );
    putDev(s, 'UPDATE_COMPLETE');
    const healthy = await waitForNewSummary(s, () => s.promote('api dev→prod'));
    expect(allText(healthy.blocks)).not.toMatch(/rolled back|last update failed/);
    expect(allText(healthy.blocks)).toMatch(/updated 2 hours ago/);
  });
});

async function waitForNewSummary(s: Scenario, run: () => Promise<unknown>) {
  const before = summaries(s.slack).length;
  await run();
  return s.slack.waitFor(
    () =>
      summaries(s.slack)
        .slice(before)
        .find((m) => promotionIdOf(m.blocks)),
    15_000,
  );
}

describe('the summary names the release the source runs', () => {
  let s: Scenario;
  const shop = `
  shop:
    channels: [C0PROMOTE]
    stages:
      dev: { stack: shop-dev }
      stg:
        stack: shop-stg
        approvals: { required: 0 }
      prod:
        stack: shop-prod
        approvals: { required: 1, reviewers: [U0ALICE] }
`;
  beforeAll(async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), config: configYaml({ extra: shop }) });
    const params = { Env: 'x', MemorySize: '128' };
    s.aws.putStack({ name: 'shop-dev', template: DEV_TEMPLATE, parameters: params });
    s.aws.putStack({ name: 'shop-stg', template: PROD_TEMPLATE, parameters: params });
    // prod runs an older build than stg (and dev a newer one), so each step has something to promote.
    const older = PROD_TEMPLATE.replace('"ZipFile":"v1"', '"ZipFile":"v0"');
    expect(older).not.toBe(PROD_TEMPLATE);
    s.aws.putStack({ name: 'shop-prod', template: older, parameters: params });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('stg release rN, promoted from dev, by whom; none when stg runs a template the bot did not release', async () => {
    // Before any release of stg: the summary names none.
    const first = await s.plan('shop stg→prod');
    expect(allText(first.summary.blocks)).not.toMatch(/stg release/);
    await s.click(ACTION.cancel, first.id, REQUESTER, first.ts);
    await s.slack.waitFor(() =>
      /Cancelled/.test(allText(s.slack.messages.find((m) => m.ts === first.ts)?.blocks)) ? true : undefined,
    );

    // dev → stg runs at once (required: 0) and records release of stg.
    await s.promote('shop dev→stg', 'U0CAROL');
    const toStg = await s.slack.waitFor(
      () => summaries(s.slack).find((m) => allText(m.blocks).includes('Promote shop: dev → stg')),
      15_000,
    );
    await s.finalReply(toStg.ts);
    // Its summary's footer names the promotion; its release is named after it.
    const id = /Promotion `([^`]+)`/.exec(String(toStg.text) + allText(toStg.blocks))?.[1];
    expect(id).toBeTruthy();
    const release = `r${id!.slice(0, 6)}`;

    const toProd = await s.plan('shop stg→prod');
    const text = allText(toProd.summary.blocks);
    expect(text).toMatch(
      new RegExp(`stg release \`${release}\`, promoted from dev (just now|\\d+ seconds? ago) by <@U0CAROL>`),
    );
  });
});
