// A small world for end-to-end tests: fake Slack, fake AWS with dev/prod stacks in their own accounts,
// a real Redis (unique key prefix per scenario) and the bot process.
import { randomBytes } from 'node:crypto';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { type FakeMessage, type FakeSlack, type StartFakeSlackOptions, startFakeSlack } from '../fakes/slack.js';
import type { SocketAck } from '../fakes/socket-mode.js';
import { type BotProcess, SIGNING_SECRET, startBot } from './bot.js';
import {
  type DriverResult,
  sendBlockAction,
  sendBlockActionOverSocket,
  sendEvent,
  sendEventOverSocket,
  sendHomeBlockAction,
  sendHomeBlockActionOverSocket,
  sendSlashCommand,
  sendSlashCommandOverSocket,
} from './slack-driver.js';

export const DEV_ACCOUNT = '111111111111';
export const PROD_ACCOUNT = '333333333333';
export const CHANNEL = 'C0PROMOTE';
export const REQUESTER = 'U0REQ';

export function configYaml(
  o: { required?: number; reviewers?: string[]; rollbackRequired?: number; extra?: string } = {},
): string {
  return `
settings:
  sweepEvery: 200ms
  leaseTtl: 1500ms
  progressEvery: 300ms
  pollMin: 50ms
  pollMax: 200ms
services:
  api:
    channels: [${CHANNEL}, C0OTHER]
    stages:
      dev:
        stack: api-dev
        role: arn:aws:iam::${DEV_ACCOUNT}:role/promote-bot
      prod:
        stack: api-prod
        role: arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot
        externalId: promote-ext
        approvals:
          required: ${o.required ?? 2}
          reviewers: [${(o.reviewers ?? ['U0ALICE', 'U0BOB', 'S0LEADS']).join(', ')}]
          expiresAfter: 4h
        rollback:
          required: ${o.rollbackRequired ?? 1}
  web:
    channels: [C0WEB]
    stages:
      dev: { stack: web-dev }
      prod:
        stack: web-prod
        approvals: { required: 1, reviewers: [U0ALICE] }
${o.extra ?? ''}`;
}

/** What prod runs: a table, a queue that dev no longer has, a role with a policy, a function. */
export const PROD_TEMPLATE = JSON.stringify({
  Parameters: { Env: { Type: 'String' }, MemorySize: { Type: 'Number', Default: '128' } },
  Resources: {
    UsersTable: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'users',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      },
    },
    OldQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'old-jobs' } },
    AppRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          {
            PolicyName: 'read',
            PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
          },
        ],
      },
    },
    Fn: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        MemorySize: { Ref: 'MemorySize' },
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Code: { ZipFile: 'v1' },
        Role: 'arn:aws:iam::333333333333:role/x',
      },
    },
  },
});

/** What dev runs: the table renamed (replacement), the queue gone, a broader policy, new code, a new log group. */
export const DEV_TEMPLATE = JSON.stringify({
  Parameters: { Env: { Type: 'String' }, MemorySize: { Type: 'Number', Default: '128' } },
  Resources: {
    UsersTable: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'users-v2',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      },
    },
    AppRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          { PolicyName: 'read', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } },
        ],
      },
    },
    Fn: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        MemorySize: { Ref: 'MemorySize' },
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Code: { ZipFile: 'v2' },
        Role: 'arn:aws:iam::333333333333:role/x',
      },
    },
    FnLogs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14 } },
  },
});

export interface Scenario {
  aws: FakeAws;
  slack: FakeSlack;
  bot: BotProcess;
  redisPrefix: string;
  mode: 'http' | 'socket';
  promote(text: string, user?: string, channel?: string): ReturnType<typeof sendSlashCommand>;
  rollback(text: string, user?: string, channel?: string): ReturnType<typeof sendSlashCommand>;
  click(actionId: string, promotionId: string, user: string, messageTs: string): ReturnType<typeof sendBlockAction>;
  /** `user` opens the bot's App Home tab: resolves with the Home tab the bot published for them in answer. */
  openHome(user: string): Promise<Record<string, unknown>>;
  /**
   * `user` clicks a button in the Home tab they see now; resolves when the bot published their Home tab again
   * (its answer), with that tab.
   */
  clickHome(actionId: string, value: string, user: string): Promise<Record<string, unknown>>;
  /** Runs /promote and waits for its new summary with buttons: the message, the promotion ID and its ts. */
  plan(text?: string, user?: string): Promise<{ summary: FakeMessage; id: string; ts: string }>;
  /** The reply broadcast to the channel at the end of the thread under `ts`. */
  finalReply(ts: string, timeoutMs?: number): Promise<FakeMessage>;
  /** Stops the bot with `signal` and starts it again, with `env` added to its environment (e.g. PROMOTE_CRASH_AT). */
  restart(signal?: NodeJS.Signals, env?: Record<string, string>): Promise<void>;
  /** Another bot process on the same Redis prefix and fakes (a second replica). */
  replica(): Promise<BotProcess>;
  close(): Promise<void>;
}

export async function startScenario(o: {
  redisUrl?: string;
  config?: string;
  stacks?: boolean;
  aws?: Parameters<typeof startFakeAws>[0];
  slack?: StartFakeSlackOptions;
  /** Added to the first bot's environment only (restart() takes its own). */
  env?: Record<string, string>;
  /** 'socket': the bot runs in Socket Mode and every command and click goes over the fake's WebSocket */
  mode?: 'http' | 'socket';
}): Promise<Scenario> {
  const mode = o.mode ?? 'http';
  const aws = await startFakeAws({ changeSetStepMs: 60, eventIntervalMs: 30, ...o.aws });
  const slack = await startFakeSlack(o.slack);
  slack.userGroups.set('S0LEADS', ['U0LEAD1', 'U0LEAD2']);
  if (o.stacks !== false) {
    aws.putStack({
      name: 'api-dev',
      account: DEV_ACCOUNT,
      template: DEV_TEMPLATE,
      parameters: { Env: 'dev', MemorySize: '256' },
      outputs: { Version: 'v1.4.2' },
      lastUpdatedTime: new Date(Date.now() - 2 * 3600_000),
    });
    aws.putStack({
      name: 'api-prod',
      account: PROD_ACCOUNT,
      template: PROD_TEMPLATE,
      parameters: { Env: 'prod', MemorySize: '1024' },
    });
  }
  const redisPrefix = `e2e-${randomBytes(4).toString('hex')}:`;
  const config = o.config ?? configYaml();
  const launch = async (env?: Record<string, string>) => {
    const connections = slack.socketMode.connections.length;
    const bot = await startBot({
      config,
      slackUrl: slack.url,
      slackToken: slack.token,
      awsUrl: aws.url,
      redisUrl: o.redisUrl,
      redisPrefix,
      extraEnv: env,
      ...(mode === 'socket' ? { appToken: slack.socketMode.appToken } : {}),
    });
    // /healthz answers before Slack's hello; in Socket Mode the bot is reachable once its connection is open.
    if (mode === 'socket') await slack.socketMode.waitForConnection(connections + 1);
    return bot;
  };
  // The ack over the socket, shaped like the HTTP answer: its payload is the body Bolt would have sent.
  const asResult = async (send: () => Promise<SocketAck>): Promise<DriverResult> => {
    const started = performance.now();
    const ack = await send();
    return {
      status: 200,
      body: ack.payload ? JSON.stringify(ack.payload) : '',
      elapsedMs: performance.now() - started,
    };
  };
  const command = (name: string, text: string, user: string, channel: string) => {
    const o = {
      command: name,
      text,
      userId: user,
      channelId: channel,
      responseUrl: slack.responseUrl(`${name.slice(1)}:${text}`),
    };
    return mode === 'socket'
      ? asResult(() => sendSlashCommandOverSocket(slack.socketMode, o))
      : sendSlashCommand({ url: s.bot.url, secret: SIGNING_SECRET, ...o });
  };
  const replicas: BotProcess[] = [];
  const s: Scenario = {
    aws,
    slack,
    bot: await launch(o.env),
    redisPrefix,
    mode,
    promote: (text, user = REQUESTER, channel = CHANNEL) => command('/promote', text, user, channel),
    rollback: (text, user = REQUESTER, channel = CHANNEL) => command('/rollback', text, user, channel),
    click: (actionId, promotionId, user, messageTs) => {
      const o = {
        userId: user,
        actionId,
        value: promotionId,
        channelId: CHANNEL,
        messageTs,
        responseUrl: slack.responseUrl(`click:${actionId}:${user}`),
      };
      return mode === 'socket'
        ? asResult(() => sendBlockActionOverSocket(slack.socketMode, o))
        : sendBlockAction({ url: s.bot.url, secret: SIGNING_SECRET, ...o });
    },
    async openHome(user) {
      const before = slack.published.length;
      const body = slack.appHomeOpened(user);
      if (mode === 'socket') await sendEventOverSocket(slack.socketMode, body);
      else await sendEvent({ url: s.bot.url, secret: SIGNING_SECRET, body });
      const next = await slack.waitFor(() => slack.published.slice(before).find((v) => v.user === user));
      return next.view;
    },
    async clickHome(actionId, value, user) {
      const view = slack.homes.get(user);
      if (!view) throw new Error(`no Home tab was published for ${user}: open it first`);
      const before = slack.published.length;
      const o = { userId: user, actionId, value, view };
      if (mode === 'socket') await sendHomeBlockActionOverSocket(slack.socketMode, o);
      else await sendHomeBlockAction({ url: s.bot.url, secret: SIGNING_SECRET, ...o });
      const next = await slack.waitFor(() => slack.published.slice(before).find((v) => v.user === user));
      return next.view;
    },
    async plan(text = 'api dev→prod', user = REQUESTER) {
      const before = summaries(slack).length;
      await s.promote(text, user);
      const summary = await slack.waitFor(
        () =>
          summaries(slack)
            .slice(before)
            .find((m) => promotionIdOf(m.blocks)),
        15_000,
      );
      return { summary, id: promotionIdOf(summary.blocks)!, ts: summary.ts };
    },
    finalReply: (ts, timeoutMs = 20_000) =>
      slack.waitFor(() => slack.thread(ts).find((m) => m.reply_broadcast), timeoutMs),
    async restart(signal = 'SIGKILL', env) {
      await s.bot.kill(signal);
      s.bot = await launch(env);
    },
    async replica() {
      const bot = await launch();
      replicas.push(bot);
      return bot;
    },
    async close() {
      // A profiled bot (BOT_CPU_PROF, support/bot.ts) writes its profile only when it exits on its own.
      const sig = process.env.BOT_CPU_PROF ? 'SIGTERM' : 'SIGKILL';
      for (const r of replicas) await r.kill(sig);
      await s.bot.kill(sig);
      await slack.close();
      await aws.close();
    },
  };
  return s;
}

/** Ephemeral replies (response_url posts) whose text matches. */
export function replies(slack: FakeSlack, re: RegExp): string[] {
  return slack.responses.map((r) => String(r.body?.text ?? '')).filter((t) => re.test(t));
}

/** The channel summary message of the newest promotion (the one with buttons or a header). */
export function summaries(slack: FakeSlack) {
  return slack.messages.filter((m) => !m.thread_ts && Array.isArray(m.blocks) && m.blocks.length > 0);
}

/** The promotion ID carried by a summary's buttons. */
export function promotionIdOf(blocks: unknown[] | undefined): string | undefined {
  for (const b of (blocks ?? []) as Array<{ type: string; elements?: Array<{ value?: string; action_id?: string }> }>) {
    if (b.type !== 'actions') continue;
    for (const e of b.elements ?? []) if (e.value) return e.value;
  }
  return undefined;
}

export function allText(blocks: unknown): string {
  return JSON.stringify(blocks ?? []);
}

/** How many updates api-prod went through: its own UPDATE_IN_PROGRESS events. */
export function stackUpdates(s: Scenario): number {
  const prod = s.aws.stack('api-prod', undefined, PROD_ACCOUNT)!;
  return prod.events.filter((e) => e.LogicalResourceId === 'api-prod' && e.ResourceStatus === 'UPDATE_IN_PROGRESS')
    .length;
}
