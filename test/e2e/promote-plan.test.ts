// /promote end to end: the bot process (as `npm start` runs it), fake Slack and fake AWS over HTTP,
// a real Redis. Requests are signed as Slack signs them.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { SIGNING_SECRET } from '../support/bot.js';
import {
  allText,
  CHANNEL,
  DEV_ACCOUNT,
  PROD_ACCOUNT,
  promotionIdOf,
  REQUESTER,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';
import { sendSlashCommand } from '../support/slack-driver.js';

describe('/promote planning', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('acks at once with "planning" and posts a summary with destructive changes first', async () => {
    const ack = await s.promote('api dev→prod');
    expect(ack.status).toBe(200);
    expect(ack.body).toContain('Planning');

    const summary = await s.slack.waitFor(() => summaries(s.slack).find((m) => m.channel === CHANNEL), 15_000);
    const text = allText(summary.blocks);
    expect(text).toContain('Promote api: dev → prod');
    // The table is replaced (TableName) and the queue removed: both destroy data, and come first.
    const changes = (summary.blocks as Array<{ type: string; block_id?: string; text?: { text: string } }>)
      .filter((b) => b.type === 'section' && b.block_id?.startsWith('promotion_changes'))
      .map((b) => b.text?.text ?? '')
      .join('\n');
    expect(changes.indexOf('OldQueue')).toBeGreaterThanOrEqual(0);
    expect(changes.indexOf('UsersTable')).toBeGreaterThanOrEqual(0);
    expect(changes.indexOf('AppRole')).toBeGreaterThan(
      Math.max(changes.indexOf('OldQueue'), changes.indexOf('UsersTable')),
    );
    expect(changes.indexOf('Fn`')).toBeGreaterThan(changes.indexOf('AppRole'));
    expect(changes).toMatch(/\*DELETES\* queue `OldQueue`/);
    expect(text).toMatch(/⚠/);
    expect(text).toMatch(/UsersTable/);
    expect(text).toMatch(/OldQueue/);
    // Buttons: approve and reject, carrying only the promotion ID.
    const id = promotionIdOf(summary.blocks);
    expect(id).toBeTruthy();
    expect(text).toContain(ACTION.approve);
    expect(text).toContain(ACTION.reject);
    expect(text).toContain('<@U0ALICE>');
    expect(text).toContain('<!subteam^S0LEADS>');
    expect(text).toContain('v1.4.2');
  });

  it('assumes each stage role with the requester as source identity, and carries target parameters', async () => {
    const calls = s.aws.assumeRoleCalls;
    const prod = calls.find((c) => c.RoleArn.includes(PROD_ACCOUNT));
    const dev = calls.find((c) => c.RoleArn.includes(DEV_ACCOUNT));
    expect(prod?.SourceIdentity).toBe(REQUESTER);
    expect(prod?.RoleSessionName).toContain(REQUESTER);
    expect(prod?.ExternalId).toBe('promote-ext');
    expect(dev?.SourceIdentity).toBe(REQUESTER);
    const create = s.aws.callsOf('CreateChangeSet')[0]!;
    expect(create.params.StackName).toBe('api-prod');
    expect(create.params.ChangeSetType).toBe('UPDATE');
    expect(create.params.Capabilities_member_1 ?? Object.values(create.params).join(' ')).toMatch(/CAPABILITY_IAM/);
    const params = Object.entries(create.params).filter(([k]) => k.startsWith('Parameters.member'));
    expect(params.some(([k, v]) => k.endsWith('UsePreviousValue') && v === 'true')).toBe(true);
    expect(params.some(([, v]) => v === 'dev')).toBe(false); // never the source's values
    // Only a few AssumeRole calls: credentials are cached, not fetched per API call.
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it('refuses a second promotion to a locked stack, naming who holds it', async () => {
    await s.promote('api dev prod', 'U0OTHER');
    const [msg] = await s.slack.waitFor(() => {
      const r = replies(s.slack, /locked/);
      return r.length ? r : undefined;
    });
    expect(msg).toContain(`<@${REQUESTER}>`);
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(1);
  });

  it.each([
    ['apx dev→prod', /Unknown service "apx".*Did you mean "api"/],
    ['api prod→dev', /dev is the first stage|can only be promoted from/],
    ['api dev→qa', /Unknown stage "qa"/],
    ['&lt;!channel&gt; dev→prod', /Unknown service "&lt;!channel&gt;"/],
  ])('refuses %s in the ack itself (no "Planning…"), and creates nothing', async (text, expected) => {
    const before = s.aws.callsOf('CreateChangeSet').length;
    const ack = await s.promote(text);
    expect(ack.status).toBe(200);
    const answer = JSON.parse(ack.body) as { text: string };
    expect(answer.text).toMatch(expected);
    expect(answer.text).not.toMatch(/Planning/);
    expect(answer.text).not.toContain('<!channel>');
    expect(s.aws.callsOf('CreateChangeSet')).toHaveLength(before);
  });

  it('refuses a channel the service is not allowed in, in the ack', async () => {
    const ack = await s.promote('web dev→prod', REQUESTER, CHANNEL);
    const answer = JSON.parse(ack.body) as { text: string };
    expect(answer.text).toMatch(/can only be promoted or rolled back from/);
    expect(answer.text).toContain('<#C0WEB>');
  });

  it('answers help and unparseable text with usage listing the services', async () => {
    const ack = await s.promote('help');
    expect(ack.body).toContain('api: dev → prod');
    const bad = await s.promote('api dev→prod→stg');
    expect(bad.body).toMatch(/cannot read the stages/);
  });

  it('rejects requests that are not signed by Slack', async () => {
    const r = await sendSlashCommand({
      url: s.bot.url,
      secret: SIGNING_SECRET,
      command: '/promote',
      text: 'api dev→prod',
      userId: REQUESTER,
      channelId: CHANNEL,
      responseUrl: s.slack.responseUrl(),
      badSignature: true,
    });
    expect(r.status).toBe(401);
  });
});

describe('/promote refusals that depend on the target stack', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('says "already matches" and deletes the empty change set when there is nothing to promote', async () => {
    const dev = s.aws.stack('api-dev', undefined, DEV_ACCOUNT)!;
    s.aws.putStack({
      name: 'api-prod',
      account: PROD_ACCOUNT,
      template: dev.template,
      parameters: { Env: 'prod', MemorySize: '1024' },
    });
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => replies(s.slack, /prod already matches dev/)[0], 15_000);
    const prod = s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!;
    expect(prod.changeSets.filter((c) => c.status !== 'DELETE_COMPLETE')).toHaveLength(0);
    expect(summaries(s.slack)).toHaveLength(0);
    // The lock is released: a new attempt is not refused as locked.
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => (replies(s.slack, /prod already matches dev/).length === 2 ? true : undefined), 15_000);
  });

  it('refuses a target stack that is busy', async () => {
    s.aws.startOutsideUpdate('api-prod', { durationMs: 60_000 });
    await s.promote('api dev→prod');
    const msg = await s.slack.waitFor(() => replies(s.slack, /busy \(UPDATE_IN_PROGRESS\)/)[0]);
    expect(msg).toContain('api-prod');
  });

  it('refuses a target stack that does not exist', async () => {
    await s.promote('web dev→prod', REQUESTER, 'C0WEB');
    await s.slack.waitFor(() => replies(s.slack, /web-prod does not exist/)[0]);
  });
});
