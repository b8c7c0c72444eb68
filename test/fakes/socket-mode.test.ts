// The fake Slack's Socket Mode against the real client the bot uses (@slack/socket-mode's SocketModeClient, via
// Bolt): if the fake drifted from what that client expects, these tests would fail before any end-to-end test.
import { LogLevel, SocketModeClient } from '@slack/socket-mode';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type FakeSlack, startFakeSlack } from './slack.js';

let slack: FakeSlack | undefined;
let client: SocketModeClient | undefined;

afterEach(async () => {
  await client?.disconnect().catch(() => undefined);
  client = undefined;
  await slack?.close();
  slack = undefined;
});

async function openConnection(token: string): Promise<{ ok: boolean; url?: string; error?: string }> {
  const r = await fetch(`${slack!.url}apps.connections.open`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
  });
  return (await r.json()) as { ok: boolean; url?: string; error?: string };
}

/** A SocketModeClient that acks slash commands with a text and everything else with nothing. */
async function connectClient(): Promise<SocketModeClient> {
  const c = new SocketModeClient({
    appToken: slack!.socketMode.appToken,
    logLevel: LogLevel.ERROR,
    // a short ping timeout also makes the reconnect delay short (the client waits one timeout before reconnecting)
    clientPingTimeout: 600,
    clientOptions: { slackApiUrl: slack!.url },
  });
  c.on('slash_commands', async ({ ack, body }) => {
    await ack({ response_type: 'ephemeral', text: `got ${body.command} ${body.text}` });
  });
  c.on('interactive', async ({ ack }) => {
    await ack();
  });
  await c.start();
  client = c;
  return c;
}

describe('fake Slack: Socket Mode', () => {
  it('apps.connections.open takes only the app-level token and hands out a one-use WebSocket URL', async () => {
    slack = await startFakeSlack();
    expect(await openConnection(slack.token)).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect(await openConnection('xapp-1-A0OTHER-1-nope')).toEqual({ ok: false, error: 'invalid_auth' });
    const opened = await openConnection(slack.socketMode.appToken);
    expect(opened.ok).toBe(true);
    expect(opened.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=\w+&app_id=A0PROMOTEAPP$/);
    expect(slack.calls.map((c) => [c.method, c.ok])).toEqual([
      ['apps.connections.open', false],
      ['apps.connections.open', false],
      ['apps.connections.open', true],
    ]);

    const first = new WebSocket(opened.url!);
    const hello = await new Promise<Record<string, unknown>>((resolve) =>
      first.once('message', (d) => resolve(JSON.parse(String(d)))),
    );
    expect(hello).toMatchObject({ type: 'hello', connection_info: { app_id: 'A0PROMOTEAPP' } });
    expect(slack.socketMode.connected()).toBe(true);

    // The ticket is spent: a second connection with the same URL is refused at the upgrade.
    const second = new WebSocket(opened.url!);
    const refused = await new Promise<string>((resolve) => second.once('error', (e) => resolve(e.message)));
    expect(refused).toMatch(/401/);
    first.close();
    await slack.waitFor(() => !slack!.socketMode.connected());
  });

  it('delivers slash commands and clicks as envelopes and returns the client’s ack, payload included', async () => {
    slack = await startFakeSlack();
    await connectClient();
    expect(slack.socketMode.connections).toHaveLength(1);

    const ack = await slack.socketMode.slashCommand({ command: '/promote', text: 'api dev→prod', user_id: 'U0A' });
    expect(ack.connection).toBe(1);
    expect(ack.payload).toEqual({ response_type: 'ephemeral', text: 'got /promote api dev→prod' });
    const sent = slack.socketMode.connections[0]!.sent[0]!;
    expect(sent).toMatchObject({
      type: 'slash_commands',
      accepts_response_payload: true,
      envelope_id: ack.envelope_id,
    });

    const click = await slack.socketMode.interactive({ type: 'block_actions', actions: [] });
    expect(click.payload).toBeUndefined();
    expect(slack.socketMode.connections[0]!.sent[1]).toMatchObject({
      type: 'interactive',
      accepts_response_payload: false,
    });
    expect(slack.socketMode.acks.map((a) => a.envelope_id)).toEqual([ack.envelope_id, click.envelope_id]);
  });

  it('an envelope nobody acks times out', async () => {
    slack = await startFakeSlack();
    await connectClient();
    await expect(
      slack.socketMode.deliver('events_api', { event: { type: 'app_mention' } }, { timeoutMs: 300 }),
    ).rejects.toThrow(/not acked within 300 ms/);
    await expect(slack.socketMode.deliver('slash_commands', {})).resolves.toMatchObject({ connection: 1 });
  });

  it('disconnect: the client closes the socket, opens a new connection, and envelopes flow over it', async () => {
    slack = await startFakeSlack();
    const c = await connectClient();
    const reconnected = new Promise((resolve) => c.once('connected', resolve));
    await slack.socketMode.disconnect('refresh_requested');
    expect(slack.socketMode.connections[0]!.closedAt).toBeDefined();
    expect(slack.socketMode.connections[0]!.closeCode).toBe(1000); // the client's normal closure
    await expect(slack.socketMode.slashCommand({ command: '/promote', text: 'x' })).rejects.toThrow(
      /no Socket Mode connection/,
    );

    const second = await slack.socketMode.waitForConnection(2);
    expect(slack.socketMode.opens).toBe(2);
    const ack = await slack.socketMode.slashCommand({ command: '/promote', text: 'again' });
    expect(ack.connection).toBe(second.id);
    expect(ack.payload?.text).toBe('got /promote again');
    await reconnected;
  });

  it('a dropped connection fails the envelope in flight and the client reconnects', async () => {
    slack = await startFakeSlack();
    const c = await connectClient();
    c.removeAllListeners('slash_commands'); // nobody acks: the envelope is in flight when the line drops
    // Stopping the client while it is still reconnecting would reject its start() unhandled: wait for it.
    const reconnected = new Promise((resolve) => c.once('connected', resolve));
    const inFlight = slack.socketMode.slashCommand({ command: '/promote', text: 'lost' });
    await slack.waitFor(() => slack!.socketMode.connections[0]!.sent.length === 1);
    const failed = expect(inFlight).rejects.toThrow(/connection 1 closed \(code 1006\) before envelope .* was acked/);
    await slack.socketMode.drop();
    expect(slack.socketMode.connected()).toBe(false);
    await failed;
    await slack.socketMode.waitForConnection(2);
    await reconnected;
    expect(slack.socketMode.opens).toBe(2);
  });

  it('failOpen: apps.connections.open refuses, and the client retries until it can connect', async () => {
    slack = await startFakeSlack();
    slack.socketMode.failOpen('internal_error');
    await connectClient();
    expect(slack.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.error ?? 'ok')).toEqual([
      'internal_error',
      'ok',
    ]);
    expect(slack.socketMode.connected()).toBe(true);
  });
});
