// Drives the bot process the way Slack does. HTTP mode: signed, form-urlencoded POSTs to /slack/events with the
// exact bodies Slack sends for slash commands (platform-facts §1.1) and block_actions (§1.5), signed as in §1.3.
import { createHmac, randomBytes } from 'node:crypto';
import type { FakeSocketMode, SocketAck } from '../fakes/socket-mode.js';

export interface DriverResult {
  status: number;
  body: string;
  /** time until the HTTP response (Bolt's ack) arrived */
  elapsedMs: number;
}

const API_APP_ID = 'A0PROMOTEAPP';
// The deprecated verification token Slack still puts in every body; Bolt ignores it in favour of signatures.
const VERIFICATION_TOKEN = 'fake-verification-token';
const DEFAULT_TEAM_ID = 'T0FAKETEAM';
const TEAM_DOMAIN = 'fake-workspace';

/** `v0=` + hex HMAC-SHA256(secret, `v0:${timestamp}:${rawBody}`) — what Slack sends as X-Slack-Signature. */
export function slackSignature(secret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

function triggerId(): string {
  return `${Date.now()}.${Math.floor(Math.random() * 1e10)}.${randomBytes(16).toString('hex')}`;
}

function userName(userId: string): string {
  return `user-${userId.toLowerCase()}`;
}

function channelName(channelId: string): string {
  return `channel-${channelId.toLowerCase()}`;
}

export interface SlashCommandOptions {
  url: string;
  secret: string;
  command: string;
  text: string;
  userId: string;
  channelId: string;
  responseUrl: string;
  teamId?: string;
  /** X-Slack-Request-Timestamp in unix seconds; default now (set an old one for replay tests) */
  timestamp?: number;
  /** sign with the wrong secret */
  badSignature?: boolean;
}

/** The form fields Slack POSTs for a slash command, in Slack's order. */
export function slashCommandFields(o: Omit<SlashCommandOptions, 'url' | 'secret' | 'timestamp' | 'badSignature'>) {
  return {
    token: VERIFICATION_TOKEN,
    team_id: o.teamId ?? DEFAULT_TEAM_ID,
    team_domain: TEAM_DOMAIN,
    channel_id: o.channelId,
    channel_name: channelName(o.channelId),
    user_id: o.userId,
    user_name: userName(o.userId),
    command: o.command,
    text: o.text,
    api_app_id: API_APP_ID,
    is_enterprise_install: 'false',
    response_url: o.responseUrl,
    trigger_id: triggerId(),
  };
}

export interface BlockActionOptions {
  url: string;
  secret: string;
  userId: string;
  actionId: string;
  value: string;
  blockId?: string;
  channelId: string;
  messageTs: string;
  responseUrl: string;
  triggerId?: string;
  teamId?: string;
  /** the clicked button's label; default the action_id */
  buttonText?: string;
  /** the message the button is on, as Slack echoes it back in the payload */
  messageText?: string;
  messageBlocks?: unknown[];
  /** set when the button is on a thread reply */
  threadTs?: string;
  timestamp?: number;
  badSignature?: boolean;
}

/** The JSON Slack sends (in the form field `payload`) when a user clicks a button on a message. */
export function blockActionPayload(o: Omit<BlockActionOptions, 'url' | 'secret' | 'timestamp' | 'badSignature'>) {
  const teamId = o.teamId ?? DEFAULT_TEAM_ID;
  const actionTs = `${(Date.now() / 1000).toFixed(6)}`;
  return {
    type: 'block_actions',
    user: { id: o.userId, username: userName(o.userId), name: userName(o.userId), team_id: teamId },
    api_app_id: API_APP_ID,
    token: VERIFICATION_TOKEN,
    container: { type: 'message', message_ts: o.messageTs, channel_id: o.channelId, is_ephemeral: false },
    trigger_id: o.triggerId ?? triggerId(),
    team: { id: teamId, domain: TEAM_DOMAIN },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: o.channelId, name: channelName(o.channelId) },
    message: {
      type: 'message',
      ts: o.messageTs,
      text: o.messageText ?? '',
      ...(o.messageBlocks ? { blocks: o.messageBlocks } : {}),
      ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
    },
    state: { values: {} },
    response_url: o.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: o.actionId,
        block_id: o.blockId ?? 'actions',
        value: o.value,
        text: { type: 'plain_text', text: o.buttonText ?? o.actionId, emoji: true },
        action_ts: actionTs,
      },
    ],
  };
}

/** The headers Slack sends with a request: its content type, user agent, timestamp and signature of `rawBody`. */
export function signedHeaders(
  secret: string,
  timestamp: number,
  rawBody: string,
  contentType = 'application/x-www-form-urlencoded',
): Record<string, string> {
  return {
    'content-type': contentType,
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': slackSignature(secret, timestamp, rawBody),
  };
}

/** POSTs a signed body (form-urlencoded unless `contentType` says otherwise) to the bot; resolves with its ack. */
export async function postSigned(o: {
  url: string;
  secret: string;
  rawBody: string;
  timestamp?: number;
  badSignature?: boolean;
  contentType?: string;
}): Promise<DriverResult> {
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = o.badSignature ? `${o.secret}-wrong` : o.secret;
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(o.url, {
      method: 'POST',
      headers: signedHeaders(secret, timestamp, o.rawBody, o.contentType),
      body: o.rawBody,
    });
  } catch (cause) {
    throw new Error(`sending a signed Slack request to ${o.url}`, { cause });
  }
  const elapsedMs = performance.now() - started;
  return { status: response.status, body: await response.text(), elapsedMs };
}

export async function sendSlashCommand(o: SlashCommandOptions): Promise<DriverResult> {
  const rawBody = new URLSearchParams(slashCommandFields(o)).toString();
  return postSigned({ ...o, rawBody });
}

export async function sendBlockAction(o: BlockActionOptions): Promise<DriverResult> {
  const rawBody = new URLSearchParams({ payload: JSON.stringify(blockActionPayload(o)) }).toString();
  return postSigned({ ...o, rawBody });
}

export interface HomeBlockActionOptions {
  userId: string;
  actionId: string;
  value: string;
  /** the Home tab the button is in, as published (test/fakes/slack.ts `homes`) */
  view: Record<string, unknown>;
  blockId?: string;
  teamId?: string;
}

/**
 * The JSON Slack sends when a person clicks a button in their App Home tab: the container is the view, there is
 * no channel, no message and no response_url (docs.slack.dev/reference/interaction-payloads/block_actions-payload).
 */
export function homeBlockActionPayload(o: HomeBlockActionOptions) {
  const teamId = o.teamId ?? DEFAULT_TEAM_ID;
  const viewId = String(o.view.id ?? 'V0HOME');
  return {
    type: 'block_actions',
    user: { id: o.userId, username: userName(o.userId), name: userName(o.userId), team_id: teamId },
    api_app_id: API_APP_ID,
    token: VERIFICATION_TOKEN,
    container: { type: 'view', view_id: viewId },
    trigger_id: triggerId(),
    team: { id: teamId, domain: TEAM_DOMAIN },
    enterprise: null,
    is_enterprise_install: false,
    view: { ...o.view, id: viewId, type: 'home', state: { values: {} }, hash: `${Date.now()}.home` },
    actions: [
      {
        type: 'button',
        action_id: o.actionId,
        block_id: o.blockId ?? 'actions',
        value: o.value,
        text: { type: 'plain_text', text: o.actionId, emoji: true },
        action_ts: `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
}

export async function sendHomeBlockAction(o: HomeBlockActionOptions & { url: string; secret: string }) {
  const rawBody = new URLSearchParams({ payload: JSON.stringify(homeBlockActionPayload(o)) }).toString();
  return postSigned({ ...o, rawBody });
}

/** An Events API body (e.g. FakeSlack.appHomeOpened) POSTed as Slack does: signed JSON. */
export async function sendEvent(o: { url: string; secret: string; body: Record<string, unknown> }) {
  return postSigned({ ...o, rawBody: JSON.stringify(o.body), contentType: 'application/json' });
}

export interface ViewSubmissionOptions {
  url: string;
  secret: string;
  userId: string;
  callbackId: string;
  privateMetadata: string;
  /** state.values: block_id → action_id → { type, value } */
  values: Record<string, Record<string, { type: string; value: string | null }>>;
  teamId?: string;
}

/** The JSON of a modal submitted by a person, as Slack sends it (type view_submission). */
export function viewSubmissionPayload(o: Omit<ViewSubmissionOptions, 'url' | 'secret'>) {
  return {
    type: 'view_submission',
    team: { id: o.teamId ?? 'T0TEAM', domain: 'fake' },
    user: {
      id: o.userId,
      username: o.userId.toLowerCase(),
      name: o.userId.toLowerCase(),
      team_id: o.teamId ?? 'T0TEAM',
    },
    api_app_id: 'A0PROMOTE',
    token: 'verification-token',
    trigger_id: `${Date.now()}.trigger`,
    view: {
      id: 'V0MODAL',
      team_id: o.teamId ?? 'T0TEAM',
      type: 'modal',
      callback_id: o.callbackId,
      private_metadata: o.privateMetadata,
      state: { values: o.values },
      hash: '1.hash',
      title: { type: 'plain_text', text: 'modal' },
      blocks: [],
    },
    response_urls: [],
    is_enterprise_install: false,
  };
}

/** A modal submitted by a person, as Slack sends it over HTTP (form field `payload`). */
export async function sendViewSubmission(o: ViewSubmissionOptions): Promise<DriverResult> {
  const payload = viewSubmissionPayload(o);
  const rawBody = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return postSigned({ ...o, rawBody });
}

// ---------------------------------------------------------------------------------------------------------------
// Socket Mode: the same payloads, delivered as envelopes over the fake Slack's WebSocket (test/fakes/socket-mode.ts).
// Each helper resolves with the bot's ack; `payload` is what the bot answered in it (a slash command's immediate
// ephemeral text), like the HTTP response body.

type Unsigned<T> = Omit<T, 'url' | 'secret' | 'timestamp' | 'badSignature'>;

export function sendSlashCommandOverSocket(
  socket: FakeSocketMode,
  o: Unsigned<SlashCommandOptions>,
): Promise<SocketAck> {
  return socket.slashCommand(slashCommandFields(o));
}

export function sendBlockActionOverSocket(socket: FakeSocketMode, o: Unsigned<BlockActionOptions>): Promise<SocketAck> {
  return socket.interactive(blockActionPayload(o));
}

export function sendViewSubmissionOverSocket(
  socket: FakeSocketMode,
  o: Omit<ViewSubmissionOptions, 'url' | 'secret'>,
): Promise<SocketAck> {
  return socket.interactive(viewSubmissionPayload(o));
}

export function sendHomeBlockActionOverSocket(socket: FakeSocketMode, o: HomeBlockActionOptions): Promise<SocketAck> {
  return socket.interactive(homeBlockActionPayload(o));
}

/** An Events API body over Socket Mode: an `events_api` envelope. */
export function sendEventOverSocket(socket: FakeSocketMode, body: Record<string, unknown>): Promise<SocketAck> {
  return socket.deliver('events_api', body);
}
