// A fake Slack Web API + response_url + file-upload server for tests. The bot process talks to it through the
// real @slack/web-api WebClient (`clientOptions.slackApiUrl`) and Bolt's respond() (plain fetch to response_url),
// so everything here mirrors what Slack does on the wire (platform-facts §1.6–§1.8, §1.10):
// - WebClient POSTs `<base><method>` with `Authorization: Bearer xoxb-…` and a form-urlencoded body in which
//   complex arguments (blocks, files, …) are JSON strings; JSON bodies are accepted too.
// - Every Web API answer is HTTP 200 JSON `{ ok, … }`, except rate limits: HTTP 429 + `Retry-After`
//   (and, on request, HTTP 5xx or no answer at all: failHttp, hang).
// - Messages are validated like Slack validates Block Kit, so a bot that builds an over-long summary fails here
//   exactly as it would in production.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLimiter, DEFAULT_LIMITS, type SlackLimits } from './slack-limits.js';
import { createSocketMode, type FakeSocketMode, type SocketModeServer } from './socket-mode.js';

// ---------------------------------------------------------------------------------------------------------------
// Public types

export interface FakeCall {
  method: string;
  /** arguments as the fake understood them: JSON-string arguments (blocks, files…) parsed, token removed */
  args: Record<string, unknown>;
  ok: boolean;
  error?: string;
  /** the HTTP status answered; 0 when the fake never answered (hang) */
  status: number;
  at: number;
}

export interface FakeMessageVersion {
  text?: string;
  blocks?: unknown[];
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  blocks?: unknown[];
  reply_broadcast?: boolean;
  /** the bot user that posted it */
  user?: string;
  /** history[0] is the message as posted; every chat.update (or replace_original) appends the new version */
  history: FakeMessageVersion[];
  /** set by chat.delete (or delete_original); the message stays in `messages` so tests can see it went away */
  deleted?: boolean;
}

export interface FakeEphemeral {
  channel: string;
  user: string;
  text?: string;
  blocks?: unknown[];
  thread_ts?: string;
}

export interface FakeResponse {
  url: string;
  tag?: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary fields of what the bot sent
  body: any;
  /** HTTP status the fake answered with: 200 accepted; 400/404 rejected (see handleResponseUrl) */
  status: number;
  error?: string;
}

export interface FakeFile {
  id: string;
  filename: string;
  title?: string;
  content: string;
  channel_id?: string;
  thread_ts?: string;
  initial_comment?: string;
}

export interface FakeUser {
  name?: string;
  real_name?: string;
  tz?: string;
  is_bot?: boolean;
  deleted?: boolean;
}

export interface FakeChannel {
  name?: string;
  is_private?: boolean;
  is_archived?: boolean;
  /** whether the bot is in the channel (conversations.info `is_member`); default true */
  is_member?: boolean;
}

export interface FakeSlack {
  /** Web API base ending in '/api/', e.g. http://127.0.0.1:PORT/api/ */
  url: string;
  token: string;
  botUserId: string;
  botId: string;
  teamId: string;
  close(): Promise<void>;
  /**
   * A fresh response_url served by this fake. Pass `source` (the message the button was on) to make
   * `replace_original` / `delete_original` act on that entry of `messages`, as Slack does for block_actions.
   */
  responseUrl(tag?: string, source?: { channel: string; ts: string }): string;
  calls: FakeCall[];
  messages: FakeMessage[];
  ephemerals: FakeEphemeral[];
  /** everything POSTed to response URLs, accepted or not (check `status`) */
  responses: FakeResponse[];
  files: FakeFile[];
  /** modals opened with views.open */
  views: Array<{ trigger_id: string; view: Record<string, unknown> }>;
  /** App Home tabs published with views.publish, oldest first (`homes` keeps each person's current one) */
  published: Array<{ user: string; view: Record<string, unknown>; at: number }>;
  /** the Home tab each person sees now (the last views.publish for them) */
  homes: Map<string, Record<string, unknown>>;
  /**
   * The Events API body (`type: 'event_callback'`) Slack sends when `user` opens the app's App Home on `tab`
   * (docs.slack.dev/reference/events/app_home_opened): `view` is there when a Home tab was published for them.
   * Deliver it with test/support/slack-driver.ts (signed over HTTP, or over the Socket Mode connection).
   */
  appHomeOpened(user: string, tab?: 'home' | 'messages'): Record<string, unknown>;
  /**
   * The app's direct conversation with `user` (chat.postMessage with the user's ID as `channel` lands there,
   * in a `D…` channel, as in Slack): its live messages, oldest first
   */
  dm(user: string): FakeMessage[];
  /** usergroups.users.list source; unknown group → ok:false no_such_subteam */
  userGroups: Map<string, string[]>;
  /** users.info overrides; unknown users get a generated profile */
  users: Map<string, FakeUser>;
  /** conversations.info overrides; unknown channels get a generated public channel */
  channels: Map<string, FakeChannel>;
  /**
   * the next `times` calls of `method` get HTTP 429 with `Retry-After: retryAfterSec` (default 1); with
   * `target.channel`, only calls whose `channel` argument is that channel (calls to other channels go through)
   */
  rateLimit(method: string, times: number, retryAfterSec?: number, target?: { channel?: string }): void;
  /** the next `times` calls of `method` get HTTP `status` (e.g. 500, 503) with a plain-text body, as a proxy would */
  failHttp(method: string, status: number, times?: number): void;
  /**
   * the next `times` calls of `method` (to `target.channel` only, when given) never get an answer: the
   * connection stays open until the client gives up or close()
   */
  hang(method: string, times?: number, target?: { channel?: string }): void;
  /** the next call of `method` gets `{ ok: false, error }` (queued: call twice to fail two calls) */
  failNext(method: string, error: string): void;
  /** drops the failures still queued by failNext for `method` */
  heal(method: string): void;
  /** polls every 20 ms until fn returns a truthy value; on timeout throws with a dump of what the bot did */
  waitFor<T>(fn: () => T | undefined | false | null, timeoutMs?: number): Promise<T>;
  /** live (not deleted) replies whose thread_ts === ts, in posting order */
  thread(ts: string): FakeMessage[];
  /**
   * Runs `hook` after a Web API call of `method` ('*' = any) took effect and before it is answered: a test can
   * kill the bot the moment its call reached Slack (the bot never sees the answer).
   */
  onCall(method: string, hook: (call: FakeCall) => void): void;
  /** Socket Mode: apps.connections.open (with `appToken`) and the WebSocket it hands out (test/fakes/socket-mode.ts) */
  socketMode: FakeSocketMode;
}

/**
 * A per-method rate limit like Slack's tiers (api.slack.com/apis/rate-limits): a token bucket of `burst` calls
 * refilled at `perMinute`, for the workspace or, with `perChannel`, for each channel (chat.postMessage's one
 * message a second per channel). A call over it gets HTTP 429 with Retry-After, as Slack answers.
 */
export interface FakeTier {
  perMinute: number;
  burst: number;
  perChannel?: boolean;
}

export interface StartFakeSlackOptions {
  /** per-method limits enforced with HTTP 429 (none by default) */
  tiers?: Record<string, FakeTier>;
  /** the clock the tiers refill on (ms); default Date.now */
  now?: () => number;
  token?: string;
  botUserId?: string;
  teamId?: string;
  /** the app-level token apps.connections.open accepts; default 'xapp-1-A0PROMOTEAPP-1-test' */
  appToken?: string;
  /**
   * Enforce Slack's rate limits (test/fakes/slack-limits.ts): `true` for the published tiers, or custom ones.
   * Off by default: tests inject 429s with rateLimit().
   */
  limits?: boolean | SlackLimits;
}

// ---------------------------------------------------------------------------------------------------------------
// Block Kit validation (platform-facts §1.6). Pure; exported so view tests can check blocks without a server.

export const LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  sectionFields: 10,
  sectionField: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  markdownBlock: 12_000,
  id: 255,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** ⚠ undocumented aggregate limit (`msg_blocks_too_long`, bolt-js#2509/#2867): observed around 11–13 k */
  totalBlockText: 12_000,
  /** longer message `text` is accepted but truncated with warning `message_truncated` */
  messageText: 40_000,
} as const;

const BLOCK_TYPES = new Set([
  'section',
  'divider',
  'header',
  'context',
  'actions',
  'image',
  'rich_text',
  'input',
  'file',
  'video',
  'markdown',
]);

const ELEMENT_TYPES = new Set([
  'button',
  'checkboxes',
  'datepicker',
  'datetimepicker',
  'email_text_input',
  'image',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
  'number_input',
  'overflow',
  'plain_text_input',
  'radio_buttons',
  'rich_text_input',
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'timepicker',
  'url_text_input',
  'file_input',
  'workflow_button',
]);

type Obj = Record<string, unknown>;

interface Walk {
  issues: string[];
  blockIds: Set<string>;
  actionIds: Set<string>;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Slack reports each problem as a sentence plus a JSON pointer into the request, e.g.
// "must be less than 3001 characters [json-pointer:/blocks/0/text/text]".
function issue(w: Walk, reason: string, path: string): void {
  w.issues.push(`${reason} [json-pointer:${path}]`);
}

function checkMaxString(w: Walk, value: unknown, max: number, path: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string') issue(w, 'must be a string', path);
  else if (value.length > max) issue(w, `must be less than ${max + 1} characters`, path);
}

function checkTextObject(w: Walk, value: unknown, path: string, max: number | undefined, plainOnly = false): void {
  if (!isObj(value)) {
    issue(w, 'must be a text object', path);
    return;
  }
  if (plainOnly && value.type !== 'plain_text') issue(w, 'must be a plain_text text object', `${path}/type`);
  else if (value.type !== 'plain_text' && value.type !== 'mrkdwn') {
    issue(w, `unknown text object type \`${String(value.type)}\``, `${path}/type`);
  }
  const text = value.text;
  if (typeof text !== 'string') issue(w, 'must be a string', `${path}/text`);
  else if (text.length === 0) issue(w, 'must be more than 0 characters', `${path}/text`);
  else if (max !== undefined && text.length > max) issue(w, `must be less than ${max + 1} characters`, `${path}/text`);
}

function checkId(w: Walk, value: unknown, seen: Set<string>, name: string, path: string): void {
  if (value === undefined) return;
  checkMaxString(w, value, LIMITS.id, path);
  if (typeof value !== 'string') return;
  if (seen.has(value)) issue(w, `duplicate ${name} \`${value}\``, path);
  seen.add(value);
}

function checkConfirm(w: Walk, value: unknown, path: string): void {
  if (value === undefined) return;
  if (!isObj(value)) {
    issue(w, 'must be a confirmation dialog object', path);
    return;
  }
  checkTextObject(w, value.title, `${path}/title`, LIMITS.confirmTitle, true);
  checkTextObject(w, value.text, `${path}/text`, LIMITS.confirmText);
  checkTextObject(w, value.confirm, `${path}/confirm`, LIMITS.confirmButton, true);
  checkTextObject(w, value.deny, `${path}/deny`, LIMITS.confirmButton, true);
  if (value.style !== undefined && value.style !== 'primary' && value.style !== 'danger') {
    issue(w, 'must be one of primary, danger', `${path}/style`);
  }
}

function checkElement(w: Walk, el: unknown, path: string): void {
  if (!isObj(el) || typeof el.type !== 'string') {
    issue(w, 'must be a block element with a type', path);
    return;
  }
  if (!ELEMENT_TYPES.has(el.type)) {
    issue(w, `unknown element type \`${el.type}\``, `${path}/type`);
    return;
  }
  // ⚠ Slack only requires action_id to be unique within its block; the project asked for message-wide
  // uniqueness (a stricter check, so every action_id maps to exactly one button in a message).
  checkId(w, el.action_id, w.actionIds, 'action_id', `${path}/action_id`);
  checkConfirm(w, el.confirm, `${path}/confirm`);
  if (el.type !== 'button') return;
  checkTextObject(w, el.text, `${path}/text`, LIMITS.buttonText, true);
  checkMaxString(w, el.value, LIMITS.buttonValue, `${path}/value`);
  checkMaxString(w, el.url, LIMITS.buttonUrl, `${path}/url`);
  if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
    issue(w, 'must be one of primary, danger', `${path}/style`);
  }
}

function checkElementList(w: Walk, value: unknown, max: number, path: string, each: (el: unknown, p: string) => void) {
  if (!Array.isArray(value) || value.length === 0) {
    issue(w, 'must be a non-empty array', path);
    return;
  }
  if (value.length > max) issue(w, `no more than ${max} items allowed`, path);
  value.forEach((el, i) => {
    each(el, `${path}/${i}`);
  });
}

function checkSection(w: Walk, block: Obj, path: string): void {
  if (block.text === undefined && block.fields === undefined) {
    issue(w, 'must define either `text` or `fields`', path);
  }
  if (block.text !== undefined) checkTextObject(w, block.text, `${path}/text`, LIMITS.sectionText);
  if (block.fields !== undefined) {
    checkElementList(w, block.fields, LIMITS.sectionFields, `${path}/fields`, (f, p) => {
      checkTextObject(w, f, p, LIMITS.sectionField);
    });
  }
  if (block.accessory !== undefined) checkElement(w, block.accessory, `${path}/accessory`);
}

function checkBlock(w: Walk, block: unknown, path: string): void {
  if (!isObj(block) || typeof block.type !== 'string') {
    issue(w, 'must be a block object with a type', path);
    return;
  }
  if (!BLOCK_TYPES.has(block.type)) {
    issue(w, `unknown block type \`${block.type}\``, `${path}/type`);
    return;
  }
  checkId(w, block.block_id, w.blockIds, 'block_id', `${path}/block_id`);
  switch (block.type) {
    case 'section':
      checkSection(w, block, path);
      break;
    case 'header':
      checkTextObject(w, block.text, `${path}/text`, LIMITS.headerText, true);
      break;
    case 'context':
      checkElementList(w, block.elements, LIMITS.contextElements, `${path}/elements`, (el, p) => {
        if (isObj(el) && el.type === 'image') return;
        checkTextObject(w, el, p, undefined);
      });
      break;
    case 'actions':
      checkElementList(w, block.elements, LIMITS.actionsElements, `${path}/elements`, (el, p) => {
        checkElement(w, el, p);
      });
      break;
    case 'markdown':
      if (typeof block.text !== 'string' || block.text.length === 0) {
        issue(w, 'must be more than 0 characters', `${path}/text`);
      } else checkMaxString(w, block.text, LIMITS.markdownBlock, `${path}/text`);
      break;
    case 'input':
      checkTextObject(w, block.label, `${path}/label`, 2000, true);
      checkElement(w, block.element, `${path}/element`);
      break;
    default:
      // divider, image, rich_text, file, video: accepted without deeper checks.
      break;
  }
}

/** Sum of every string under a `text` key anywhere in the blocks: what Slack's aggregate limit counts (⚠). */
export function totalBlockText(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + totalBlockText(v), 0);
  if (!isObj(value)) return 0;
  let sum = 0;
  for (const [key, v] of Object.entries(value)) {
    sum += key === 'text' && typeof v === 'string' ? v.length : totalBlockText(v);
  }
  return sum;
}

export interface ValidateOptions {
  /** blocks allowed: 50 in a message (default), 100 in a modal or Home tab */
  maxBlocks?: number;
  /**
   * 'message' (default): action_id unique across the message (the project's stricter rule, see checkElement);
   * 'block': unique within each block, as Slack requires, for views listing several operations' buttons
   */
  actionIdScope?: 'message' | 'block';
}

/** Block Kit problems in `blocks` as Slack words them ("reason [json-pointer:/blocks/…]"); [] when valid. */
export function validateBlocks(blocks: unknown, opts: ValidateOptions = {}): string[] {
  const w: Walk = { issues: [], blockIds: new Set(), actionIds: new Set() };
  if (!Array.isArray(blocks)) {
    issue(w, 'must be an array', '/blocks');
    return w.issues;
  }
  const max = opts.maxBlocks ?? LIMITS.blocksPerMessage;
  if (blocks.length > max) issue(w, `no more than ${max} items allowed`, '/blocks');
  blocks.forEach((b, i) => {
    if (opts.actionIdScope === 'block') w.actionIds = new Set();
    checkBlock(w, b, `/blocks/${i}`);
  });
  return w.issues;
}

export type MessageCheck =
  | { ok: true; text?: string; blocks?: unknown[]; truncated: boolean }
  | { ok: false; error: string; errors?: string[] };

/**
 * What Slack does with a message's text/blocks (chat.postMessage, chat.update, chat.postEphemeral, response_url):
 * invalid_blocks_format for blocks that aren't a JSON array, invalid_blocks with reasons, msg_blocks_too_long
 * for the aggregate text limit, no_text when there is nothing to show, and truncation of text > 40,000 chars.
 */
export function checkMessage(text: unknown, blocks: unknown, opts: { requireContent: boolean }): MessageCheck {
  if (blocks !== undefined && !Array.isArray(blocks)) return { ok: false, error: 'invalid_blocks_format' };
  if (text !== undefined && typeof text !== 'string') return { ok: false, error: 'invalid_arguments' };
  const hasText = typeof text === 'string' && text.length > 0;
  const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
  if (opts.requireContent && !hasText && !hasBlocks) return { ok: false, error: 'no_text' };
  if (blocks !== undefined) {
    const errors = validateBlocks(blocks);
    if (errors.length > 0) return { ok: false, error: 'invalid_blocks', errors };
    if (totalBlockText(blocks) > LIMITS.totalBlockText) return { ok: false, error: 'msg_blocks_too_long' };
  }
  const truncated = typeof text === 'string' && text.length > LIMITS.messageText;
  return {
    ok: true,
    text: truncated ? (text as string).slice(0, LIMITS.messageText) : (text as string | undefined),
    blocks: blocks as unknown[] | undefined,
    truncated,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Request parsing

// Arguments WebClient serialises as JSON strings in a form body.
const JSON_ARGS = new Set(['blocks', 'attachments', 'files', 'metadata']);
const BOOLEAN_ARGS = new Set([
  'reply_broadcast',
  'unfurl_links',
  'unfurl_media',
  'mrkdwn',
  'as_user',
  'link_names',
  'include_disabled',
  'include_locale',
  'include_num_members',
  'replace_original',
  'delete_original',
]);

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseMultipart(contentType: string, raw: Buffer): Promise<FormData> {
  // undici's Request implements multipart parsing, so no hand-written parser is needed.
  const request = new Request('http://fake.invalid/', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new Uint8Array(raw),
  });
  return request.formData();
}

function normaliseArgs(args: Obj): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(args)) {
    if (typeof value === 'string' && JSON_ARGS.has(key)) {
      try {
        out[key] = JSON.parse(value);
      } catch {
        out[key] = value; // left as a string: checkMessage answers invalid_blocks_format like Slack
      }
    } else if (typeof value === 'string' && BOOLEAN_ARGS.has(key) && (value === 'true' || value === 'false')) {
      out[key] = value === 'true';
    } else out[key] = value;
  }
  return out;
}

/** Web API arguments from query string + body (form-urlencoded, JSON or multipart). Throws on malformed JSON. */
async function parseArgs(req: IncomingMessage, url: URL, raw: Buffer): Promise<Obj> {
  const args: Obj = Object.fromEntries(url.searchParams);
  const contentType = req.headers['content-type'] ?? '';
  const text = raw.toString('utf8');
  if (contentType.includes('application/json')) {
    if (text.trim() !== '') {
      const parsed: unknown = JSON.parse(text);
      if (isObj(parsed)) Object.assign(args, parsed);
    }
  } else if (contentType.includes('multipart/form-data')) {
    for (const [key, value] of await parseMultipart(contentType, raw)) {
      args[key] = typeof value === 'string' ? value : await value.text();
    }
  } else if (text !== '') {
    Object.assign(args, Object.fromEntries(new URLSearchParams(text)));
  }
  return normaliseArgs(args);
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

// ---------------------------------------------------------------------------------------------------------------
// Slack-like identifiers

/** Slack message timestamps: "<unix seconds>.<6-digit sequence>", unique and increasing per channel. */
export function makeTsClock(now: () => number = Date.now): () => string {
  let last = 0;
  return () => {
    const micros = Math.max(now() * 1000, last + 100);
    last = micros;
    const seconds = Math.floor(micros / 1_000_000);
    return `${seconds}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function describeCall(c: FakeCall, i: number): string {
  const args = JSON.stringify(c.args);
  const shown = args.length > 300 ? `${args.slice(0, 300)}…` : args;
  return `  ${i + 1}. ${c.method} → ${c.status} ${c.ok ? 'ok' : `error=${c.error}`} ${shown}`;
}

function describeResponse(r: FakeResponse, i: number): string {
  const body = JSON.stringify(r.body);
  const shown = body.length > 300 ? `${body.slice(0, 300)}…` : body;
  return `  ${i + 1}. ${r.tag ?? r.url} → ${r.status}${r.error ? ` ${r.error}` : ''} ${shown}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The server

type Result = { ok: true; [key: string]: unknown } | { ok: false; error: string; [key: string]: unknown };

interface State {
  fake: FakeSlack;
  nextTs: () => string;
  origin: string;
  rateLimits: Map<string, Array<{ retryAfterSec: number; channel?: string }>>;
  tiers: Record<string, FakeTier>;
  tierBuckets: Map<string, { tokens: number; at: number }>;
  now: () => number;
  httpFailures: Map<string, number[]>;
  hangs: Map<string, Array<{ channel?: string }>>;
  failures: Map<string, string[]>;
  uploads: Map<string, { filename: string; content?: string }>;
  responseUrls: Map<string, { tag?: string; source?: { channel: string; ts: string }; used: number }>;
  seq: number;
  hooks: Array<{ method: string; hook: (call: FakeCall) => void }>;
  socket: SocketModeServer;
  /** Retry-After seconds when Slack's own limits refuse the call (startFakeSlack `limits`) */
  limiter?: (method: string, channel: string | undefined) => number | undefined;
}

function nextId(s: State, prefix: string): string {
  s.seq += 1;
  return `${prefix}${String(s.seq).padStart(8, '0')}`;
}

function messageJson(s: State, m: FakeMessage): Obj {
  return {
    type: 'message',
    user: m.user,
    bot_id: s.fake.botId,
    team: s.fake.teamId,
    ts: m.ts,
    text: m.text ?? '',
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
  };
}

function withWarning(result: Result, truncated: boolean): Result {
  if (!truncated) return result;
  return { ...result, warning: 'message_truncated', response_metadata: { warnings: ['message_truncated'] } };
}

function rejectMessage(check: Extract<MessageCheck, { ok: false }>): Result {
  if (!check.errors) return { ok: false, error: check.error };
  return {
    ok: false,
    error: check.error,
    errors: check.errors,
    response_metadata: { messages: check.errors.map((e) => `[ERROR] ${e}`) },
  };
}

function findMessage(s: State, channel: string, ts: string): FakeMessage | undefined {
  return s.fake.messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
}

/** The app's direct conversation with a user: Slack answers a post to `U…` with the IM's `D…` channel. */
export function imChannel(user: string): string {
  return `D${user.slice(1)}`;
}

const USER_ID = /^[UW][A-Z0-9]+$/;

function postMessage(s: State, args: Obj): Result {
  const given = str(args.channel);
  if (!given) return { ok: false, error: 'channel_not_found' };
  // A user ID as `channel` posts in the app's direct conversation with them (docs.slack.dev/reference/methods/
  // chat.postMessage); a deactivated user has none.
  if (USER_ID.test(given) && s.fake.users.get(given)?.deleted) return { ok: false, error: 'channel_not_found' };
  const channel = USER_ID.test(given) ? imChannel(given) : given;
  const check = checkMessage(args.text, args.blocks, { requireContent: true });
  if (!check.ok) return rejectMessage(check);
  const at = Date.now();
  const message: FakeMessage = {
    channel,
    ts: s.nextTs(),
    ...(str(args.thread_ts) ? { thread_ts: str(args.thread_ts) } : {}),
    ...(check.text !== undefined ? { text: check.text } : {}),
    ...(check.blocks !== undefined ? { blocks: check.blocks } : {}),
    ...(args.reply_broadcast === true ? { reply_broadcast: true } : {}),
    user: s.fake.botUserId,
    history: [{ text: check.text, blocks: check.blocks, at }],
  };
  s.fake.messages.push(message);
  return withWarning({ ok: true, channel, ts: message.ts, message: messageJson(s, message) }, check.truncated);
}

/** Replaces text/blocks in place like Slack: omitted blocks keep the old ones, `[]` clears them. */
function applyUpdate(m: FakeMessage, text: string | undefined, blocks: unknown[] | undefined): void {
  if (text !== undefined) m.text = text;
  if (blocks !== undefined) {
    if (blocks.length === 0) delete m.blocks;
    else m.blocks = blocks;
  }
  m.history.push({ text: m.text, blocks: m.blocks, at: Date.now() });
}

/** replace_original swaps the whole message: whatever the body leaves out is gone. */
function replaceMessage(m: FakeMessage, text: string | undefined, blocks: unknown[] | undefined): void {
  if (text !== undefined) m.text = text;
  else delete m.text;
  if (blocks !== undefined && blocks.length > 0) m.blocks = blocks;
  else delete m.blocks;
  m.history.push({ text: m.text, blocks: m.blocks, at: Date.now() });
}

function updateMessage(s: State, args: Obj): Result {
  const channel = str(args.channel);
  if (!channel) return { ok: false, error: 'channel_not_found' };
  const message = findMessage(s, channel, str(args.ts) ?? '');
  if (!message) return { ok: false, error: 'message_not_found' };
  const check = checkMessage(args.text, args.blocks, { requireContent: true });
  if (!check.ok) return rejectMessage(check);
  applyUpdate(message, check.text, check.blocks);
  return withWarning(
    { ok: true, channel, ts: message.ts, text: message.text ?? '', message: messageJson(s, message) },
    check.truncated,
  );
}

function deleteMessage(s: State, args: Obj): Result {
  const channel = str(args.channel);
  if (!channel) return { ok: false, error: 'channel_not_found' };
  const message = findMessage(s, channel, str(args.ts) ?? '');
  if (!message) return { ok: false, error: 'message_not_found' };
  message.deleted = true;
  return { ok: true, channel, ts: message.ts };
}

/**
 * conversations.replies: the thread's parent then its replies, oldest first (docs.slack.dev/reference/methods/
 * conversations.replies); deleted messages are gone. Paging is not modelled: every message in one page.
 */
function threadReplies(s: State, args: Obj): Result {
  const channel = str(args.channel);
  const ts = str(args.ts);
  if (!channel) return { ok: false, error: 'channel_not_found' };
  if (!ts) return { ok: false, error: 'invalid_arguments' };
  const parent = findMessage(s, channel, ts);
  if (!parent || parent.deleted) return { ok: false, error: 'thread_not_found' };
  const replies = s.fake.messages.filter((m) => m.channel === channel && m.thread_ts === ts && !m.deleted);
  const shown = (m: FakeMessage) => ({
    type: 'message',
    ts: m.ts,
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.user ? { user: m.user, bot_id: s.fake.botId } : {}),
    text: m.text ?? '',
    ...(m.blocks ? { blocks: m.blocks } : {}),
  });
  return { ok: true, messages: [parent, ...replies].map(shown), has_more: false };
}

function postEphemeral(s: State, args: Obj): Result {
  const channel = str(args.channel);
  if (!channel) return { ok: false, error: 'channel_not_found' };
  const user = str(args.user);
  if (!user) return { ok: false, error: 'user_not_found' };
  const check = checkMessage(args.text, args.blocks, { requireContent: true });
  if (!check.ok) return rejectMessage(check);
  s.fake.ephemerals.push({
    channel,
    user,
    ...(check.text !== undefined ? { text: check.text } : {}),
    ...(check.blocks !== undefined ? { blocks: check.blocks } : {}),
    ...(str(args.thread_ts) ? { thread_ts: str(args.thread_ts) } : {}),
  });
  // Ephemeral messages get a ts too, but it can't be used with chat.update/chat.delete.
  return withWarning({ ok: true, message_ts: s.nextTs() }, check.truncated);
}

function userGroupUsers(s: State, args: Obj): Result {
  const group = str(args.usergroup);
  if (!group) return { ok: false, error: 'invalid_arguments' };
  const users = s.fake.userGroups.get(group);
  if (!users) return { ok: false, error: 'no_such_subteam' };
  return { ok: true, users: [...users] };
}

function userInfo(s: State, args: Obj): Result {
  const id = str(args.user);
  if (!id) return { ok: false, error: 'user_not_found' };
  const o = s.fake.users.get(id) ?? {};
  const name = o.name ?? `user-${id.toLowerCase()}`;
  const realName = o.real_name ?? `User ${id}`;
  return {
    ok: true,
    user: {
      id,
      team_id: s.fake.teamId,
      name,
      real_name: realName,
      deleted: o.deleted ?? false,
      is_bot: o.is_bot ?? false,
      tz: o.tz ?? 'Europe/Berlin',
      profile: { display_name: name, real_name: realName },
    },
  };
}

function conversationInfo(s: State, args: Obj): Result {
  const id = str(args.channel);
  if (!id) return { ok: false, error: 'channel_not_found' };
  const o = s.fake.channels.get(id) ?? {};
  return {
    ok: true,
    channel: {
      id,
      name: o.name ?? `channel-${id.toLowerCase()}`,
      is_channel: true,
      is_private: o.is_private ?? false,
      is_archived: o.is_archived ?? false,
      is_member: o.is_member ?? true,
    },
  };
}

function getUploadUrl(s: State, args: Obj): Result {
  const filename = str(args.filename);
  const length = Number(args.length);
  if (!filename || !Number.isFinite(length) || length < 0) return { ok: false, error: 'invalid_arguments' };
  const fileId = nextId(s, 'F');
  s.uploads.set(fileId, { filename });
  return { ok: true, upload_url: `${s.origin}/upload/${fileId}`, file_id: fileId };
}

function completeUpload(s: State, args: Obj): Result {
  const files = args.files;
  if (!Array.isArray(files) || files.length === 0) return { ok: false, error: 'invalid_arguments' };
  const done: FakeFile[] = [];
  for (const f of files) {
    const id = isObj(f) ? str(f.id) : undefined;
    const upload = id ? s.uploads.get(id) : undefined;
    if (!id || !upload || upload.content === undefined) return { ok: false, error: 'file_not_found' };
    done.push({
      id,
      filename: upload.filename,
      content: upload.content,
      ...(isObj(f) && str(f.title) ? { title: str(f.title) } : {}),
      ...(str(args.channel_id) ? { channel_id: str(args.channel_id) } : {}),
      ...(str(args.thread_ts) ? { thread_ts: str(args.thread_ts) } : {}),
      ...(str(args.initial_comment) ? { initial_comment: str(args.initial_comment) } : {}),
    });
  }
  // Sharing also posts a file_share message in Slack; the fake keeps files apart from `messages` on purpose
  // so that counting the bot's own thread replies stays simple.
  s.fake.files.push(...done);
  return {
    ok: true,
    files: done.map((f) => ({
      id: f.id,
      name: f.filename,
      title: f.title ?? f.filename,
      size: Buffer.byteLength(f.content),
      permalink: `${s.origin}/files/${f.id}`,
    })),
  };
}

function authTest(s: State): Result {
  return {
    ok: true,
    url: 'https://fake-workspace.slack.com/',
    team: 'Fake Workspace',
    user: 'promote-bot',
    team_id: s.fake.teamId,
    user_id: s.fake.botUserId,
    bot_id: s.fake.botId,
    is_enterprise_install: false,
  };
}

/** views.open: a modal needs a trigger_id, a plain_text title ≤ 24 characters and valid blocks (≤ 100). */
function openView(s: State, args: Obj): Result {
  const trigger = str(args.trigger_id);
  if (!trigger) return { ok: false, error: 'invalid_trigger_id' };
  let view = args.view;
  if (typeof view === 'string') {
    try {
      view = JSON.parse(view);
    } catch {
      return { ok: false, error: 'invalid_arguments' };
    }
  }
  if (!isObj(view) || view.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
  const title = isObj(view.title) ? str(view.title.text) : undefined;
  const blocks = Array.isArray(view.blocks) ? view.blocks : [];
  const errors: string[] = [];
  if (!title || title.length > 24)
    errors.push('title must be plain_text of 1–24 characters [json-pointer:/view/title]');
  if (blocks.length > 100) errors.push('no more than 100 items allowed [json-pointer:/view/blocks]');
  errors.push(...validateBlocks(blocks.slice(0, 100)).filter((e) => !/more than 50/.test(e)));
  if (errors.length) return { ok: false, error: 'invalid_arguments', response_metadata: { messages: errors } };
  s.fake.views.push({ trigger_id: trigger, view });
  return { ok: true, view: { id: nextId(s, 'V'), ...view } };
}

/**
 * views.publish: a Home tab (`type: 'home'`) for `user_id`, at most 100 valid blocks; action IDs need only be
 * unique within their block (docs.slack.dev/reference/methods/views.publish, docs.slack.dev/reference/views).
 */
function publishView(s: State, args: Obj): Result {
  const user = str(args.user_id);
  if (!user) return { ok: false, error: 'invalid_arguments' };
  if (!USER_ID.test(user)) return { ok: false, error: 'user_not_found' };
  let view = args.view;
  if (typeof view === 'string') {
    try {
      view = JSON.parse(view);
    } catch {
      return { ok: false, error: 'invalid_arguments' };
    }
  }
  if (!isObj(view)) return { ok: false, error: 'invalid_arguments' };
  const errors: string[] = [];
  if (view.type !== 'home') errors.push('must be home [json-pointer:/view/type]');
  errors.push(
    ...validateBlocks(view.blocks, { maxBlocks: 100, actionIdScope: 'block' }).map((e) =>
      e.replace('[json-pointer:/blocks', '[json-pointer:/view/blocks'),
    ),
  );
  if (errors.length) return { ok: false, error: 'invalid_arguments', response_metadata: { messages: errors } };
  const id = nextId(s, 'V');
  const stored = { id, team_id: s.fake.teamId, ...view, app_id: 'A0PROMOTEAPP', bot_id: s.fake.botId };
  s.fake.published.push({ user, view: stored, at: Date.now() });
  s.fake.homes.set(user, stored);
  return { ok: true, view: stored };
}

// apps.connections.open takes the app-level token, in the Authorization header only.
const APP_TOKEN_METHODS = new Set(['apps.connections.open']);

const METHODS: Record<string, (s: State, args: Obj, appToken?: string) => Result> = {
  'apps.connections.open': (s, _args, appToken) => s.socket.open(appToken, s.fake.token),
  'views.open': openView,
  'views.publish': publishView,
  'auth.test': (s) => authTest(s),
  'chat.postMessage': postMessage,
  'chat.update': updateMessage,
  'chat.delete': deleteMessage,
  'conversations.replies': threadReplies,
  'chat.postEphemeral': postEphemeral,
  'usergroups.users.list': userGroupUsers,
  'users.info': userInfo,
  'conversations.info': conversationInfo,
  'files.getUploadURLExternal': getUploadUrl,
  'files.completeUploadExternal': completeUpload,
};

async function handleApi(s: State, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer) {
  const method = decodeURIComponent(url.pathname.slice('/api/'.length));
  const at = Date.now();
  let args: Obj;
  try {
    args = await parseArgs(req, url, raw);
  } catch {
    s.fake.calls.push({ method, args: {}, ok: false, error: 'invalid_json', status: 200, at });
    sendJson(res, 200, { ok: false, error: 'invalid_json' });
    return;
  }
  const token = bearer(req) ?? str(args.token);
  delete args.token;
  const record = (status: number, result: Result) => {
    s.fake.calls.push({ method, args, ok: result.ok, ...(result.ok ? {} : { error: result.error }), status, at });
  };

  const handler = METHODS[method];
  let result: Result | undefined;
  if (!handler) result = { ok: false, error: 'unknown_method' };
  else if (token !== s.fake.token && !APP_TOKEN_METHODS.has(method)) result = { ok: false, error: 'invalid_auth' };
  if (result) {
    record(200, result);
    sendJson(res, 200, result);
    return;
  }

  const aimed = (t: { channel?: string }) => t.channel === undefined || t.channel === str(args.channel);
  const limits = s.rateLimits.get(method) ?? [];
  const limitAt = limits.findIndex(aimed);
  if (limitAt >= 0) {
    const [{ retryAfterSec }] = limits.splice(limitAt, 1) as [{ retryAfterSec: number }];
    const body: Result = { ok: false, error: 'ratelimited' };
    record(429, body);
    sendJson(res, 429, body, { 'retry-after': String(retryAfterSec) });
    return;
  }
  const tier = s.tiers[method];
  if (tier) {
    const key = tier.perChannel ? `${method}:${str(args.channel) ?? ''}` : method;
    const now = s.now();
    const ratePerMs = tier.perMinute / 60_000;
    const b = s.tierBuckets.get(key) ?? { tokens: tier.burst, at: now };
    b.tokens = Math.min(tier.burst, b.tokens + (now - b.at) * ratePerMs);
    b.at = now;
    s.tierBuckets.set(key, b);
    if (b.tokens < 1 - 1e-9) {
      // (the epsilon: a client on the same clock computing the same refill must not lose to float rounding)
      const retryAfterSec = Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
      const body: Result = { ok: false, error: 'ratelimited' };
      record(429, body);
      sendJson(res, 429, body, { 'retry-after': String(retryAfterSec) });
      return;
    }
    b.tokens -= 1;
  }
  const limitedFor = s.limiter?.(method, str(args.channel));
  if (limitedFor !== undefined) {
    const body: Result = { ok: false, error: 'ratelimited' };
    record(429, body);
    sendJson(res, 429, body, { 'retry-after': String(limitedFor) });
    return;
  }
  const hangs = s.hangs.get(method) ?? [];
  const hangAt = hangs.findIndex(aimed);
  if (hangAt >= 0) {
    // Recorded with status 0: no answer ever leaves. close() ends the connection (closeAllConnections).
    hangs.splice(hangAt, 1);
    record(0, { ok: false, error: 'no_answer' });
    return;
  }
  const httpStatus = s.httpFailures.get(method)?.shift();
  if (httpStatus !== undefined) {
    record(httpStatus, { ok: false, error: `http_${httpStatus}` });
    sendText(res, httpStatus, `fake Slack: HTTP ${httpStatus} for ${method}`);
    return;
  }
  const failure = s.failures.get(method)?.shift();
  result = failure !== undefined ? { ok: false, error: failure } : handler!(s, args, bearer(req));
  record(200, result);
  const call = s.fake.calls[s.fake.calls.length - 1]!;
  for (const h of s.hooks) if (h.method === method || h.method === '*') h.hook(call);
  sendJson(res, 200, result);
}

/**
 * response_url. Accepted: HTTP 200 `{"ok":true}`. Rejections follow the incoming-webhook family of endpoints,
 * which answer with an HTTP 4xx and the error code as a plain-text body (e.g. `400 invalid_blocks`, see
 * slackapi/java-slack-sdk#1017, sourcegraph#49979) — so Bolt's respond() throws RespondError, as in production.
 * ⚠ Slack allows 5 uses within 30 minutes; the 6th answers `404 used_url` here (exact code unconfirmed).
 * replace_original/delete_original act on `source` when the URL was created with one.
 */
async function handleResponseUrl(s: State, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer) {
  const id = url.pathname.slice('/respond/'.length);
  const entry = s.responseUrls.get(id) ?? { used: 0 };
  s.responseUrls.set(id, entry);
  const fullUrl = `${s.origin}${url.pathname}`;
  let body: Obj;
  try {
    const contentType = req.headers['content-type'] ?? '';
    const text = raw.toString('utf8');
    const form = contentType.includes('application/x-www-form-urlencoded') ? new URLSearchParams(text) : undefined;
    const parsed: unknown = JSON.parse(form ? (form.get('payload') ?? '') : text);
    if (!isObj(parsed)) throw new Error('response_url body is not a JSON object');
    body = normaliseArgs(parsed);
  } catch {
    s.fake.responses.push({
      url: fullUrl,
      tag: entry.tag,
      body: raw.toString('utf8'),
      status: 400,
      error: 'invalid_payload',
    });
    sendText(res, 400, 'invalid_payload');
    return;
  }
  const reject = (status: number, error: string) => {
    s.fake.responses.push({ url: fullUrl, tag: entry.tag, body, status, error });
    sendText(res, status, error);
  };
  if (entry.used >= 5) return reject(404, 'used_url');
  const deleting = body.delete_original === true;
  const check = deleting ? undefined : checkMessage(body.text, body.blocks, { requireContent: true });
  if (check && !check.ok) return reject(400, check.error);
  entry.used += 1;
  if (check?.ok && check.truncated) body = { ...body, text: check.text };
  s.fake.responses.push({ url: fullUrl, tag: entry.tag, body, status: 200 });
  const target = entry.source ? findMessage(s, entry.source.channel, entry.source.ts) : undefined;
  if (target && deleting) target.deleted = true;
  else if (target && check?.ok && body.replace_original === true) replaceMessage(target, check.text, check.blocks);
  sendJson(res, 200, { ok: true });
}

/** The upload URL from files.getUploadURLExternal: raw bytes or multipart (WebClient sends a `body` file part). */
async function handleUpload(s: State, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer) {
  const fileId = url.pathname.slice('/upload/'.length);
  const upload = s.uploads.get(fileId);
  if (!upload) return sendText(res, 404, 'file_not_found');
  const contentType = req.headers['content-type'] ?? '';
  let content = raw.toString('utf8');
  if (contentType.includes('multipart/form-data')) {
    const form = await parseMultipart(contentType, raw);
    const parts = [...form.values()];
    const file = parts.find((v) => typeof v !== 'string') ?? parts[0];
    content = file === undefined ? '' : typeof file === 'string' ? file : await file.text();
  }
  upload.content = content;
  sendText(res, 200, `OK - ${Buffer.byteLength(content)}`);
}

async function route(s: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', s.origin);
  const raw = await readBody(req);
  if (url.pathname.startsWith('/api/')) return handleApi(s, req, res, url, raw);
  if (req.method === 'POST' && url.pathname.startsWith('/respond/')) return handleResponseUrl(s, req, res, url, raw);
  if (req.method === 'POST' && url.pathname.startsWith('/upload/')) return handleUpload(s, req, res, url, raw);
  sendText(res, 404, 'not_found');
}

async function pollUntil<T>(fn: () => T | undefined | false | null, timeoutMs: number, dump: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() >= deadline) {
      throw new Error(`fake Slack: waitFor timed out after ${timeoutMs} ms; what the bot did so far:\n${dump()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function dumpActivity(fake: FakeSlack): string {
  const calls = fake.calls.map(describeCall).join('\n') || '  (none)';
  const responses = fake.responses.map(describeResponse).join('\n') || '  (none)';
  return `Web API calls:\n${calls}\nresponse_url posts:\n${responses}`;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startFakeSlack(opts: StartFakeSlackOptions = {}): Promise<FakeSlack> {
  const state = {} as State;
  const server = createServer((req, res) => {
    route(state, req, res).catch((cause: unknown) => {
      const message = cause instanceof Error ? cause.message : String(cause);
      if (!res.headersSent) sendText(res, 500, `fake Slack failed handling ${req.method} ${req.url}: ${message}`);
      else res.end();
    });
  });
  const port = await listen(server);
  const origin = `http://127.0.0.1:${port}`;
  const socket = createSocketMode({
    origin,
    appToken: opts.appToken ?? 'xapp-1-A0PROMOTEAPP-1-test',
    appId: 'A0PROMOTEAPP',
  });
  server.on('upgrade', (req, sock, head) => socket.upgrade(req, sock, head));

  const fake: FakeSlack = {
    url: `${origin}/api/`,
    token: opts.token ?? 'xoxb-test-token',
    botUserId: opts.botUserId ?? 'U0PROMOTEBOT',
    botId: 'B0PROMOTEBOT',
    teamId: opts.teamId ?? 'T0FAKETEAM',
    calls: [],
    messages: [],
    ephemerals: [],
    responses: [],
    files: [],
    views: [],
    published: [],
    homes: new Map(),
    appHomeOpened: (user, tab = 'home') => {
      const view = tab === 'home' ? fake.homes.get(user) : undefined;
      const eventTs = `${(Date.now() / 1000).toFixed(6)}`;
      return {
        token: 'fake-verification-token',
        team_id: fake.teamId,
        api_app_id: 'A0PROMOTEAPP',
        event: {
          type: 'app_home_opened',
          user,
          channel: imChannel(user),
          tab,
          event_ts: eventTs,
          ...(view ? { view } : {}),
        },
        type: 'event_callback',
        event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [
          {
            enterprise_id: null,
            team_id: fake.teamId,
            user_id: fake.botUserId,
            is_bot: true,
            is_enterprise_install: false,
          },
        ],
        is_ext_shared_channel: false,
      };
    },
    dm: (user) => fake.messages.filter((m) => m.channel === imChannel(user) && !m.deleted),
    userGroups: new Map(),
    users: new Map(),
    channels: new Map(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        socket.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // fetch keeps connections alive; without this close() would wait for them to time out.
        server.closeAllConnections();
      }),
    responseUrl: (tag, source) => {
      const id = `${randomBytes(6).toString('hex')}`;
      state.responseUrls.set(id, { ...(tag !== undefined ? { tag } : {}), ...(source ? { source } : {}), used: 0 });
      return `${origin}/respond/${id}`;
    },
    rateLimit: (method, times, retryAfterSec = 1, target = {}) => {
      const queue = state.rateLimits.get(method) ?? [];
      for (let i = 0; i < times; i++) {
        queue.push({ retryAfterSec, ...(target.channel !== undefined ? { channel: target.channel } : {}) });
      }
      state.rateLimits.set(method, queue);
    },
    failHttp: (method, status, times = 1) => {
      const queue = state.httpFailures.get(method) ?? [];
      for (let i = 0; i < times; i++) queue.push(status);
      state.httpFailures.set(method, queue);
    },
    hang: (method, times = 1, target = {}) => {
      const queue = state.hangs.get(method) ?? [];
      for (let i = 0; i < times; i++) queue.push(target.channel !== undefined ? { channel: target.channel } : {});
      state.hangs.set(method, queue);
    },
    failNext: (method, error) => {
      const queue = state.failures.get(method) ?? [];
      queue.push(error);
      state.failures.set(method, queue);
    },
    heal: (method) => {
      state.failures.delete(method);
    },
    waitFor: (fn, timeoutMs = 10_000) => pollUntil(fn, timeoutMs, () => dumpActivity(fake)),
    thread: (ts) => fake.messages.filter((m) => m.thread_ts === ts && !m.deleted),
    onCall: (method, hook) => {
      state.hooks.push({ method, hook });
    },
    socketMode: socket.fake,
  };

  Object.assign(state, {
    fake,
    nextTs: makeTsClock(),
    origin,
    rateLimits: new Map(),
    tiers: opts.tiers ?? {},
    tierBuckets: new Map(),
    now: opts.now ?? Date.now,
    httpFailures: new Map(),
    hangs: new Map(),
    failures: new Map(),
    uploads: new Map(),
    responseUrls: new Map(),
    seq: 0,
    hooks: [],
    socket,
    ...(opts.limits ? { limiter: createLimiter(opts.limits === true ? DEFAULT_LIMITS : opts.limits) } : {}),
  } satisfies State);
  return fake;
}
