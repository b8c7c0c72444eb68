// The Slack Web API calls the bot makes, behind one narrow port over @slack/web-api's WebClient.
// Calls go through a scheduler (schedule.ts) keyed by method + channel (chat.update: by message): an HTTP 429
// pauses only its key, calls of one key keep their order, transient failures (classifySlackError) are retried a
// few times with backoff and permanent ones fail at once. The WebClient itself must neither wait out 429s nor
// retry (createSlackClient). With `budgets`, chat.update and chat.postMessage attempts also wait for Slack's
// per-method budgets (src/slack/budgets.ts), by priority, and a queued progress update is coalesced.
import { webApi } from '@slack/bolt';
import { PRIORITY } from '../budgets.js';
import { classifySlackError } from './errors.js';
import { createSlackFetch } from './http-fetch.js';
import {
  type CallOptions,
  createScheduler,
  type DeliveryPolicy,
  type RetryEvent,
  type RetryPolicy,
  type Scheduler,
} from './schedule.js';
import type { KnownBlock } from './views/blocks.js';

export { classifySlackError, type SlackErrorClass, slackErrorCode } from './errors.js';
export { SlackGaveUpError } from './schedule.js';

export interface OutgoingMessage {
  channel: string;
  text: string;
  blocks?: KnownBlock[];
  thread_ts?: string;
  reply_broadcast?: boolean;
}

/** What a message shows: `text` (the notification fallback) and, optionally, its blocks. */
export interface MessageContent {
  text: string;
  /** omitted: chat.update keeps the message's blocks; [] clears them (platform-facts §1.8) */
  blocks?: KnownBlock[];
}

export interface MessageRef {
  channel: string;
  ts: string;
}

/**
 * Per call: `untilDelivered` retries transient failures until the delivery deadline (default 30 min).
 * `priority` orders calls waiting for the method's budget (SlackPortOptions.budgets): 'urgent' (the default:
 * state changes, final replies) before 'failure' before 'progress'. `coalesce` (chat.update): an update of a
 * message that is still waiting to be sent replaces the waiting one's content (and raises its priority), so
 * intermediate progress is skipped, never the latest.
 */
export interface SendOptions extends CallOptions {
  priority?: keyof typeof PRIORITY;
  /**
   * When the call should have gone at the latest (ms since the epoch, Date.now's clock), read whenever the budget
   * chooses its next call: calls of one priority go earliest due first, and one whose due time has come goes as
   * 'urgent'. Without it a call is due when it is made.
   */
  due?: () => number;
  coalesce?: boolean;
}

/** What the port needs of a request budget (src/budgets.ts Budget). */
export interface SlackCallBudget {
  take(priority?: number | (() => number), dueInMs?: () => number): Promise<unknown>;
  throttled(): void;
}

export interface SlackPort {
  post(msg: OutgoingMessage, opts?: SendOptions): Promise<{ ts: string }>;
  /**
   * Posts what `render` returns when it is `channel`'s turn, after every post made meanwhile in the channel
   * (posts of a channel go out one at a time, about one a second): for messages that may wait and may be left
   * out, such as progress notes, which so never hold up a summary or a final reply. `render` returning undefined
   * (by then there is nothing to say) skips it: resolves undefined.
   */
  postOptional(
    channel: string,
    render: () => OutgoingMessage | undefined,
    opts?: SendOptions,
  ): Promise<{ ts: string } | undefined>;
  update(msg: { channel: string; ts: string; text: string; blocks?: KnownBlock[] }, opts?: SendOptions): Promise<void>;
  /**
   * Updates `ref` with what `render` returns when the request is about to go out (after any wait behind earlier
   * calls, 429 pause or backoff; again before each retry). `render` returning undefined skips the update — e.g.
   * when the stored state moved on to a newer version. Resolves `{ updated }`: whether an update was sent.
   */
  updateLatest(
    ref: MessageRef,
    render: () => Promise<MessageContent | undefined>,
    opts?: SendOptions,
  ): Promise<{ updated: boolean }>;
  /** chat.delete: withdraws a message the bot posted. */
  delete(ref: MessageRef, opts?: SendOptions): Promise<void>;
  /**
   * conversations.replies: the messages of the thread under `ref` (the parent first), with their block IDs,
   * so the bot can see whether a reply of its own already landed (e.g. after a crash mid-post).
   */
  threadMessages(ref: MessageRef): Promise<Array<{ ts: string; blockIds: string[] }>>;
  ephemeral(msg: {
    channel: string;
    user: string;
    text: string;
    blocks?: KnownBlock[];
    thread_ts?: string;
  }): Promise<void>;
  groupMembers(groupId: string): Promise<string[]>;
  openModal(triggerId: string, view: ModalView): Promise<void>;
  /** views.publish: the App Home tab `user` sees (docs.slack.dev/reference/methods/views.publish, Tier 4). */
  publishHome(user: string, view: HomeView): Promise<void>;
  upload(o: {
    channel: string;
    thread_ts?: string;
    filename: string;
    title: string;
    content: string;
    comment?: string;
  }): Promise<void>;
}

export type ModalView = webApi.ViewsOpenArguments['view'];
export type HomeView = webApi.ViewsPublishArguments['view'];

export interface SlackClientOptions {
  /** default https://slack.com/api/ */
  slackApiUrl?: string;
  /** per HTTP request; default 10 s */
  timeoutMs?: number;
  logLevel?: webApi.LogLevel;
  /** where the WebClient's own log lines go (@slack/logger's interface, e.g. src/log.ts slackLibraryLogger) */
  logger?: webApi.WebClientOptions['logger'];
}

export const DEFAULT_SLACK_TIMEOUT_MS = 10_000;

/**
 * The WebClient the port expects: it rejects 429s instead of waiting them out (`rejectRateLimitedCalls`), never
 * retries by itself (`retryConfig.retries: 0`) and aborts every request after `timeoutMs` (platform-facts §1.7
 * lists the defaults this overrides). Its requests go through createSlackFetch (undici's request, not fetch).
 */
export function createSlackClient(token: string, opts: SlackClientOptions = {}): webApi.WebClient {
  return new webApi.WebClient(token, {
    ...(opts.slackApiUrl !== undefined ? { slackApiUrl: opts.slackApiUrl } : {}),
    ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}),
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    timeout: opts.timeoutMs ?? DEFAULT_SLACK_TIMEOUT_MS,
    fetch: createSlackFetch({ timeoutMs: opts.timeoutMs ?? DEFAULT_SLACK_TIMEOUT_MS }),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
  });
}

export interface SlackPortOptions {
  /** ordinary calls; default 4 attempts, backoff 0.5 s doubling to 5 s, given up 60 s after the call */
  retry?: Partial<RetryPolicy>;
  /** `untilDelivered` calls; default backoff 1 s doubling to 30 s, given up after 30 min */
  delivery?: Partial<DeliveryPolicy>;
  /** called before each retry wait */
  onRetry?: (e: RetryEvent) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** told about every attempt of a Web API call (each retry counts), for metrics */
  onCall?: (call: SlackCallRecord) => void;
  /**
   * The budgets an attempt of `method` in `channel` waits for, in order (src/slack/budgets.ts: Slack's tiers,
   * shared across replicas); an HTTP 429 is reported to them. None by default.
   */
  budgets?: (method: string, channel: string) => SlackCallBudget[];
}

/** One attempt of a Slack Web API call. */
export interface SlackCallRecord {
  /** e.g. 'chat.postMessage' */
  method: string;
  /** 'ok', or the failure's code (classifySlackError): 'ratelimited' (HTTP 429), 'channel_not_found', 'http_503', 'timeout'… */
  result: string;
  durationMs: number;
}

/**
 * updateLatest renders again when the budget held its call at least this long (the stored state may have moved on
 * meanwhile); a call that went at once sends what was rendered for it.
 */
const RENDER_AGAIN_AFTER_MS = 100;

/** A failure of the caller's render function: never retried, never mistaken for a Slack error. */
class RenderError extends Error {
  override name = 'RenderError';
}

/** The message a call failed with: what was being done, Slack's failure as the cause. */
async function described<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw new Error(what, { cause });
  }
}

/**
 * The port over `client`, which should come from createSlackClient (a WebClient that waits out 429s itself
 * would stall the scheduler's key for the whole wait, and its own retries would repeat ours).
 */
export function createSlackPort(client: webApi.WebClient, options: SlackPortOptions = {}): SlackPort {
  const scheduler: Scheduler = createScheduler({
    classify: (err) => (err instanceof RenderError ? { transient: false } : classifySlackError(err)),
    ...options,
  });
  /** Waits for every budget of `method` in `channel`; `priority` is read whenever the next waiter is chosen. */
  const budgeted = async (
    method: string,
    channel: string,
    priority: () => number,
    due: (() => number) | undefined,
  ): Promise<{ budgets: SlackCallBudget[]; waitedMs: number }> => {
    const budgets = options.budgets?.(method, channel) ?? [];
    const dueInMs = due && (() => due() - Date.now());
    let waitedMs = 0;
    for (const b of budgets) {
      const waited = await b.take(priority, dueInMs);
      if (typeof waited === 'number') waitedMs += waited;
    }
    return { budgets, waitedMs };
  };
  const priorityOf = (opts: SendOptions | undefined) => PRIORITY[opts?.priority ?? 'urgent'];
  /** A call's priority as the budget reads it: 'urgent' once it is due (SendOptions.due). */
  const priorityNow = (priority: () => number, due: (() => number) | undefined) => () =>
    due && due() <= Date.now() ? PRIORITY.urgent : priority();
  /**
   * Updates queued and not yet sent, by `channel:ts`: a coalescing update replaces the waiting content (the due
   * time stays the first one's: updates of one message come from one place, with one due time).
   */
  const waitingUpdates = new Map<string, { content: MessageContent; priority: number; done: Promise<void> }>();
  /** Runs one attempt of Web API `method`, reporting it to options.onCall. */
  const counted = async <T>(
    method: string,
    run: (waitedMs: number) => Promise<T>,
    budget?: { channel: string; priority: () => number; due?: (() => number) | undefined },
  ): Promise<T> => {
    const { budgets, waitedMs } = budget
      ? await budgeted(method, budget.channel, budget.priority, budget.due)
      : { budgets: [], waitedMs: 0 };
    const started = performance.now();
    const report = (result: string) => {
      try {
        options.onCall?.({ method, result, durationMs: performance.now() - started });
      } catch {
        // metrics never break a call
      }
    };
    try {
      const out = await run(waitedMs);
      report('ok');
      return out;
    } catch (err) {
      const code = classifySlackError(err).code;
      report(code ?? 'error');
      if (code === 'ratelimited') for (const b of budgets) b.throttled();
      throw err;
    }
  };
  /**
   * One chat.update attempt once the budget lets it go; `content` is asked then, told how long the budget held
   * it (undefined: nothing to update any more, no call). Resolves whether the call was made.
   */
  const sendUpdate = (
    ref: MessageRef,
    content: (waitedMs: number) => MessageContent | undefined | Promise<MessageContent | undefined>,
    priority: () => number,
    due?: () => number,
  ) =>
    counted(
      'chat.update',
      async (waitedMs) => {
        const c = await content(waitedMs);
        if (!c) return false;
        await client.chat.update({
          channel: ref.channel,
          ts: ref.ts,
          text: c.text,
          ...(c.blocks ? { blocks: c.blocks } : {}),
        });
        return true;
      },
      { channel: ref.channel, priority, due },
    );
  // Never link_names or parse: untrusted text must not turn into mentions. Fields are picked one by one,
  // not spread, so an object carrying more than the port's type (e.g. `{ ...view }`) cannot send them.
  const sendPost = async (msg: OutgoingMessage, opts: SendOptions | undefined) => {
    const res = await counted(
      'chat.postMessage',
      () =>
        client.chat.postMessage({
          channel: msg.channel,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
          ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
          ...(msg.reply_broadcast !== undefined ? { reply_broadcast: msg.reply_broadcast } : {}),
          unfurl_links: false,
          unfurl_media: false,
        } as webApi.ChatPostMessageArguments),
      { channel: msg.channel, priority: priorityNow(() => priorityOf(opts), opts?.due), due: opts?.due },
    );
    return { ts: res.ts as string };
  };
  // chat.update is keyed by message: updates of one message stay in order, and the budget (not a channel's
  // queue) decides which message goes next.
  const updateKey = (ref: MessageRef) => `chat.update:${ref.channel}:${ref.ts}`;

  return {
    post: (msg, opts) =>
      described(`posting a message in ${msg.channel}`, () =>
        scheduler.run(`chat.postMessage:${msg.channel}`, () => sendPost(msg, opts), opts),
      ),
    postOptional: (channel, render, opts) =>
      described(`posting a message in ${channel}`, () =>
        scheduler.run(
          `chat.postMessage:${channel}`,
          async () => {
            const msg = render();
            return msg && msg.channel === channel ? sendPost(msg, opts) : undefined;
          },
          { ...opts, yields: true },
        ),
      ),
    update: (msg, opts) => {
      const id = `${msg.channel}:${msg.ts}`;
      const waiting = opts?.coalesce ? waitingUpdates.get(id) : undefined;
      if (waiting) {
        waiting.content = msg;
        waiting.priority = Math.min(waiting.priority, priorityOf(opts));
        return waiting.done;
      }
      const entry = { content: msg as MessageContent, priority: priorityOf(opts), done: Promise.resolve() };
      entry.done = described(`updating message ${msg.ts} in ${msg.channel}`, () =>
        scheduler.run(
          updateKey(msg),
          async () => {
            await sendUpdate(
              msg,
              () => {
                // Sent now: later updates queue behind it instead of changing it.
                if (waitingUpdates.get(id) === entry) waitingUpdates.delete(id);
                return entry.content;
              },
              priorityNow(() => entry.priority, opts?.due),
              opts?.due,
            );
          },
          opts,
        ),
      ).finally(() => {
        if (waitingUpdates.get(id) === entry) waitingUpdates.delete(id);
      });
      if (opts?.coalesce) waitingUpdates.set(id, entry);
      return entry.done;
    },
    updateLatest: (ref, render, opts) =>
      described(`updating message ${ref.ts} in ${ref.channel}`, () =>
        scheduler.run(
          updateKey(ref),
          async () => {
            let content: MessageContent | undefined;
            try {
              content = await render();
            } catch (cause) {
              throw new RenderError('rendering the update', { cause });
            }
            if (!content) return { updated: false };
            const rendered = content;
            // A call the budget held back renders again when it goes: it shows what is stored by then (with many
            // updates queued, the state moved on meanwhile), so one call does the work of the updates since.
            const updated = await sendUpdate(
              ref,
              async (waitedMs) => {
                if (waitedMs < RENDER_AGAIN_AFTER_MS) return rendered;
                try {
                  return await render();
                } catch (cause) {
                  throw new RenderError('rendering the update', { cause });
                }
              },
              priorityNow(() => priorityOf(opts), opts?.due),
              opts?.due,
            );
            return { updated };
          },
          opts,
        ),
      ),
    delete: (ref, opts) =>
      described(`deleting message ${ref.ts} in ${ref.channel}`, () =>
        scheduler.run(
          `chat.delete:${ref.channel}`,
          async () => {
            await counted('chat.delete', () => client.chat.delete({ channel: ref.channel, ts: ref.ts }));
          },
          opts,
        ),
      ),
    threadMessages: (ref) =>
      described(`reading the thread ${ref.ts} in ${ref.channel}`, () =>
        scheduler.run(`conversations.replies:${ref.channel}`, async () => {
          const out = await client.conversations.replies({ channel: ref.channel, ts: ref.ts, limit: 200 });
          return (out.messages ?? []).map((m) => ({
            ts: m.ts ?? '',
            blockIds: (m.blocks ?? []).map((b) => b.block_id ?? '').filter(Boolean),
          }));
        }),
      ),
    ephemeral: (msg) =>
      described(`telling ${msg.user} in ${msg.channel}`, () =>
        scheduler.run(`chat.postEphemeral:${msg.channel}`, async () => {
          await counted('chat.postEphemeral', () =>
            client.chat.postEphemeral({
              channel: msg.channel,
              user: msg.user,
              text: msg.text,
              ...(msg.blocks ? { blocks: msg.blocks } : {}),
              ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
            }),
          );
        }),
      ),
    groupMembers: (groupId) =>
      described(`listing the members of user group ${groupId}`, () =>
        scheduler.run(`usergroups.users.list:${groupId}`, async () => {
          const res = await counted('usergroups.users.list', () =>
            client.usergroups.users.list({ usergroup: groupId }),
          );
          return (res.users as string[] | undefined) ?? [];
        }),
      ),
    // Keyed by trigger: no click's modal waits behind another's (a trigger_id expires 3 s after the click,
    // docs.slack.dev/surfaces/modals).
    openModal: (triggerId, view) =>
      described('opening a modal', () =>
        scheduler.run(`views.open:${triggerId}`, async () => {
          await counted('views.open', () => client.views.open({ trigger_id: triggerId, view }));
        }),
      ),
    // Keyed by person: one person's Home waits behind no one else's.
    publishHome: (user, view) =>
      described(`publishing the App Home of ${user}`, () =>
        scheduler.run(`views.publish:${user}`, async () => {
          await counted('views.publish', () => client.views.publish({ user_id: user, view }));
        }),
      ),
    // The whole v2 flow is one call: a retry starts a fresh upload (nothing is shared before the last step).
    upload: (o) =>
      described(`uploading ${o.filename} to ${o.channel}`, () =>
        scheduler.run(`files.uploadV2:${o.channel}`, async () => {
          await counted('files.uploadV2', () =>
            client.filesUploadV2({
              channel_id: o.channel,
              filename: o.filename,
              title: o.title,
              content: o.content,
              ...(o.thread_ts ? { thread_ts: o.thread_ts } : {}),
              ...(o.comment ? { initial_comment: o.comment } : {}),
            } as webApi.FilesUploadV2Arguments),
          );
        }),
      ),
  };
}
