// Who may do what, checked at the moment of the action, end to end against the bot process (issue 8):
// buttons bound to their message, approvals re-checked at the quorum, rollbacks by non-reviewers,
// status and history per channel, approvers in CloudTrail, and no secret in anything the bot says or logs.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { SIGNING_SECRET, startBot } from '../support/bot.js';
import {
  CHANNEL,
  configYaml,
  DEV_ACCOUNT,
  DEV_TEMPLATE,
  PROD_ACCOUNT,
  PROD_TEMPLATE,
  promotionIdOf,
  REQUESTER,
  replies,
  type Scenario,
  startScenario,
  summaries,
} from '../support/scenario.js';
import { sendBlockAction } from '../support/slack-driver.js';

const PROD_ROLE = `arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot`;

/** A click as Slack would send it from `channel`, on message `messageTs` (in thread `threadTs`). */
function clickAt(
  s: Scenario,
  o: { actionId: string; id: string; user: string; channel: string; messageTs: string; threadTs?: string },
) {
  return sendBlockAction({
    url: s.bot.url,
    secret: SIGNING_SECRET,
    userId: o.user,
    actionId: o.actionId,
    value: o.id,
    channelId: o.channel,
    messageTs: o.messageTs,
    threadTs: o.threadTs,
    responseUrl: s.slack.responseUrl(`click:${o.actionId}:${o.user}:${o.channel}:${o.messageTs}`),
  });
}

const settle = (ms = 600) => new Promise((r) => setTimeout(r, ms));

describe('authorisation', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('a button counts only on the message (or in the thread) where the bot posted the operation', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    // The same promotion ID from another channel, and from another message of the right channel.
    await clickAt(s, { actionId: ACTION.approve, id, user: 'U0ALICE', channel: 'C0OTHER', messageTs: ts });
    await clickAt(s, { actionId: ACTION.approve, id, user: 'U0BOB', channel: CHANNEL, messageTs: '1700000000.000100' });
    await clickAt(s, { actionId: ACTION.cancel, id, user: REQUESTER, channel: 'C0OTHER', messageTs: ts });
    await s.slack.waitFor(() => (replies(s!.slack, /does not belong here/).length === 3 ? true : undefined));
    await settle();
    // Neither approval counted: Alice is not "already approved", Bob's would have completed the quorum.
    const reply = s.slack.responses.length;
    await clickAt(s, {
      actionId: ACTION.approve,
      id,
      user: 'U0ALICE',
      channel: CHANNEL,
      messageTs: '1700000000.000200',
      threadTs: ts, // a reply in the operation's thread is part of it
    });
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    expect(s.slack.responses.slice(reply).map((r) => String(r.body?.text))).not.toContain(
      'You have approved this already.',
    );
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
    // The cancel from elsewhere changed nothing either: the promotion still runs on the next approval.
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.finalReply(ts);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });

  it('a reviewer removed from the user group no longer counts when the quorum is reached; approvers are session tags', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0LEAD1', ts);
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    // Removed from S0LEADS while the bot's 60-s cache still lists them.
    s.slack.userGroups.set('S0LEADS', ['U0LEAD2']);
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    const dropped = await s.slack.waitFor(() => replies(s!.slack, /no longer counts/)[0]);
    expect(dropped).toContain('<@U0LEAD1>');
    expect(dropped).toContain('1 more approval needed');
    await settle();
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);

    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.finalReply(ts);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    // CloudTrail shows who asked (SourceIdentity) and who approved (a session tag) on the execution's session.
    const tagged = s.aws.assumeRoleCalls.filter((c) => c.RoleArn === PROD_ROLE && c.Tags?.['promote-bot:approvers']);
    expect(tagged.length).toBeGreaterThan(0);
    expect(tagged.map((c) => c.Tags?.['promote-bot:approvers'])).toContain('U0ALICE U0BOB');
    expect(tagged.every((c) => c.SourceIdentity === REQUESTER)).toBe(true);
  });

  it('a reviewer removed from promote.yml (restart with a new config) no longer counts', async () => {
    const redisUrl = inject('redisUrl');
    s = await startScenario({ redisUrl });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    await s.bot.kill('SIGTERM');
    s.bot = await startBot({
      config: configYaml({ reviewers: ['U0ALICE', 'S0LEADS'] }),
      slackUrl: s.slack.url,
      slackToken: s.slack.token,
      awsUrl: s.aws.url,
      redisUrl,
      redisPrefix: s.redisPrefix,
    });
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    const dropped = await s.slack.waitFor(() => replies(s!.slack, /no longer counts/)[0]);
    expect(dropped).toContain('<@U0BOB>');
    await settle();
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
    await s.click(ACTION.approve, id, 'U0LEAD2', ts);
    await s.finalReply(ts);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
  });

  /** A release of api/prod recorded, then a new dev build waiting on prod: its summary and ID. */
  async function waitingPromotion(sc: Scenario) {
    const first = await sc.plan();
    await sc.click(ACTION.approve, first.id, 'U0ALICE', first.ts);
    await sc.click(ACTION.approve, first.id, 'U0BOB', first.ts);
    await sc.finalReply(first.ts);
    const v3 = JSON.parse(DEV_TEMPLATE);
    v3.Resources.Fn.Properties.Code.ZipFile = 'v3';
    sc.aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: JSON.stringify(v3),
      parameters: { Env: 'dev', MemorySize: '256' },
    });
    return sc.plan();
  }

  const rollbackSummary = (sc: Scenario) =>
    sc.slack.waitFor(
      () => summaries(sc.slack).find((m) => JSON.stringify(m.history[0]?.blocks ?? []).includes('ROLLBACK')),
      15_000,
    );

  const supersededShown = (sc: Scenario, ts: string) =>
    /superseded by a rollback/.test(JSON.stringify(sc.slack.messages.find((m) => m.ts === ts)?.blocks));

  it("a non-reviewer's /rollback only proposes: cancelling it leaves the waiting promotion alone", async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const pending = await waitingPromotion(s);
    await s.rollback('api prod', 'U0MALLORY');
    const rb = await rollbackSummary(s);
    await settle();
    expect(supersededShown(s, pending.ts)).toBe(false);
    await s.click(ACTION.cancel, promotionIdOf(rb.blocks)!, 'U0MALLORY', rb.ts);
    await s.slack.waitFor(() =>
      /Cancelled/i.test(JSON.stringify(s!.slack.messages.find((m) => m.ts === rb.ts)?.blocks)) ? true : undefined,
    );
    // The promotion still waits, and runs when approved.
    await s.click(ACTION.approve, pending.id, 'U0ALICE', pending.ts);
    await s.click(ACTION.approve, pending.id, 'U0BOB', pending.ts);
    await s.finalReply(pending.ts);
    expect(supersededShown(s, pending.ts)).toBe(false);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(2);
  });

  it("a non-reviewer's /rollback supersedes the waiting promotion when it is approved, then runs", async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const pending = await waitingPromotion(s);
    await s.rollback('api prod', 'U0MALLORY');
    const rb = await rollbackSummary(s);
    await settle();
    expect(supersededShown(s, pending.ts)).toBe(false);
    await s.click(ACTION.approve, promotionIdOf(rb.blocks)!, 'U0ALICE', rb.ts);
    await s.finalReply(rb.ts);
    expect(supersededShown(s, pending.ts)).toBe(true);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(2); // the first promotion and the rollback
    await s.click(ACTION.approve, pending.id, 'U0ALICE', pending.ts);
    await s.click(ACTION.approve, pending.id, 'U0BOB', pending.ts);
    await s.slack.waitFor(() => replies(s!.slack, /cancelled/i)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(2);
  });

  it('/promote status and history show only the services the channel may use; in a DM only unrestricted ones', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    await s.plan(); // api (channels: C0PROMOTE, C0OTHER) waits for approval and holds api-prod's lock
    const ask = async (text: string, channel: string) => {
      const before = s!.slack.responses.length;
      await s!.promote(text, 'U0CURIOUS', channel);
      return s!.slack.waitFor(() => s!.slack.responses.slice(before).map((r) => String(r.body?.text ?? ''))[0]);
    };
    const here = await ask('status', CHANNEL);
    expect(here).toMatch(/api dev → prod: waiting for approvals, by <@U0REQ>/);
    expect(here).toContain('api-prod');
    for (const channel of ['C0WEB', 'D0DIRECT']) {
      const elsewhere = await ask('status', channel);
      expect(elsewhere).toContain('*promotions in flight*');
      expect(elsewhere).not.toMatch(/api/);
      expect(await ask('status api', channel)).toMatch(/api can only be promoted or rolled back from/);
      expect(await ask('history api prod', channel)).toMatch(/api can only be promoted or rolled back from/);
    }
    // web is restricted to C0WEB: not even in a direct message.
    expect(await ask('history web prod', 'D0DIRECT')).toMatch(/web can only be promoted or rolled back from/);
    expect(await ask('history api prod', CHANNEL)).not.toMatch(/can only be promoted/);
  });

  it('no secret appears in anything Slack received or the bot logged', async () => {
    const AWS_SECRET = 'e2eAwsSecret/K7MDENG+bPxRfiCYzzLEAK';
    const NOECHO = 'prod-noecho-Hunter2-LEAK';
    const DEV_NOECHO = 'dev-noecho-Swordfish-LEAK';
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      env: { AWS_SECRET_ACCESS_KEY: AWS_SECRET, LOG_LEVEL: 'debug' },
    });
    const withSecret = (t: string) => {
      const j = JSON.parse(t);
      j.Parameters.DbPassword = { Type: 'String', NoEcho: true };
      j.Resources.Fn.Properties.Environment = { Variables: { DB_PASSWORD: { Ref: 'DbPassword' } } };
      return JSON.stringify(j);
    };
    s.aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: withSecret(DEV_TEMPLATE),
      parameters: { Env: 'dev', MemorySize: '256', DbPassword: DEV_NOECHO },
    });
    s.aws.putStack({
      name: 'api-prod',
      account: PROD_ACCOUNT,
      template: withSecret(PROD_TEMPLATE),
      parameters: { Env: 'prod', MemorySize: '1024', DbPassword: NOECHO },
    });
    const { id, ts } = await s.plan();
    await s.click(ACTION.showChanges, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.finalReply(ts);
    await s.promote('history api prod');
    await s.promote('status');
    await s.slack.waitFor(() => replies(s!.slack, /Locks held/)[0]);
    await settle(1000);
    expect(s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.parameters.DbPassword).toBe(NOECHO);

    const received = JSON.stringify({
      messages: s.slack.messages,
      ephemerals: s.slack.ephemerals,
      responses: s.slack.responses,
      files: s.slack.files,
      views: s.slack.views,
      calls: s.slack.calls,
    });
    const log = s.bot.output();
    expect(log).toContain('audit'); // the log did record the run
    expect(received).toContain('Fn'); // the function that reads the secret was shown; the secret never
    for (const secret of [s.slack.token, SIGNING_SECRET, AWS_SECRET, NOECHO, DEV_NOECHO]) {
      expect(received).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });
});
