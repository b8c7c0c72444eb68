// 50 at once: 50 services on two replicas sharing one Redis, 50 executions of 60 resources in parallel, 10 of
// the services in one channel. The fake Slack enforces Slack's published limits (test/fakes/slack-limits.ts) and
// the fake AWS answers with per-call latency. Measured: final replies delivered, Slack 429s, Describe* calls per
// minute per account (the most in any 60 s), and per execution the longest time without a progress update.
import { ACTION } from '../src/slack/ids.js';
import { PROGRESS_NOTE_BLOCK_ID } from '../src/slack/views/progress.js';
import { SIGNING_SECRET } from '../test/support/bot.js';
import { promotionIdOf, type Scenario, summaries } from '../test/support/scenario.js';
import { sendBlockAction, sendSlashCommand } from '../test/support/slack-driver.js';
import { type Budget, maxInWindow, sleep, until } from './support.js';
import { REVIEWERS, rssMb, rssPartsMb, scrapeMetric, serviceName } from './world.js';

export interface FiftyResult {
  executions: number;
  summariesPosted: number;
  finalReplies: number;
  succeeded: number;
  slack429: number;
  slack429ByMethod: Record<string, number>;
  slackCalls: number;
  /** chat.update calls that succeeded, of the summaries and of the progress messages */
  updatesOf: { summary: number; progress: number };
  /** per account: the most Describe* calls in any 60 s, and all of them over the row */
  describePerMinute: Record<string, number>;
  describeTotal: Record<string, number>;
  /** per execution, the longest time without a progress update (approval → first update … → final reply) */
  longestGapsMs: number[];
  /** the same, of the executions whose channel is shared with other services' (posts one a second, shared) */
  sharedChannelGapsMs: number[];
  /** executions that had no progress message at all */
  withoutProgress: number;
  /** progress notes posted, over all executions */
  notesPosted: number;
  /**
   * Longest gaps over 10 s (s), by where they were: from the approval to the first progress, between two, or from
   * the last progress to the final reply
   */
  longestGapAt: { start: number[]; during: number[]; end: number[] };
  /**
   * The execution with the longest gap, in seconds from its approval: what its thread showed when (p: the
   * progress message posted or updated, n: a note, F: the final reply), and its stack's ExecuteChangeSet (X) and
   * last event (S), so a miss says where its time went.
   */
  worstTimeline?: { channel: string; marks: string };
  /** per promotion, ms: its last approval → its summary no longer asking for approvals (what a channel sees) */
  summaryLagMs?: number[];
  rssMb: number[];
  /** The most RSS each replica had at any time (start-up and this row) */
  peakRssMb: number[];
  /** Each replica's RSS after, anonymous and file-backed */
  rssPartsMb: Array<{ anon: number; file: number }>;
  /** Each replica's V8 heap (used / total) and memory outside it (external), MB, beside the RSS */
  heapMb: Array<{ used: number; total: number; external: number }>;
  wallMs: number;
  /** per execution (p50 / max, ms): second approval → ExecuteChangeSet, → the stack's last event, → final reply */
  phases: { toExecute: number[]; toSettled: number[]; toFinal: number[] };
}

const accountOf = (accessKeyId: string | undefined) => /^ASIA(\d{12})/.exec(accessKeyId ?? '')?.[1] ?? 'default';

/** The service a summary is about (its stack, `svcN-prod`, is in its blocks); NaN when none is. */
function serviceIndexOf(m: { blocks?: unknown }, n: number): number {
  const text = JSON.stringify(m.blocks ?? []);
  return Array.from({ length: n }, (_, k) => k).find((k) => text.includes(`\`${serviceName(k)}-prod\``)) ?? Number.NaN;
}

export async function measureFifty(
  s: Scenario,
  accountOfService: (i: number) => string,
  replicaUrl: string,
  replicaPid: number | undefined,
  budget: Budget,
  o: { n: number; channelOf: (i: number) => string; finalWithinMs: number },
): Promise<FiftyResult> {
  const started = Date.now();
  const slackFrom = s.slack.calls.length;
  const awsFrom = s.aws.calls.length;
  const urls = [s.bot.url, replicaUrl];
  // Every service's /promote, alternating between the replicas, ten in flight.
  const before = summaries(s.slack).length;
  const queue = Array.from({ length: o.n }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        await sendSlashCommand({
          url: urls[i % 2]!,
          secret: SIGNING_SECRET,
          command: '/promote',
          text: `${serviceName(i)} dev→prod`,
          userId: 'U0REQ',
          channelId: o.channelOf(i),
          responseUrl: s.slack.responseUrl(`fifty:${i}`),
        });
      }
    }),
  );
  const planned = await until(
    budget,
    `${o.n} summaries`,
    () => {
      const found = summaries(s.slack)
        .slice(before)
        .filter((m) => promotionIdOf(m.blocks));
      return found.length >= o.n && found;
    },
    120_000,
    50,
  ).catch(() =>
    summaries(s.slack)
      .slice(before)
      .filter((m) => promotionIdOf(m.blocks)),
  );
  // Two approvals each, on alternating replicas; the second one starts the execution.
  const approvedAt = new Map<string, number>();
  const clicks = planned.flatMap((m) => REVIEWERS.map((user, k) => ({ m, user, k })));
  await Promise.all(
    Array.from({ length: 10 }, async (_, lane) => {
      for (let c = clicks.shift(); c; c = clicks.shift()) {
        await sendBlockAction({
          url: urls[(lane + c.k) % 2]!,
          secret: SIGNING_SECRET,
          userId: c.user,
          actionId: ACTION.approve,
          value: promotionIdOf(c.m.blocks)!,
          channelId: c.m.channel,
          messageTs: c.m.ts,
          responseUrl: s.slack.responseUrl(`fifty-approve:${c.user}`),
        });
        if (c.k === 1) approvedAt.set(c.m.ts, Date.now());
      }
    }),
  );
  const finalOf = (ts: string) => s.slack.thread(ts).find((m) => m.reply_broadcast);
  const deadline = Math.min(Date.now() + o.finalWithinMs, budget.endsAt);
  while (Date.now() < deadline && planned.some((m) => !finalOf(m.ts))) await sleep(200);

  const gaps: number[] = [];
  let withoutProgress = 0;
  let notesPosted = 0;
  const gapAt: FiftyResult['longestGapAt'] = { start: [], during: [], end: [] };
  const sharedChannelGaps: number[] = [];
  const summaryLag: number[] = [];
  let worst: { longest: number; timeline: FiftyResult['worstTimeline'] } = { longest: -1, timeline: undefined };
  const perChannel = new Map<string, number>();
  for (const m of planned) perChannel.set(m.channel, (perChannel.get(m.channel) ?? 0) + 1);
  for (const m of planned) {
    const start = approvedAt.get(m.ts);
    const final = finalOf(m.ts);
    const progress = s.slack
      .thread(m.ts)
      .find((t) => /^(Executing|Rolling back)…/.test(t.history[0]?.text ?? '') && t !== final);
    if (!progress) withoutProgress++;
    // Progress notes (replies of their own, posted while the progress message's update waits) show progress too.
    const notes = s.slack
      .thread(m.ts)
      .filter((t) => t.blocks?.some((b) => (b as { block_id?: string }).block_id === PROGRESS_NOTE_BLOCK_ID))
      .map((t) => t.history[0]!.at);
    notesPosted += notes.length;
    const end = final?.history[0]?.at ?? Date.now();
    // Until the final reply: a progress message's last update may land after it (it waits for the budget).
    const times = [start ?? end, ...(progress?.history.map((v) => v.at) ?? []), ...notes, end]
      .filter((t) => t <= end)
      .sort((a, b) => a - b);
    let longest = 0;
    let where: keyof FiftyResult['longestGapAt'] = 'start';
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! <= longest) continue;
      longest = times[i]! - times[i - 1]!;
      where = i === 1 ? 'start' : i === times.length - 1 ? 'end' : 'during';
    }
    gaps.push(longest);
    const decided = m.history.find((v) => !/ — needs /.test(v.text ?? ''));
    if (start && decided) summaryLag.push(decided.at - start);
    if ((perChannel.get(m.channel) ?? 0) > 1) sharedChannelGaps.push(longest);
    if (longest > worst.longest && start) {
      const i = serviceIndexOf(m, o.n);
      const exec = s.aws.calls
        .slice(awsFrom)
        .find((c) => c.action === 'ExecuteChangeSet' && c.params.ChangeSetName?.includes(`promote-svc${i}-dev`));
      const settled = Number.isNaN(i)
        ? undefined
        : s.aws.stack(`${serviceName(i)}-prod`, undefined, accountOfService(i))?.events[0]?.Timestamp?.getTime();
      const marks = [
        ...(progress?.history.map((v) => ({ at: v.at, k: 'p' })) ?? []),
        ...notes.map((at) => ({ at, k: 'n' })),
        ...(final ? [{ at: end, k: 'F' }] : []),
        ...(exec ? [{ at: exec.at, k: 'X' }] : []),
        ...(settled ? [{ at: settled, k: 'S' }] : []),
      ]
        .sort((a, b) => a.at - b.at)
        .map((x) => `${x.k}${((x.at - start) / 1000).toFixed(1)}`)
        .join(' ');
      worst = { longest, timeline: { channel: m.channel, marks } };
    }
    if (longest > 10_000) gapAt[where].push(Math.round(longest / 100) / 10);
  }
  const slackCalls = s.slack.calls.slice(slackFrom);
  // Where the workspace's chat.update budget went: the summaries (the channel messages) or the progress messages.
  const summaryTs = new Set(planned.map((m) => m.ts));
  const updatesOf = { summary: 0, progress: 0 };
  for (const c of slackCalls) {
    if (c.method !== 'chat.update' || !c.ok) continue;
    if (summaryTs.has(String(c.args.ts))) updatesOf.summary++;
    else updatesOf.progress++;
  }
  const slack429ByMethod: Record<string, number> = {};
  for (const c of slackCalls) if (c.status === 429) slack429ByMethod[c.method] = (slack429ByMethod[c.method] ?? 0) + 1;
  const describes = s.aws.calls
    .slice(awsFrom)
    .filter((c) => c.service === 'cloudformation' && c.action.startsWith('Describe'));
  const byAccount = new Map<string, number[]>();
  for (const c of describes) {
    const a = accountOf(c.accessKeyId);
    byAccount.set(a, [...(byAccount.get(a) ?? []), c.at]);
  }
  const finals = planned.map((m) => finalOf(m.ts)).filter((f) => f !== undefined);
  // Where each execution's time went: the service is in the change set's name (promote-svc7-dev-to-prod-…).
  const phases: FiftyResult['phases'] = { toExecute: [], toSettled: [], toFinal: [] };
  const executes = s.aws.calls.slice(awsFrom).filter((c) => c.action === 'ExecuteChangeSet');
  for (const m of planned) {
    const i = serviceIndexOf(m, o.n);
    const exec = executes.find((c) => new RegExp(`promote-svc${i}-dev`).test(c.params.ChangeSetName ?? ''));
    const stack = Number.isNaN(i) ? undefined : s.aws.stack(`${serviceName(i)}-prod`, undefined, accountOfService(i));
    const approved = approvedAt.get(m.ts);
    const settled = stack?.events[0]?.Timestamp?.getTime();
    const final = finalOf(m.ts)?.history[0]?.at;
    if (approved && exec) phases.toExecute.push(exec.at - approved);
    if (exec && settled) phases.toSettled.push(settled - exec.at);
    if (settled && final) phases.toFinal.push(final - settled);
  }
  return {
    executions: o.n,
    summariesPosted: planned.length,
    finalReplies: finals.length,
    succeeded: finals.filter((f) => /Promoted/i.test(f.text ?? '')).length,
    slack429: slackCalls.filter((c) => c.status === 429).length,
    slack429ByMethod,
    slackCalls: slackCalls.length,
    updatesOf,
    describePerMinute: Object.fromEntries([...byAccount].map(([a, t]) => [a, maxInWindow(t, 60_000)])),
    describeTotal: Object.fromEntries([...byAccount].map(([a, t]) => [a, t.length])),
    longestGapsMs: gaps,
    sharedChannelGapsMs: sharedChannelGaps,
    withoutProgress,
    notesPosted,
    longestGapAt: gapAt,
    worstTimeline: worst.timeline,
    summaryLagMs: summaryLag,
    rssMb: [rssMb(s.bot.proc.pid), rssMb(replicaPid)],
    peakRssMb: [rssMb(s.bot.proc.pid, true), rssMb(replicaPid, true)],
    rssPartsMb: [rssPartsMb(s.bot.proc.pid), rssPartsMb(replicaPid)],
    heapMb: await Promise.all([s.bot.base, new URL(replicaUrl).origin].map(heapOf)),
    wallMs: Date.now() - started,
    phases,
  };
}

const MB = 1024 * 1024;
async function heapOf(base: string): Promise<{ used: number; total: number; external: number }> {
  const [used = Number.NaN, total = Number.NaN, external = Number.NaN] = await Promise.all(
    ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes'].map((m) =>
      scrapeMetric(base, m).catch(() => Number.NaN),
    ),
  );
  return { used: used / MB, total: total / MB, external: external / MB };
}
