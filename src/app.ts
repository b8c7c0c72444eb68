// Builds the Bolt app and registers every listener: a flat list, one line per command or action.
// Each listener acks first (no Redis or AWS call before it), then works in the background.
import { App, type CustomRoute, LogLevel, type RespondFn } from '@slack/bolt';
import type { EnvSettings } from './config.js';
import { parsePromoteText, parseRollbackText, usageText } from './domain/command.js';
import { crashPoint } from './faults.js';
import { errorFields } from './log.js';
import { escapeMrkdwn as esc } from './slack/escape.js';
import { ACTION } from './slack/ids.js';
import { REJECT_REASON, type RejectReasonMetadata } from './slack/views/reject-reason.js';
import type { Deps, Reply } from './workflows/deps.js';
import { planPromotion } from './workflows/plan.js';
import { historyText } from './workflows/releases.js';
import { addRejectReason, approve, cancel, reject, showChanges } from './workflows/review.js';
import { runRollback, unhold } from './workflows/rollback.js';
import { statusText } from './workflows/status.js';

function replyVia(respond: RespondFn): Reply {
  return async (text) => {
    await respond({ response_type: 'ephemeral', replace_original: false, text });
  };
}

/** Runs slow work after the ack; a fault is logged and told to the person, never swallowed silently. */
function background(deps: Deps, what: string, reply: Reply, work: () => Promise<unknown>): void {
  void work().catch(async (err) => {
    deps.log.error(what, { err });
    await reply(`Something went wrong while ${what}: ${esc(errorFields(err).error as string)}`).catch(() => undefined);
  });
}

export function createApp(env: EnvSettings, deps: Deps): App {
  const healthz: CustomRoute = {
    path: '/healthz',
    method: ['GET'],
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, store: deps.store.durable ? 'redis' : 'memory' }));
    },
  };
  const app = new App({
    token: env.slackBotToken,
    logLevel: env.logLevel === 'debug' ? LogLevel.DEBUG : LogLevel.WARN,
    clientOptions: { slackApiUrl: env.slackApiUrl },
    ...(env.slackAppToken
      ? { socketMode: true, appToken: env.slackAppToken, customRoutes: [healthz], installerOptions: { port: env.port } }
      : {
          signingSecret: env.slackSigningSecret!,
          endpoints: '/slack/events',
          customRoutes: [healthz],
          port: env.port,
        }),
  });

  app.command('/promote', async ({ command, ack, respond }) => {
    const cmd = parsePromoteText(command.text);
    const reply = replyVia(respond);
    switch (cmd.kind) {
      case 'help':
        return ack({ response_type: 'ephemeral', text: usageText(deps.config) });
      case 'usage':
        return ack({ response_type: 'ephemeral', text: `${cmd.problem}.\n${usageText(deps.config)}` });
      case 'promote':
        await ack({ response_type: 'ephemeral', text: `Planning ${esc(cmd.service)} → ${esc(cmd.to)}…` });
        crashPoint('after-ack');
        return background(deps, 'planning the promotion', reply, () =>
          planPromotion(deps, { ...cmd, requester: command.user_id, channel: command.channel_id }, reply),
        );
      case 'status':
        await ack();
        return background(deps, 'reading the status', reply, async () => reply(await statusText(deps, cmd.service)));
      case 'history':
        await ack();
        return background(deps, 'reading the history', reply, async () =>
          reply(await historyText(deps, cmd.service, cmd.stage, command.channel_id)),
        );
      case 'unhold':
        await ack();
        return background(deps, 'releasing the hold', reply, () =>
          unhold(
            deps,
            { service: cmd.service, stage: cmd.stage, user: command.user_id, channel: command.channel_id },
            reply,
          ),
        );
    }
  });

  app.command('/rollback', async ({ command, ack, respond }) => {
    const cmd = parseRollbackText(command.text);
    const reply = replyVia(respond);
    if (cmd.kind === 'help') return ack({ response_type: 'ephemeral', text: usageText(deps.config) });
    if (cmd.kind === 'usage')
      return ack({ response_type: 'ephemeral', text: `${cmd.problem}.\n${usageText(deps.config)}` });
    await ack({ response_type: 'ephemeral', text: `Looking at ${esc(cmd.service)} for a rollback…` });
    crashPoint('after-ack');
    return background(deps, 'planning the rollback', reply, () =>
      runRollback(deps, { ...cmd, requester: command.user_id, channel: command.channel_id }, reply),
    );
  });

  const button = (
    actionId: string,
    run: (id: string, user: string, reply: Reply, triggerId?: string) => Promise<void>,
  ) =>
    app.action(actionId, async ({ ack, body, action, respond }) => {
      await ack();
      const id = action.type === 'button' ? (action.value ?? '') : '';
      const reply = replyVia(respond);
      const triggerId = 'trigger_id' in body ? (body.trigger_id as string) : undefined;
      background(deps, `handling ${actionId}`, reply, () => run(id, body.user.id, reply, triggerId));
    });

  button(ACTION.approve, (id, user, reply) => approve(deps, id, user, reply));
  button(ACTION.continueSkipping, (id, user, reply) => approve(deps, id, user, reply, { skipStuck: true }));
  button(ACTION.reject, (id, user, reply, triggerId) => reject(deps, id, user, reply, triggerId));
  button(ACTION.cancel, (id, user, reply) => cancel(deps, id, user, reply));
  button(ACTION.showChanges, (id, _user, reply) => showChanges(deps, id, reply));

  app.view(REJECT_REASON.callbackId, async ({ ack, body, view }) => {
    await ack();
    let meta: RejectReasonMetadata;
    try {
      meta = JSON.parse(view.private_metadata) as RejectReasonMetadata;
    } catch {
      return;
    }
    const reason = view.state.values[REJECT_REASON.blockId]?.[REJECT_REASON.actionId]?.value ?? '';
    const user = body.user.id;
    const reply: Reply = (text) => deps.slack.ephemeral({ channel: meta.channel, user, text });
    background(deps, 'recording the rejection reason', reply, () =>
      addRejectReason(deps, meta.id, user, reason, reply),
    );
  });

  app.error(async (error) => {
    deps.log.error('slack listener failed', { err: error });
  });
  return app;
}
