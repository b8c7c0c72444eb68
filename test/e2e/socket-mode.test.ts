// The core flow in Socket Mode, the mode manifest.yml sets up: the bot (SLACK_APP_TOKEN, no signing secret)
// opens a WebSocket to the fake Slack, and every command and click arrives there as an envelope it acks.
// Connections are recycled by Slack (`disconnect`) or drop; the bot reconnects and nothing runs twice.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import {
  allText,
  DEV_TEMPLATE,
  PROD_ACCOUNT,
  PROD_TEMPLATE,
  promotionIdOf,
  replies,
  type Scenario,
  stackUpdates,
  startScenario,
  summaries,
} from '../support/scenario.js';
import { sendViewSubmissionOverSocket } from '../support/slack-driver.js';

const prodTemplate = (s: Scenario) => JSON.parse(s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!.template);

describe('Socket Mode', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('promotes over the socket: the ack carries the answer, two approvals, one execution, the final reply', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), mode: 'socket' });
    const socket = s.slack.socketMode;
    // The app-level token opened the connection; the bot token did the rest.
    const open = s.slack.calls.filter((c) => c.method === 'apps.connections.open');
    // One by the start-up check of SLACK_APP_TOKEN, one by the connection itself.
    expect(open.map((c) => c.ok)).toEqual([true, true]);
    expect(socket.connections).toHaveLength(1);

    // Liveness answers in Socket Mode too; there is no HTTP endpoint for Slack's requests.
    const health = await fetch(`${s.bot.base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, store: 'redis' });
    expect((await fetch(s.bot.url, { method: 'POST', body: 'x' })).status).toBe(404);

    const ack = await s.promote('api dev→prod');
    expect(JSON.parse(ack.body)).toEqual({ response_type: 'ephemeral', text: 'Planning api dev → prod…' });
    const summary = await s.slack.waitFor(() => summaries(s!.slack).find((m) => promotionIdOf(m.blocks)), 15_000);
    const id = promotionIdOf(summary.blocks)!;

    const first = await s.click(ACTION.approve, id, 'U0ALICE', summary.ts);
    expect(first.body).toBe(''); // a button's ack carries nothing
    await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
    await s.click(ACTION.approve, id, 'U0BOB', summary.ts);
    const final = await s.finalReply(summary.ts);
    expect(final.text).toMatch(/prod/);

    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    expect(prodTemplate(s)).toEqual(JSON.parse(DEV_TEMPLATE));
    // Every envelope was acked, all over the one connection.
    expect(socket.acks.map((a) => a.connection)).toEqual([1, 1, 1]);
    expect(socket.connections[0]!.sent.map((e) => e.type)).toEqual(['slash_commands', 'interactive', 'interactive']);
  });

  it('rolls back over the socket', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), mode: 'socket' });
    const { id, ts } = await s.plan();
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.finalReply(ts);
    expect(prodTemplate(s)).toEqual(JSON.parse(DEV_TEMPLATE));

    const before = summaries(s.slack).length;
    const ack = await s.rollback('api', 'U0ONCALL');
    expect(JSON.parse(ack.body).text).toBe('Looking at api for a rollback…');
    const summary = await s.slack.waitFor(
      () =>
        summaries(s!.slack)
          .slice(before)
          .find((m) => JSON.stringify(m.blocks).includes('ROLLBACK')),
      15_000,
    );
    await s.click(ACTION.approve, promotionIdOf(summary.blocks)!, 'U0ALICE', summary.ts);
    await s.finalReply(summary.ts);
    expect(prodTemplate(s)).toEqual(JSON.parse(PROD_TEMPLATE));
    expect(stackUpdates(s)).toBe(2);
  });

  it('a rejection over the socket opens the reason modal, and its submission comes back over the socket', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), mode: 'socket' });
    const { id, ts } = await s.plan();
    await s.click(ACTION.reject, id, 'U0BOB', ts);
    // views.open took the trigger_id from the interactive payload delivered over the socket.
    const modal = await s.slack.waitFor(() => s!.slack.views[0]);
    const clickEnvelope = s.slack.socketMode.connections[0]!.sent.at(-1)!;
    expect(modal.trigger_id).toBe(clickEnvelope.payload.trigger_id);

    const ack = await sendViewSubmissionOverSocket(s.slack.socketMode, {
      userId: 'U0BOB',
      callbackId: String(modal.view.callback_id),
      privateMetadata: String(modal.view.private_metadata),
      values: { reason: { reason: { type: 'plain_text_input', value: 'not during the freeze' } } },
    });
    // A view_submission envelope accepts a response payload; an empty ack closes the modal.
    expect(s.slack.socketMode.connections[0]!.sent.at(-1)!.accepts_response_payload).toBe(true);
    expect(ack.payload).toBeUndefined();
    await s.slack.waitFor(() =>
      allText(s!.slack.messages.find((m) => m.ts === ts)?.blocks).includes('not during the freeze') ? true : undefined,
    );
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(0);
  });

  for (const how of ['disconnect', 'drop'] as const) {
    it(`${how === 'disconnect' ? 'Slack recycles the connection' : 'the connection drops'} between the two approvals: the bot reconnects and executes once`, async () => {
      s = await startScenario({ redisUrl: inject('redisUrl'), mode: 'socket' });
      const socket = s.slack.socketMode;
      const { id, ts } = await s.plan();
      await s.click(ACTION.approve, id, 'U0ALICE', ts);
      await s.slack.waitFor(() => replies(s!.slack, /1 more approval needed/)[0]);

      if (how === 'disconnect') await socket.disconnect('refresh_requested');
      else await socket.drop();
      expect(socket.connected()).toBe(false);
      // While the bot is away, Slack cannot deliver the click; once it is back (a new apps.connections.open and a
      // new connection), the click goes through.
      await expect(s.click(ACTION.approve, id, 'U0BOB', ts)).rejects.toThrow(/no Socket Mode connection/);
      const second = await socket.waitForConnection(2, 20_000);
      expect(socket.opens).toBe(3); // the start-up check, the first connection, the reconnect

      const ack = await s.click(ACTION.approve, id, 'U0BOB', ts);
      expect(ack.status).toBe(200);
      expect(socket.acks.at(-1)!.connection).toBe(second.id);
      const final = await s.finalReply(ts);
      expect(final.text).toMatch(/prod/);
      expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
      expect(stackUpdates(s)).toBe(1);
      expect(prodTemplate(s)).toEqual(JSON.parse(DEV_TEMPLATE));
      // The first connection ended as asked (a normal close) or as it dropped (no close frame).
      expect(socket.connections[0]!.closeCode).toBe(how === 'disconnect' ? 1000 : 1006);
    });
  }
});
