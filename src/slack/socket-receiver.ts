// Bolt's Socket Mode receiver, built here rather than by `new App({ socketMode: true })` for two reasons:
// - the receiver's own SocketModeClient calls apps.connections.open through a WebClient of its own, which only
//   takes `installerOptions.clientOptions` (not the App's `clientOptions`), so SLACK_API_URL must be passed here;
// - the bot needs to know whether the WebSocket to Slack is open (readiness): the SocketModeClient emits
//   `connected` when Slack says hello, and `close` / `reconnecting` / `disconnected` when the socket goes away
//   (@slack/socket-mode README, "Lifecycle events").
import { type CustomRoute, type Logger, type LogLevel, SocketModeReceiver } from '@slack/bolt';

export interface SocketReceiver {
  receiver: SocketModeReceiver;
  /** true between Slack's `hello` and the socket closing (a `disconnect`, a dropped connection, stop) */
  connected: () => boolean;
}

export function createSocketReceiver(o: {
  appToken: string;
  slackApiUrl: string;
  port: number;
  customRoutes: CustomRoute[];
  logger?: Logger;
  logLevel: LogLevel;
}): SocketReceiver {
  const receiver = new SocketModeReceiver({
    appToken: o.appToken,
    ...(o.logger ? { logger: o.logger } : {}),
    logLevel: o.logLevel,
    customRoutes: o.customRoutes,
    installerOptions: { port: o.port, clientOptions: { slackApiUrl: o.slackApiUrl } },
  });
  let connected = false;
  receiver.client.on('connected', () => {
    connected = true;
  });
  for (const event of ['close', 'disconnecting', 'reconnecting', 'disconnected']) {
    receiver.client.on(event, () => {
      connected = false;
    });
  }
  return { receiver, connected: () => connected };
}
