// The Socket Mode side of the fake Slack (docs.slack.dev/apis/events-api/using-socket-mode, and
// api.slack.com/methods/apps.connections.open): the app calls apps.connections.open with its app-level token
// (xapp-…, in the Authorization header), gets a one-use `wss://…/link/?ticket=…&app_id=…` URL, opens a WebSocket
// there and waits for `{ type: 'hello' }`. Slack then sends envelopes `{ envelope_id, type, payload,
// accepts_response_payload }` (type `slash_commands`, `interactive`, `events_api`), and the app acks each by
// sending `{ envelope_id, payload? }` back. Slack asks for a reconnect with `{ type: 'disconnect', reason }`
// (e.g. `refresh_requested`) and the app opens a new connection; a connection can also just drop.
// @slack/socket-mode's SocketModeClient speaks the client side: it becomes "connected" on hello, closes the
// socket on disconnect and, whenever a socket closes, calls apps.connections.open again and reconnects.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

export interface SocketAck {
  envelope_id: string;
  /** what the app put in the ack (a slash command's immediate answer, a view's response_action); absent for `{}` */
  payload?: Record<string, unknown>;
  /** the connection (1-based, in order of opening) the ack came over */
  connection: number;
  at: number;
}

export interface SocketEnvelope {
  envelope_id: string;
  type: 'slash_commands' | 'interactive' | 'events_api';
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

export interface SocketConnection {
  /** 1-based, in order of opening */
  id: number;
  openedAt: number;
  /** set when the socket closed; `code` is the WebSocket close code (1006 for a dropped connection) */
  closedAt?: number;
  closeCode?: number;
  /** envelopes sent over this connection */
  sent: SocketEnvelope[];
}

export interface FakeSocketMode {
  /** the app-level token apps.connections.open accepts */
  appToken: string;
  appId: string;
  /** every apps.connections.open answered with a URL */
  opens: number;
  connections: SocketConnection[];
  acks: SocketAck[];
  /** messages from the app that were not acks (Slack ignores them; kept so tests can see them) */
  other: unknown[];
  /** true while at least one connection is open (hello sent) */
  connected(): boolean;
  /** resolves when connection number `n` (1-based; default: one more than now) is open and said hello */
  waitForConnection(n?: number, timeoutMs?: number): Promise<SocketConnection>;
  /**
   * Sends an envelope over the newest open connection and resolves with the app's ack. Rejects when no connection
   * is open, or when the connection closes (or `timeoutMs` passes) before the ack arrives.
   */
  deliver(
    type: SocketEnvelope['type'],
    payload: Record<string, unknown>,
    opts?: { acceptsResponsePayload?: boolean; timeoutMs?: number; envelopeId?: string; retryAttempt?: number },
  ): Promise<SocketAck>;
  /** a slash command: `fields` are the same fields Slack POSTs over HTTP (slashCommandFields) */
  slashCommand(fields: Record<string, string>, opts?: { timeoutMs?: number }): Promise<SocketAck>;
  /** a block_actions or view_submission payload, as Slack sends it over HTTP in the `payload` form field */
  interactive(payload: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<SocketAck>;
  /**
   * Asks the app to reconnect (over the newest connection), as Slack does before recycling a connection: sends `{ type: 'disconnect', reason }`
   * and resolves once the app closed that socket (closing it after `timeoutMs` if the app never does).
   */
  disconnect(reason?: string, timeoutMs?: number): Promise<void>;
  /**
   * Ends the newest open connection abruptly: no disconnect message, no close frame (the TCP socket is destroyed).
   * Resolves once the fake saw it close.
   */
  drop(): Promise<void>;
  /** the next `times` apps.connections.open calls answer `{ ok: false, error }` */
  failOpen(error: string, times?: number): void;
}

/** What fake Slack's server needs from the Socket Mode side. */
export interface SocketModeServer {
  fake: FakeSocketMode;
  /** apps.connections.open, given the token in the Authorization header */
  open(token: string | undefined, botToken: string): { ok: true; url: string } | { ok: false; error: string };
  /** the HTTP server's `upgrade` event */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

const LINK_PATH = '/link/';

export function createSocketMode(o: { origin: string; appToken: string; appId: string }): SocketModeServer {
  const wss = new WebSocketServer({ noServer: true });
  const tickets = new Set<string>();
  const failures: string[] = [];
  const pending = new Map<string, { resolve: (a: SocketAck) => void; reject: (e: Error) => void; conn: number }>();
  // Open connections, oldest first. Slack allows several per app and spreads envelopes over them; this fake sends
  // every envelope over the newest.
  const live: Array<{ ws: WebSocket; conn: SocketConnection }> = [];
  const newest = () => live.at(-1);
  const waiters: Array<() => void> = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };

  const onClose = (ws: WebSocket, conn: SocketConnection, code: number) => {
    conn.closedAt = Date.now();
    conn.closeCode = code;
    const at = live.findIndex((l) => l.ws === ws);
    if (at >= 0) live.splice(at, 1);
    for (const [id, p] of pending) {
      if (p.conn !== conn.id) continue;
      pending.delete(id);
      p.reject(new Error(`fake Slack: connection ${conn.id} closed (code ${code}) before envelope ${id} was acked`));
    }
    notify();
  };

  const accept = (ws: WebSocket) => {
    const conn: SocketConnection = { id: fake.connections.length + 1, openedAt: Date.now(), sent: [] };
    fake.connections.push(conn);
    live.push({ ws, conn });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        fake.other.push(String(data));
        return;
      }
      const m = msg as { envelope_id?: unknown; payload?: unknown };
      const p = typeof m.envelope_id === 'string' ? pending.get(m.envelope_id) : undefined;
      if (!p || typeof m.envelope_id !== 'string') {
        fake.other.push(msg);
        return;
      }
      pending.delete(m.envelope_id);
      const payload =
        typeof m.payload === 'object' && m.payload !== null && Object.keys(m.payload).length > 0
          ? (m.payload as Record<string, unknown>)
          : undefined;
      const ack: SocketAck = {
        envelope_id: m.envelope_id,
        ...(payload ? { payload } : {}),
        connection: conn.id,
        at: Date.now(),
      };
      fake.acks.push(ack);
      p.resolve(ack);
    });
    ws.on('close', (code) => onClose(ws, conn, code));
    ws.on('error', () => undefined); // a dropped peer; 'close' follows
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: `applink-fake-${conn.id}`, build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: o.appId },
      }),
    );
    notify();
  };

  const fake: FakeSocketMode = {
    appToken: o.appToken,
    appId: o.appId,
    opens: 0,
    connections: [],
    acks: [],
    other: [],
    connected: () => live.length > 0,
    async waitForConnection(n = fake.connections.length + 1, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const conn = fake.connections[n - 1];
        if (conn && live.some((l) => l.conn === conn)) return conn;
        if (conn?.closedAt) throw new Error(`fake Slack: Socket Mode connection ${n} closed before the test saw it`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `fake Slack: Socket Mode connection ${n} did not open within ${timeoutMs} ms ` +
              `(apps.connections.open answered ${fake.opens} time(s), ${fake.connections.length} connection(s))`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    deliver(type, payload, opts = {}) {
      const current = newest();
      if (!current) return Promise.reject(new Error('fake Slack: no Socket Mode connection is open'));
      const envelope: SocketEnvelope = {
        envelope_id: opts.envelopeId ?? randomUUID(),
        type,
        payload,
        accepts_response_payload: opts.acceptsResponsePayload ?? false,
        ...(opts.retryAttempt ? { retry_attempt: opts.retryAttempt, retry_reason: 'timeout' } : {}),
      };
      const timeoutMs = opts.timeoutMs ?? 10_000;
      return new Promise<SocketAck>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(envelope.envelope_id);
          reject(new Error(`fake Slack: envelope ${envelope.envelope_id} (${type}) not acked within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(envelope.envelope_id, {
          conn: current.conn.id,
          resolve: (a) => {
            clearTimeout(timer);
            resolve(a);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        current.conn.sent.push(envelope);
        current.ws.send(JSON.stringify(envelope));
      });
    },
    // Slash commands accept a response payload in the ack (the immediate ephemeral answer).
    slashCommand: (fields, opts = {}) =>
      fake.deliver('slash_commands', fields, { acceptsResponsePayload: true, ...opts }),
    // view_submission acks may carry a response_action; block_actions acks carry nothing.
    interactive: (payload, opts = {}) =>
      fake.deliver('interactive', payload, {
        acceptsResponsePayload: payload.type === 'view_submission',
        ...opts,
      }),
    async disconnect(reason = 'refresh_requested', timeoutMs = 5_000) {
      const current = newest();
      if (!current) throw new Error('fake Slack: no Socket Mode connection to disconnect');
      const closed = new Promise<void>((resolve) => current.ws.once('close', () => resolve()));
      current.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake' } }));
      const timer = setTimeout(() => current.ws.terminate(), timeoutMs);
      await closed;
      clearTimeout(timer);
    },
    async drop() {
      const current = newest();
      if (!current) throw new Error('fake Slack: no Socket Mode connection to drop');
      const closed = new Promise<void>((resolve) => current.ws.once('close', () => resolve()));
      current.ws.terminate();
      await closed;
    },
    failOpen(error, times = 1) {
      for (let i = 0; i < times; i++) failures.push(error);
    },
  };

  return {
    fake,
    open(token, botToken) {
      if (!token) return { ok: false, error: 'not_authed' };
      // A bot token is a valid token of the wrong type for this method.
      if (token === botToken || token.startsWith('xoxb-')) return { ok: false, error: 'not_allowed_token_type' };
      if (!token.startsWith('xapp-') || token !== o.appToken) return { ok: false, error: 'invalid_auth' };
      const failure = failures.shift();
      if (failure !== undefined) return { ok: false, error: failure };
      const ticket = randomBytes(12).toString('hex');
      tickets.add(ticket);
      fake.opens += 1;
      const ws = o.origin.replace(/^http/, 'ws');
      return { ok: true, url: `${ws}${LINK_PATH}?ticket=${ticket}&app_id=${o.appId}` };
    },
    upgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', o.origin);
      const ticket = url.searchParams.get('ticket') ?? '';
      // A ticket opens one connection; an unknown or used one is refused before the upgrade.
      if (url.pathname !== LINK_PATH || !tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, accept);
    },
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
