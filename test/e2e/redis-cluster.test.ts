// A whole promotion with the bot on a 3-node Redis Cluster (REDIS_CLUSTER_NODES; the Cluster comes from
// test/support/global-setup.ts): plan, the lock seen by /promote status, two approvals, execution, release.
import { Cluster } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { startFakeSlack } from '../fakes/slack.js';
import { freePort, runBotExpectingExit, SIGNING_SECRET, writeConfig } from '../support/bot.js';
import { configYaml, PROD_ACCOUNT, replies, type Scenario, startScenario } from '../support/scenario.js';

const nodesEnv = inject('redisClusterNodes');

describe.skipIf(!nodesEnv)('a promotion on a Redis Cluster', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('plans, shows its lock, executes once after two approvals and records the release', async () => {
    s = await startScenario({ redisUrl: 'redis://cluster', env: { REDIS_CLUSTER_NODES: nodesEnv } });
    expect(s.bot.output()).not.toMatch(/in-memory store/);
    const { id, ts } = await s.plan();

    // The stage lock lives on one of the masters; status scans them all.
    const statusBefore = s.slack.responses.length;
    await s.promote('status');
    const status = await s.slack.waitFor(() =>
      s!.slack.responses
        .slice(statusBefore)
        .map((r) => String(r.body?.text ?? ''))
        .find((t) => /Locks held/.test(t)),
    );
    expect(status).toMatch(/333333333333\/us-east-1\/api-prod: a promotion of api to prod by <@U0REQ>/);

    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    const final = await s.finalReply(ts, 20_000);
    expect(final.text).toMatch(/prod/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    expect(s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.status).toBe('UPDATE_COMPLETE');

    // The record and its indexes share the {ops} slot; the lock is gone; the release is listed.
    const admin = new Cluster(
      nodesEnv.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })),
    );
    try {
      const record = JSON.parse((await admin.hget(`${s.redisPrefix}{ops}:promotion:${id}`, 'json')) ?? '{}');
      expect(record.state).toBe('succeeded');
      // Out of the index once the last end effect (the summary, after the final reply) is done.
      const deadline = Date.now() + 10_000;
      while ((await admin.zscore(`${s.redisPrefix}{ops}:promotions:active`, id)) !== null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(await admin.zscore(`${s.redisPrefix}{ops}:promotions:active`, id)).toBeNull();
      const releases = await admin.lrange(`${s.redisPrefix}list:releases:api/prod`, 0, -1);
      expect(releases.map((r) => JSON.parse(r).promotionId)).toEqual([id]);
    } finally {
      await admin.quit();
    }
    const afterBefore = s.slack.responses.length;
    await s.promote('history api prod');
    const history = await s.slack.waitFor(() =>
      s!.slack.responses
        .slice(afterBefore)
        .map((r) => String(r.body?.text ?? ''))
        .find((t) => t.length > 0),
    );
    expect(history).toMatch(/<@U0REQ>/);
  });

  it('stops start-up with exit 1 naming the nodes (not the password) when no node answers', async () => {
    const slack = await startFakeSlack();
    try {
      const port = await freePort(); // nothing listens there
      const { code, output } = await runBotExpectingExit(
        {
          SLACK_BOT_TOKEN: slack.token,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: slack.url,
          PROMOTE_CONFIG: writeConfig(configYaml()),
          AWS_REGION: 'us-east-1',
          REDIS_URL: 'redis://:Hunter2@cluster',
          REDIS_CLUSTER_NODES: `127.0.0.1:${port}`,
        },
        20_000,
      );
      expect(output).toContain(`connecting to Redis at redis Cluster 127.0.0.1:${port}`);
      expect(code).toBe(1);
      expect(output).toMatch(/None of startup nodes is available/);
      expect(output).not.toContain('Hunter2');
    } finally {
      await slack.close();
    }
  });
});
