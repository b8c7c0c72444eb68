// HTTP endpoints for orchestrators and monitoring, served next to Slack's (Bolt custom routes):
// /readyz (readiness: the store answers and Slack is connected or the token was verified) and /metrics
// (Prometheus text format). /healthz, liveness, stays in src/app.ts.
import type { CustomRoute } from '@slack/bolt';
import type { Metrics } from './metrics.js';
import type { Store } from './store/types.js';

/** How long /readyz waits for the store's answer; a probe must answer well within its own timeout. */
export const READY_STORE_TIMEOUT_MS = 2_000;

export interface Readiness {
  store: Pick<Store, 'ping' | 'durable'>;
  /** undefined when Slack is ready, else what is wrong ('Socket Mode is not connected') */
  slackProblem: () => string | undefined;
}

export interface ReadyReport {
  ready: boolean;
  store: 'ok' | string;
  slack: 'ok' | string;
}

export async function readiness(r: Readiness): Promise<ReadyReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${READY_STORE_TIMEOUT_MS} ms`)),
      READY_STORE_TIMEOUT_MS,
    );
  });
  const store = await Promise.race([r.store.ping(), timeout])
    .then(() => 'ok')
    .catch((err: unknown) => `not answering: ${err instanceof Error ? err.message : String(err)}`)
    .finally(() => clearTimeout(timer));
  const slack = r.slackProblem() ?? 'ok';
  return { ready: store === 'ok' && slack === 'ok', store, slack };
}

export function probeRoutes(r: Readiness, metrics: Metrics): CustomRoute[] {
  return [
    {
      path: '/readyz',
      method: ['GET'],
      handler: (_req, res) => {
        void readiness(r).then((report) => {
          res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(report));
        });
      },
    },
    {
      path: '/metrics',
      method: ['GET'],
      handler: (_req, res) => {
        metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`collecting metrics: ${err instanceof Error ? err.message : String(err)}\n`);
          },
        );
      },
    },
  ];
}

/** Minimal view of @slack/socket-mode's SocketModeClient: an EventEmitter of its connection states. */
interface SocketStates {
  on(event: string, listener: () => void): unknown;
  /** the current connection (SlackWebSocket), whose isActive() says whether its WebSocket is open */
  websocket?: { isActive(): boolean };
}

/**
 * Follows a Socket Mode connection through the client's state events (connecting, connected, reconnecting,
 * disconnected; @slack/socket-mode SocketModeClient) and its WebSocket: after a dropped connection the client
 * waits before it reconnects, still "connected" by its events, with a closed socket. Returns what /readyz asks:
 * undefined while connected.
 */
export function followSocketMode(client: SocketStates | undefined): () => string | undefined {
  if (!client) return () => 'Socket Mode client not found';
  let state = 'connecting';
  for (const s of ['connecting', 'connected', 'reconnecting', 'disconnecting', 'disconnected']) {
    client.on(s, () => {
      state = s;
    });
  }
  return () => {
    if (state !== 'connected') return `Socket Mode is ${state}`;
    if (client.websocket && !client.websocket.isActive()) return 'Socket Mode connection dropped; reconnecting';
    return undefined;
  };
}
