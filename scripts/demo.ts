// npm run demo: the real bot (`node dist/main.js`, in-memory store) against the built-in fake Slack and fake
// CloudFormation (test/fakes), playing a whole story: /promote with a destructive change, the reviewers' direct
// messages and one's App Home tab, a refused self-approval, two approvals, progress, success, then /rollback
// approved and done. It prints the conversation
// as it would read in Slack and writes each message's Block Kit JSON, with a Block Kit Builder link, to
// demo-output/. No network beyond 127.0.0.1, no credentials (the fake AWS accepts any key).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACTION } from '../src/slack/ids.js';
import { startFakeAws } from '../test/fakes/aws.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from '../test/fakes/slack.js';
import { type BotProcess, SIGNING_SECRET, startBot } from '../test/support/bot.js';
import { DEV_TEMPLATE, PROD_TEMPLATE, promotionIdOf } from '../test/support/scenario.js';
import { sendBlockAction, sendEvent, sendSlashCommand } from '../test/support/slack-driver.js';
import { blockKitBuilderUrl, messageLines, type Names } from './blocks-text.js';

const CHANNEL = 'C0DEPLOYS';
const DEV_ACCOUNT = '111111111111';
const PROD_ACCOUNT = '333333333333';
const PEOPLE = { dana: 'U0DANA', alice: 'U0ALICE', bob: 'U0BOB' } as const;

const NAMES: Names = {
  users: { U0DANA: 'dana', U0ALICE: 'alice', U0BOB: 'bob', U0PROMOTEBOT: 'promote-bot' },
  channels: { [CHANNEL]: 'deploys' },
};

const CONFIG = `
settings:
  progressEvery: 1s
  pollMin: 100ms
  pollMax: 300ms
services:
  api:
    channels: [${CHANNEL}]
    stages:
      dev:
        stack: api-dev
        role: arn:aws:iam::${DEV_ACCOUNT}:role/promote-bot
      prod:
        stack: api-prod
        role: arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot
        externalId: promote-demo
        approvals:
          required: 2
          reviewers: [${PEOPLE.dana}, ${PEOPLE.alice}, ${PEOPLE.bob}]
          expiresAfter: 4h
        rollback:
          required: 1
`;

/** One thing that happened in the channel, in time order. */
interface Event {
  at: number;
  lines: string[];
  /** Block Kit of what the bot posted, for demo-output/ */
  json?: { kind: string; text?: string; blocks?: unknown[] };
}

export interface DemoResult {
  /** the conversation as printed */
  transcript: string[];
  /** files written to the output folder, in order */
  files: string[];
  elapsedMs: number;
}

export interface DemoOptions {
  /** where each message's Block Kit JSON goes; omitted: nothing is written */
  outDir?: string;
}

const INDENT = '    │ ';
const name = (user: string) => `@${NAMES.users?.[user] ?? user}`;

/** Lines that differ between two renderings: what an edit changed, as `+ new` / `- gone`. */
function changedLines(before: string[], after: string[]): string[] {
  // A line that says "1 second ago" instead of "just now" did not change for the reader.
  const key = (l: string) => l.replace(/\b(just now|\d+ (second|minute|hour|day)s? ago)\b/g, '…');
  const was = new Set(before.map(key));
  const now = new Set(after.map(key));
  return [
    ...after.filter((l) => !was.has(key(l))).map((l) => `+ ${l}`),
    ...before.filter((l) => !now.has(key(l))).map((l) => `- ${l}`),
  ];
}

/** Everything the bot did in Slack, as events: posts, edits, deletions, ephemerals, response_url replies. */
function slackEvents(slack: FakeSlack, responseTimes: number[]): Event[] {
  const events: Event[] = [];
  const number = new Map<string, number>();
  // Direct messages (in the bot's D… conversation with someone) are not part of the channel's numbering.
  const direct = (m: FakeMessage) => m.channel.startsWith('D');
  const top = (m: FakeMessage) => !m.thread_ts && !direct(m);
  let n = 0;
  for (const m of slack.messages) if (top(m)) number.set(m.ts, ++n);
  const dmTo = (m: FakeMessage) =>
    Object.values(PEOPLE).find((u) => slack.dm(u).includes(m)) ?? m.channel.replace(/^D/, 'U');
  const label = (m: FakeMessage) =>
    top(m) ? `message ${number.get(m.ts)}` : `a reply in the thread of message ${number.get(m.thread_ts!)}`;
  for (const m of slack.messages) {
    if (direct(m)) {
      const v = m.history[0]!;
      events.push({
        at: v.at,
        lines: [`promote-bot sent ${name(dmTo(m))} a direct message:`, ...messageLines(v, NAMES).map((l) => `  ${l}`)],
        json: { kind: `dm-${NAMES.users?.[dmTo(m)] ?? 'someone'}`, ...v },
      });
      continue;
    }
    const prefix = top(m) ? '' : INDENT;
    m.history.forEach((v, i) => {
      const lines = messageLines(v, NAMES);
      if (i === 0) {
        const head = top(m)
          ? `promote-bot posted ${label(m)}:`
          : `promote-bot replied in the thread of message ${number.get(m.thread_ts!)}${m.reply_broadcast ? ' (also sent to #deploys)' : ''}:`;
        events.push({
          at: v.at,
          lines: [`${prefix}${head}`, ...lines.map((l) => `${prefix}  ${l}`)],
          json: { kind: top(m) ? `message-${number.get(m.ts)}` : `thread-${number.get(m.thread_ts!)}`, ...v },
        });
      } else {
        const diff = changedLines(messageLines(m.history[i - 1]!, NAMES), lines);
        if (diff.length === 0) return;
        events.push({
          at: v.at,
          lines: [`${prefix}promote-bot edited ${label(m)}:`, ...diff.map((l) => `${prefix}  ${l}`)],
          json: { kind: top(m) ? `message-${number.get(m.ts)}-edit` : `thread-${number.get(m.thread_ts!)}-edit`, ...v },
        });
      }
    });
  }
  for (const c of slack.calls) {
    if (!c.ok) continue;
    const a = c.args as { user?: string; text?: string; blocks?: unknown[]; ts?: string; channel?: string };
    if (c.method === 'chat.postEphemeral') {
      events.push({
        at: c.at,
        lines: [`  (only visible to ${name(a.user ?? '')}) ${messageLines(a, NAMES).join(`\n  `)}`],
        json: { kind: 'ephemeral', text: a.text, blocks: a.blocks },
      });
    } else if (c.method === 'chat.delete') {
      const m = slack.messages.find((x) => x.ts === a.ts);
      events.push({ at: c.at, lines: [`promote-bot deleted ${m ? label(m) : 'a message'}`] });
    } else if (c.method === 'files.completeUploadExternal') {
      events.push({ at: c.at, lines: [`${INDENT}promote-bot shared a file: ${JSON.stringify(c.args.files)}`] });
    }
  }
  for (const h of slack.published) {
    const blocks = (h.view.blocks ?? []) as unknown[];
    events.push({
      at: h.at,
      lines: [
        `promote-bot showed ${name(h.user)} their Home tab (in the promote-bot app):`,
        ...messageLines({ blocks }, NAMES).map((l) => `  ${l}`),
      ],
      json: { kind: `home-${NAMES.users?.[h.user] ?? 'someone'}`, blocks },
    });
  }
  slack.responses.forEach((r, i) => {
    if (r.status !== 200) return;
    const user = r.tag ?? '';
    const body = r.body as { text?: string; blocks?: unknown[]; replace_original?: boolean; delete_original?: boolean };
    if (body.delete_original) {
      events.push({ at: responseTimes[i]!, lines: [`  (the reply to ${name(user)} went away)`] });
      return;
    }
    events.push({
      at: responseTimes[i]!,
      lines: [`  (only visible to ${name(user)}) ${messageLines(body, NAMES).join('\n  ')}`],
      json: { kind: 'ephemeral', text: body.text, blocks: body.blocks },
    });
  });
  return events;
}

/** The summary of the newest operation: the newest top-level message with buttons. */
function newestSummary(slack: FakeSlack, after: number): FakeMessage | undefined {
  return slack.messages.filter((m) => !m.thread_ts && promotionIdOf(m.history[0]?.blocks)).slice(after)[0];
}

/** Waits until the bot has made no Slack call for `quietMs` (its last edits landed). */
async function settle(slack: FakeSlack, quietMs: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const last = Math.max(0, ...slack.calls.map((c) => c.at));
    if (Date.now() - last >= quietMs || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const aws = await startFakeAws({ changeSetStepMs: 100, eventIntervalMs: 150 });
  const slack = await startFakeSlack();
  for (const [n, id] of Object.entries(PEOPLE))
    slack.users.set(id, { name: n, real_name: n[0]!.toUpperCase() + n.slice(1) });
  slack.channels.set(CHANNEL, { name: 'deploys' });
  aws.putStack({
    name: 'api-dev',
    account: DEV_ACCOUNT,
    template: DEV_TEMPLATE,
    parameters: { Env: 'dev', MemorySize: '256' },
    outputs: { Version: 'v1.5.0' },
  });
  aws.putStack({
    name: 'api-prod',
    account: PROD_ACCOUNT,
    template: PROD_TEMPLATE,
    parameters: { Env: 'prod', MemorySize: '1024' },
    outputs: { Version: 'v1.4.2' },
  });

  // response_url posts carry no time: stamp each as it arrives.
  const responseTimes: number[] = [];
  const stampResponses = () => {
    while (responseTimes.length < slack.responses.length) responseTimes.push(Date.now());
  };
  const stamp = setInterval(stampResponses, 2);
  const events: Event[] = [];
  const say = (lines: string[]) => {
    stampResponses(); // whatever arrived before this action happened before it
    events.push({ at: Date.now(), lines });
  };

  let bot: BotProcess | undefined;
  try {
    bot = await startBot({ config: CONFIG, slackUrl: slack.url, slackToken: slack.token, awsUrl: aws.url });
    const url = bot.url;
    const command = async (user: string, cmd: string, text: string) => {
      say([`${name(user)}: ${cmd} ${text}`]);
      const sent = Date.now();
      const r = await sendSlashCommand({
        url,
        secret: SIGNING_SECRET,
        command: cmd,
        text,
        userId: user,
        channelId: CHANNEL,
        responseUrl: slack.responseUrl(user),
      });
      if (r.status !== 200) throw new Error(`the bot answered ${cmd} with HTTP ${r.status}: ${r.body}`);
      const ack = r.body ? (JSON.parse(r.body) as { text?: string }) : {};
      if (ack.text) {
        events.push({
          at: sent + r.elapsedMs,
          lines: [`  (only visible to ${name(user)}) ${messageLines(ack, NAMES).join('\n  ')}`],
        });
      }
    };
    const click = async (user: string, button: string, actionId: string, summary: FakeMessage) => {
      say([
        `${name(user)} clicked [ ${button} ] on message ${slack.messages.filter((m) => !m.thread_ts && m.channel === CHANNEL).indexOf(summary) + 1}`,
      ]);
      const r = await sendBlockAction({
        url,
        secret: SIGNING_SECRET,
        userId: user,
        actionId,
        value: promotionIdOf(summary.history[0]?.blocks)!,
        channelId: CHANNEL,
        messageTs: summary.ts,
        responseUrl: slack.responseUrl(user),
      });
      if (r.status !== 200) throw new Error(`the bot answered a click with HTTP ${r.status}: ${r.body}`);
    };
    const finalReply = (m: FakeMessage) =>
      slack.waitFor(() => slack.thread(m.ts).find((r) => r.reply_broadcast), 20_000);

    // 1. Dana promotes api from dev to prod: the table is replaced and a queue deleted (destructive).
    await command(PEOPLE.dana, '/promote', 'api dev→prod');
    const promotion = await slack.waitFor(() => newestSummary(slack, 0), 15_000);
    // Each step waits for what a person would wait for, so the story reads the same on every run.
    const replyTo = async (user: string, before: number) => {
      await slack.waitFor(() => slack.responses.slice(before).some((r) => r.tag === user));
      await settle(slack, 300);
    };
    // Alice and Bob got a direct message; Alice opens the bot's Home tab: it waits for her approval.
    await slack.waitFor(() => slack.dm(PEOPLE.alice).length && slack.dm(PEOPLE.bob).length);
    say([`${name(PEOPLE.alice)} opened the promote-bot app (its Home tab)`]);
    const homes = slack.published.length;
    await sendEvent({ url, secret: SIGNING_SECRET, body: slack.appHomeOpened(PEOPLE.alice) });
    await slack.waitFor(() => slack.published.length > homes);
    await settle(slack, 300);
    // 2. Dana tries to approve her own promotion: refused.
    let before = slack.responses.length;
    await click(PEOPLE.dana, 'Approve', ACTION.approve, promotion);
    await replyTo(PEOPLE.dana, before);
    // 3. Alice and Bob approve: the second approval starts it; progress in the thread; success.
    before = slack.responses.length;
    await click(PEOPLE.alice, 'Approve', ACTION.approve, promotion);
    await replyTo(PEOPLE.alice, before);
    await click(PEOPLE.bob, 'Approve', ACTION.approve, promotion);
    await finalReply(promotion);
    await settle(slack, 400);
    // 4. Something is wrong in prod: Dana rolls back; one approval (Alice) is enough for a rollback.
    await command(PEOPLE.dana, '/rollback', 'api prod');
    const rollback = await slack.waitFor(() => newestSummary(slack, 1), 15_000);
    await click(PEOPLE.alice, 'Approve', ACTION.approve, rollback);
    await finalReply(rollback);
    await settle(slack, 400);
  } catch (err) {
    throw new Error(`the demo story failed; the bot said:\n${bot?.output() ?? '(not started)'}`, { cause: err });
  } finally {
    clearInterval(stamp);
    await bot?.kill('SIGTERM');
    await slack.close();
    await aws.close();
  }
  const elapsedMs = Date.now() - started;

  // Within one millisecond the bot's event comes first: every action waited for what it acts on.
  const all = [...slackEvents(slack, responseTimes), ...events].sort((a, b) => a.at - b.at);
  const transcript: string[] = [];
  const files: string[] = [];
  if (opts.outDir) {
    rmSync(opts.outDir, { recursive: true, force: true });
    mkdirSync(opts.outDir, { recursive: true });
  }
  const index: string[] = ['# promote-bot demo: every message the bot sent, in order', ''];
  for (const e of all) {
    const seconds = ((e.at - all[0]!.at) / 1000).toFixed(1).padStart(5);
    for (const [i, l] of e.lines.entries()) transcript.push(`${i === 0 ? `${seconds}s ` : '       '}${l}`);
    if (opts.outDir && e.json) {
      const file = `${String(files.length + 1).padStart(2, '0')}-${e.json.kind}.json`;
      const blocks = e.json.blocks?.length
        ? e.json.blocks
        : [{ type: 'section', text: { type: 'mrkdwn', text: e.json.text ?? '' } }];
      const builder = blockKitBuilderUrl(blocks);
      writeFileSync(
        join(opts.outDir, file),
        `${JSON.stringify({ event: e.lines[0]!.replace(/^[\s│]+/, ''), text: e.json.text, blocks, builder }, null, 2)}\n`,
      );
      index.push(
        `- [${file}](${file}) (${e.json.blocks?.length ? 'blocks' : 'text only, shown as a section'}): [open in Block Kit Builder](${builder})`,
      );
      files.push(file);
    }
  }
  if (opts.outDir) writeFileSync(join(opts.outDir, 'index.md'), `${index.join('\n')}\n`);
  return { transcript, files, elapsedMs };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const outDir = resolve('demo-output');
  runDemo({ outDir })
    .then(({ transcript, files, elapsedMs }) => {
      process.stdout.write(`promote-bot demo: #deploys as the people in it see it\n\n${transcript.join('\n')}\n\n`);
      process.stdout.write(
        `Block Kit JSON of ${files.length} messages, each with a Block Kit Builder link: ${outDir}/ (index.md lists them)\n`,
      );
      process.stdout.write(`The story took ${(elapsedMs / 1000).toFixed(1)} s (bot start-up included).\n`);
    })
    .catch((err: unknown) => {
      for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
      process.exit(1);
    });
}
