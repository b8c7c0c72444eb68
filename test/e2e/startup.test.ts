// Starting the bot: every problem of env and config at once, before connecting anywhere; /healthz; the
// in-memory store when REDIS_URL is unset.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { runBotExpectingExit, writeConfig } from '../support/bot.js';
import {
  DEV_ACCOUNT,
  DEV_TEMPLATE,
  promotionIdOf,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';

describe('start-up checks', () => {
  it('exits non-zero listing every env and config problem at once, with paths', async () => {
    const config = writeConfig(`
services:
  api:
    stages:
      dev: { stack: api-dev, colour: blue }
      prod:
        promotesFrom: [qa]
        approvals: { required: 3, reviewers: [U0ALICE] }
`);
    const { code, output } = await runBotExpectingExit({
      PROMOTE_CONFIG: config,
      PORT: 'eighty',
      AWS_REGION: 'us-east-1',
    });
    expect(code).not.toBe(0);
    expect(output).toContain('SLACK_BOT_TOKEN: required');
    expect(output).toMatch(/PORT: /);
    expect(output).toContain('services.api.stages.prod.stack: required');
    expect(output).toContain('services.api.stages.dev.colour: unknown key');
  });

  it('does not connect anywhere when the config is invalid', async () => {
    let connections = 0;
    const trap = createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const port = (trap.address() as { port: number }).port;
    const { code, output } = await runBotExpectingExit({
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 's',
      SLACK_API_URL: `http://127.0.0.1:${port}/api/`,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      PROMOTE_CONFIG: writeConfig('services: {}'),
    });
    trap.close();
    expect(code).not.toBe(0);
    expect(output).toContain('services: must name at least one service');
    expect(connections).toBe(0);
  });

  it('says which file it could not read', async () => {
    const { code, output } = await runBotExpectingExit({
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 's',
      PROMOTE_CONFIG: '/nonexistent/promote.yml',
    });
    expect(code).not.toBe(0);
    expect(output).toContain('cannot read /nonexistent/promote.yml (ENOENT)');
  });
});

describe('without REDIS_URL', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({});
  });
  afterAll(async () => {
    await s?.close();
  });

  it('announces the in-memory store as not durable and reports it on /healthz', async () => {
    expect(s.bot.output()).toMatch(/NOT durable/);
    const health = await fetch(`${s.bot.base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, store: 'memory' });
  });

  it("reports package.json's version on /healthz and in the start-up line", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await (await fetch(`${s.bot.base}/healthz`)).json()).toMatchObject({ version });
    const started = s.bot
      .output()
      .split('\n')
      .find((line) => line.includes('promote-bot started'));
    expect(started, 'a "promote-bot started" line').toBeDefined();
    expect(JSON.parse(started!)).toMatchObject({ version });
  });

  it('plans, approves and executes on the in-memory store', async () => {
    await s.promote('api dev→prod');
    const summary = await s.slack.waitFor(() => summaries(s.slack).find((m) => promotionIdOf(m.blocks)), 15_000);
    const id = promotionIdOf(summary.blocks)!;
    await s.click(ACTION.approve, id, 'U0ALICE', summary.ts);
    await s.click(ACTION.approve, id, 'U0BOB', summary.ts);
    await s.finalReply(summary.ts);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });

  it('/promote status lists what is in flight and the locks held', async () => {
    const v3 = JSON.parse(DEV_TEMPLATE);
    v3.Resources.Fn.Properties.Code.ZipFile = 'v3';
    s.aws.putStack({ name: 'api-dev', account: DEV_ACCOUNT, template: JSON.stringify(v3), parameters: { Env: 'dev' } });
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => (summaries(s.slack).length === 2 ? true : undefined), 15_000);
    await s.promote('status');
    const status = await s.slack.waitFor(() => replies(s.slack, /promotions in flight/)[0]);
    expect(status).toMatch(/api dev → prod: waiting for approvals, by <@U0REQ>/);
    expect(status).toMatch(/api-prod: a promotion of api to prod by <@U0REQ>/);
  });
});
