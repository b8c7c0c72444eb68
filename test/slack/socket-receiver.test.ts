// The Socket Mode receiver against the fake Slack: it opens its connection through SLACK_API_URL (not slack.com),
// and `connected()` follows the WebSocket (what readiness reports) through a dropped connection and a reconnect.
import { LogLevel } from '@slack/bolt';
import { afterEach, expect, it } from 'vitest';
import { createSocketReceiver, type SocketReceiver } from '../../src/slack/socket-receiver.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';

let slack: FakeSlack | undefined;
let socket: SocketReceiver | undefined;

afterEach(async () => {
  await socket?.receiver.stop();
  socket = undefined;
  await slack?.close();
  slack = undefined;
});

it('connects through the configured API URL and reports the connection as it comes and goes', async () => {
  slack = await startFakeSlack();
  socket = createSocketReceiver({
    appToken: slack.socketMode.appToken,
    slackApiUrl: slack.url,
    port: 0,
    customRoutes: [],
    logLevel: LogLevel.ERROR,
  });
  expect(socket.connected()).toBe(false);
  await socket.receiver.start();
  expect(socket.connected()).toBe(true);
  expect(slack.calls.map((c) => `${c.method} ${c.ok}`)).toEqual(['apps.connections.open true']);

  await slack.socketMode.drop();
  await slack.waitFor(() => !socket!.connected());
  // The client waits one ping timeout (5 s by default) before it reconnects.
  await slack.socketMode.waitForConnection(2, 15_000);
  await slack.waitFor(() => socket!.connected(), 5_000);
  expect(slack.socketMode.opens).toBe(2);
}, 30_000);
