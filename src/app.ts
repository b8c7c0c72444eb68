// Builds the Bolt app and routes every request to its handler: a flat table, one line per command, action, event or
// view (src/slack/dispatch.ts). Each handler acks first (no Redis or AWS call before it), then works in the background.
import { App, type CustomRoute, LogLevel, type RespondFn } from '@slack/bolt';
import type { EnvSettings } from './config.js';
import { parsePromoteText, parseRollbackText } from './domain/command.js';
import type { ClickPlace } from './domain/promotion.js';
import { crashPoint } from './faults.js';
import { followSocketMode, probeRoutes } from './probes.js';
import { randomHex48 } from './random.js';
import {
  type ActionArgs,
  type CommandArgs,
  dispatch,
  type HomeOpenedArgs,
  type ViewSubmissionArgs,
} from './slack/dispatch.js';
import { escapeMrkdwn as esc, unescapeSlack } from './slack/escape.js';
import { explainError } from './slack/explain-error.js';
import { createSlackFetch } from './slack/http-fetch.js';
import { ACTION, type ActionId } from './slack/ids.js';
import { slackLibraryLogger } from './slack/library-logger.js';
import { createReceiver } from './slack/receiver.js';
import { deliveryOf, firstDelivery } from './slack/replay.js';
import { createSocketReceiver } from './slack/socket-receiver.js';
import { renderRefusal } from './slack/views/refusals.js';
import { REJECT_REASON, type RejectReasonMetadata } from './slack/views/reject-reason.js';
import { usageText } from './slack/views/usage.js';
import { VERSION } from './version.js';
import { type BurstGate, createBurstGate } from './workflows/burst-gate.js';
import type { Deps, Reply } from './workflows/deps.js';
import { publishHome } from './workflows/home.js';
import { checkRequest, planPromotion } from './workflows/plan.js';
import { historyText } from './workflows/releases.js';
import { addRejectReason, approve, cancel, reject, showChanges } from './workflows/review.js';
import { setDirectMessages } from './workflows/reviewer-dms.js';
import { runRollback } from './workflows/rollback.js';
import { createSlots } from './workflows/slots.js';
import { unhold, unlock } from './workflows/stage-admin.js';
import { statusText } from './workflows/status.js';

function replyVia(respond: RespondFn): Reply {
  return async (text) => {
    await respond({ response_type: 'ephemeral', replace_original: false, text });
  };
}

/**
 * Runs slow work after the ack. A fault is logged with its cause chain and told to the person as an
 * instruction (the one error boundary, explainError), never swallowed silently.
 * A replayed signed request (src/slack/replay.ts) was acked like the first but does nothing.
 */
const backgroundOn = (gate: BurstGate) =>
  function background(
    deps: Deps,
    what: string,
    reply: Reply,
    work: () => Promise<unknown>,
    context?: Record<string, unknown>,
  ): void {
    const once = async () => {
      const delivery = deliveryOf(context);
      if (await firstDelivery(deps.store, deps.replicaId, delivery, deps.now().getTime())) return work();
      deps.log.warn('ignored a replayed request', { while: what, timestamp: delivery?.timestampMs });
    };
    // Started from the event loop's check phase (setImmediate), after the I/O callbacks of this turn: requests that
    // arrived together are all acked before any of their work runs (nodejs.org/en/learn/asynchronous-work/event-loop-timers-and-nexttick);
    // in a burst of requests, after the burst (src/workflows/burst-gate.ts).
    gate.run(() => {
      void once().catch(async (err) => {
        deps.log.error(what, { err });
        await reply(explainError(err, what).text).catch(() => undefined);
      });
    });
  };

/**
 * The deps of one Slack request's work: every log line it leads to carries the request's ID (an operation's lines
 * add their promotionId), 48 random bits (src/random.ts). Passed down like
 * any dependency rather than through AsyncLocalStorage: on Node.js 20 and 22 that installs promise hooks that run
 * for every promise the process creates (its AsyncContextFrame implementation is the default from Node.js 24 on:
 * nodejs.org/api/cli.html#--no-async-context-frame); measured in bench row 1, see README, Performance.
 */
function forRequest(deps: Deps): Deps {
  return { ...deps, log: deps.log.child({ requestId: randomHex48() }) };
}

/**
 * The slash commands and events the app takes: the routing table below has a handler for each and no other (its
 * type says so), and manifest.yml declares exactly these (test/deploy/manifest.test.ts). Every button (ACTION) and
 * the rejection modal have a handler too.
 */
export const ROUTED = {
  commands: ['/promote', '/rollback'],
  events: ['app_home_opened'],
} as const;

type Table<K extends string, A> = Record<K, (args: A) => Promise<unknown>>;

/**
 * Plans (promotions and rollbacks) one replica works on at once; the others wait their turn after their ack.
 * Each plan is a dozen AWS calls whose SDK work is CPU on the one event loop: hundreds at once would delay every
 * ack behind them (bench row 1). Waiting plans hold nothing (no lock, no record) until they start.
 */
export const PLANNING_SLOTS = 8;

/**
 * Where a button was clicked: the block_actions payload's channel, message and thread (platform-facts §1.5), or
 * the clicker's App Home tab (`container.type: 'view'` and a `view` of type 'home', with no channel or message:
 * docs.slack.dev/reference/interaction-payloads/block_actions-payload).
 */
function clickPlace(body: unknown): ClickPlace {
  const b = body as {
    channel?: { id?: string };
    container?: { type?: string; channel_id?: string; message_ts?: string; thread_ts?: string };
    message?: { ts?: string; thread_ts?: string };
    view?: { type?: string };
  };
  if (b.container?.type === 'view' && b.view?.type === 'home') return { surface: 'home' };
  return {
    channel: b.channel?.id ?? b.container?.channel_id,
    messageTs: b.container?.message_ts ?? b.message?.ts,
    threadTs: b.message?.thread_ts ?? b.container?.thread_ts,
  };
}

/** What start-up learnt from auth.test (src/slack/startup.ts): Bolt then needs no auth.test of its own. */
export interface VerifiedBot {
  botId: string;
  botUserId: string;
}

/**
 * `gate`: the burst gate the work behind requests waits at (src/workflows/burst-gate.ts); the composition root
 * keeps it to flush at shutdown.
 */
export function createApp(
  env: EnvSettings,
  deps: Deps,
  verified?: VerifiedBot,
  gate: BurstGate = createBurstGate(),
): App {
  const healthz: CustomRoute = {
    path: '/healthz',
    method: ['GET'],
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, version: VERSION, store: deps.store.durable ? 'redis' : 'memory' }));
    },
  };
  // Bolt's own log lines go through ours (one JSON format on stdout).
  const logger = slackLibraryLogger(deps.log, LogLevel.WARN, 'bolt');
  let slackProblem = (): string | undefined => (verified ? undefined : 'the bot token was not verified');
  const routes = [healthz, ...probeRoutes({ store: deps.store, slackProblem: () => slackProblem() }, deps.metrics)];
  const socket = env.slackAppToken
    ? createSocketReceiver({
        appToken: env.slackAppToken,
        slackApiUrl: env.slackApiUrl,
        port: env.port,
        customRoutes: routes,
        logger,
        logLevel: env.logLevel === 'debug' ? LogLevel.DEBUG : LogLevel.WARN,
      })
    : undefined;
  const app = new App({
    token: env.slackBotToken,
    ...(verified?.botId && verified.botUserId ? { botId: verified.botId, botUserId: verified.botUserId } : {}),
    logger,
    logLevel: env.logLevel === 'debug' ? LogLevel.DEBUG : LogLevel.WARN,
    // `fetch` is also what respond() posts to a response_url with (Bolt's App takes it from clientOptions).
    clientOptions: { slackApiUrl: env.slackApiUrl, fetch: createSlackFetch() },
    // Bolt's conversation store (a MemoryStore unless told otherwise) is looked up for every event and rejects for
    // every conversation it has not stored; the bot keeps its state in its own store and never uses it.
    convoStore: false,
    ...(socket
      ? { receiver: socket.receiver }
      : {
          receiver: createReceiver({
            signingSecret: env.slackSigningSecret!,
            endpoints: '/slack/events',
            customRoutes: routes,
            port: env.port,
            logger,
            logLevel: env.logLevel === 'debug' ? LogLevel.DEBUG : LogLevel.WARN,
            onRefused: (why) => deps.log.warn('refused a request dated in the future', why),
          }),
        }),
  });

  // Socket Mode: ready while connected.
  if (socket) slackProblem = followSocketMode(socket.receiver.client);

  const background = backgroundOn(gate);
  const planning = createSlots(PLANNING_SLOTS);
  /** Runs a plan in its turn; one whose turn comes while this replica shuts down is told to ask again. */
  const inTurn = (reply: Reply, plan: () => Promise<unknown>) => () =>
    planning.run(async () => {
      if (deps.stopping()) return reply('The bot restarted before it could start planning: run the command again.');
      return plan();
    });

  const promote = async ({ command, ack, respond, context }: CommandArgs) => {
    const cmd = parsePromoteText(unescapeSlack(command.text));
    const reply = replyVia(respond);
    switch (cmd.kind) {
      case 'help':
        return ack({ response_type: 'ephemeral', text: usageText(deps.config) });
      case 'usage':
        return ack({ response_type: 'ephemeral', text: `${renderRefusal(cmd.refusal)}\n${usageText(deps.config)}` });
      case 'promote': {
        const req = { ...cmd, requester: command.user_id, channel: command.channel_id };
        // What the config alone refuses (unknown service or stage, a path not allowed, a channel not allowed) is
        // answered in the ack itself: pure, no Redis or AWS call; "Planning…" only for what will be planned.
        const checked = checkRequest(deps, req);
        if (!checked.ok) return ack({ response_type: 'ephemeral', text: renderRefusal(checked.refusal) });
        const { service, from, to } = checked;
        await ack({
          response_type: 'ephemeral',
          text: `Planning ${esc(service.name)} ${esc(from.name)} → ${esc(to.name)}…`,
        });
        crashPoint('after-ack');
        const d = forRequest(deps);
        return background(
          d,
          'planning the promotion',
          reply,
          inTurn(reply, () => planPromotion(d, req, reply)),
          context,
        );
      }
      case 'status': {
        await ack();
        const d = forRequest(deps);
        return background(
          d,
          'reading the status',
          reply,
          async () => reply(await statusText(d, cmd.service, command.channel_id)),
          context,
        );
      }
      case 'history': {
        await ack();
        const d = forRequest(deps);
        return background(
          d,
          'reading the history',
          reply,
          async () => reply(await historyText(d, cmd.service, cmd.stage, command.channel_id)),
          context,
        );
      }
      case 'unhold':
      case 'unlock': {
        await ack();
        const d = forRequest(deps);
        const req = { service: cmd.service, stage: cmd.stage, user: command.user_id, channel: command.channel_id };
        return cmd.kind === 'unhold'
          ? background(d, 'releasing the hold', reply, () => unhold(d, req, reply), context)
          : background(d, 'unlocking the stage', reply, () => unlock(d, req, reply), context);
      }
    }
  };

  const rollback = async ({ command, ack, respond, context }: CommandArgs) => {
    const cmd = parseRollbackText(unescapeSlack(command.text));
    const reply = replyVia(respond);
    if (cmd.kind === 'help') return ack({ response_type: 'ephemeral', text: usageText(deps.config) });
    if (cmd.kind === 'usage')
      return ack({ response_type: 'ephemeral', text: `${renderRefusal(cmd.refusal)}\n${usageText(deps.config)}` });
    await ack({ response_type: 'ephemeral', text: `Looking at ${esc(cmd.service)} for a rollback…` });
    crashPoint('after-ack');
    const d = forRequest(deps);
    return background(
      d,
      'planning the rollback',
      reply,
      inTurn(reply, () => runRollback(d, { ...cmd, requester: command.user_id, channel: command.channel_id }, reply)),
      context,
    );
  };

  const button =
    (
      actionId: string,
      run: (d: Deps, id: string, user: string, at: ClickPlace, reply: Reply, triggerId?: string) => Promise<void>,
    ) =>
    async ({ ack, body, action, respond, context }: ActionArgs) => {
      await ack();
      const d = forRequest(deps);
      const id = action.type === 'button' ? (action.value ?? '') : '';
      const triggerId = 'trigger_id' in body ? (body.trigger_id as string) : undefined;
      const at = clickPlace(body);
      const user = body.user.id;
      if (at.surface !== 'home' || respond) {
        const reply = replyVia(respond!);
        return background(d, `handling ${actionId}`, reply, () => run(d, id, user, at, reply, triggerId), context);
      }
      // A click in the App Home has no response_url: the answer goes on top of the Home tab, published again
      // with the new state (also when there was nothing to say).
      let answered = false;
      const reply: Reply = async (text) => {
        answered = true;
        await publishHome(d, user, text);
      };
      background(
        d,
        `handling ${actionId}`,
        reply,
        async () => {
          await run(d, id, user, at, reply, triggerId);
          if (!answered) await publishHome(d, user);
        },
        context,
      );
    };

  // The App Home tab: brought up to date each time its owner opens it (docs.slack.dev/reference/events/app_home_opened).
  const homeOpened = async ({ event, context }: HomeOpenedArgs) => {
    if (event.tab !== 'home') return;
    const user = event.user;
    const quiet: Reply = async () => undefined;
    const d = forRequest(deps);
    background(d, 'publishing the App Home', quiet, () => publishHome(d, user), context);
  };

  const homeDirectMessages = async ({ ack, body, action, context }: ActionArgs) => {
    await ack();
    const d = forRequest(deps);
    const on = action.type === 'button' && action.value === 'on';
    const user = body.user.id;
    const reply: Reply = (text) => publishHome(d, user, text);
    background(
      d,
      'changing direct messages',
      reply,
      async () => {
        await setDirectMessages(d, user, on);
        await reply(
          on
            ? 'Direct messages are on: I will tell you when your approval is needed.'
            : 'Direct messages are off: what waits for you is listed here.',
        );
      },
      context,
    );
  };

  const rejectReason = async ({ ack, body, view, context }: ViewSubmissionArgs) => {
    await ack();
    let meta: RejectReasonMetadata;
    try {
      meta = JSON.parse(view.private_metadata) as RejectReasonMetadata;
    } catch {
      return;
    }
    const reason = view.state.values[REJECT_REASON.blockId]?.[REJECT_REASON.actionId]?.value ?? '';
    const user = body.user.id;
    const d = forRequest(deps);
    const reply: Reply = (text) => d.slack.ephemeral({ channel: meta.channel, user, text });
    background(
      d,
      'recording the rejection reason',
      reply,
      () => addRejectReason(d, meta.id, user, reason, reply),
      context,
    );
  };

  app.use(
    dispatch(
      {
        commands: { '/promote': promote, '/rollback': rollback } satisfies Table<
          (typeof ROUTED.commands)[number],
          CommandArgs
        >,
        actions: {
          [ACTION.approve]: button(ACTION.approve, (d, id, user, at, reply) => approve(d, id, user, at, reply)),
          [ACTION.continueSkipping]: button(ACTION.continueSkipping, (d, id, user, at, reply) =>
            approve(d, id, user, at, reply, { skipStuck: true }),
          ),
          [ACTION.reject]: button(ACTION.reject, (d, id, user, at, reply, triggerId) =>
            reject(d, id, user, at, reply, triggerId),
          ),
          [ACTION.cancel]: button(ACTION.cancel, (d, id, user, at, reply) => cancel(d, id, user, at, reply)),
          [ACTION.showChanges]: button(ACTION.showChanges, (d, id, user, at, reply) =>
            showChanges(d, id, user, at, reply),
          ),
          [ACTION.homeDirectMessages]: homeDirectMessages,
        } satisfies Table<ActionId, ActionArgs>,
        events: { app_home_opened: homeOpened } satisfies Table<(typeof ROUTED.events)[number], HomeOpenedArgs>,
        views: { [REJECT_REASON.callbackId]: rejectReason },
      },
      (what) => deps.log.warn('acked a request no handler takes, and did nothing', { ...what }),
    ),
  );

  app.error(async (error) => {
    deps.log.error('slack listener failed', { err: error });
  });
  return app;
}
