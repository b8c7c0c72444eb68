// `npm run bench`: what users feel, measured against the real bot process (`node dist/main.js`, as `npm start`
// runs it) talking to the fake Slack and fake AWS of the end-to-end tests, which run in this process.
//   1. ack latency of slash commands and buttons (Redis store and in-memory store)
//   2. change set ready → summary posted, for /promote and /rollback
//   3. progress message updates during a 60-resource execution (production progressEvery)
//   4. CloudFormation calls between the "Cancel update" approval and CancelUpdateStack
// Prints a table; writes nothing. Bounded: fixed counts and a total time budget; every process it starts is
// stopped on the way out (done, failure, Ctrl-C, or the budget running out).
import os from 'node:os';
import { configYaml, type Scenario, startScenario } from '../test/support/scenario.js';
import { type AckSamples, measureAcks } from './ack.js';
import { type CancelSample, measureCancel, measureCancelOnce } from './cancel.js';
import { measurePlanning, type PlanSample, promoteAndExecute } from './planning.js';
import { measureProgress, type ProgressResult, seedManyResources } from './progress.js';
import { type BenchRedis, startRedis } from './redis.js';
import { Budget, cleanupAll, ms, onCleanup, STATS_HEADER, stats, statsRow, table } from './support.js';

const ACK_N = 200;
const PLAN_N = 20;
const ROLLBACK_N = 20;
const CANCEL_N = 5;
/** Fake change sets go CREATE_PENDING → CREATE_IN_PROGRESS → CREATE_COMPLETE this far apart. */
const CHANGE_SET_STEP_MS = 60;
/** Stack events of the 60-resource execution arrive this far apart (~180 events → ~18 s). */
const PROGRESS_EVENT_MS = 100;
const TOTAL_BUDGET_MS = 170_000;

/**
 * The production settings (progressEvery 2 s, sweepEvery 5 s, leaseTtl 15 s) with only the stack-event
 * polling shortened: the test config's `settings:` block is replaced whole, so nothing else is overridden.
 */
function productionConfig(): string {
  const cfg = configYaml().replace(/^settings:\n(?: {2}\S.*\n)+/m, 'settings:\n  pollMin: 100ms\n  pollMax: 400ms\n');
  if (/progressEvery|sweepEvery|leaseTtl/.test(cfg))
    throw new Error('could not strip the test settings from configYaml()');
  return cfg;
}

function machineFacts(redis: BenchRedis | undefined): string {
  const cpus = os.cpus();
  const where = redis ? `${redis.owned ? 'throwaway redis-server' : 'REDIS_URL'} ${redis.version}` : 'unavailable';
  return [
    `machine: ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), availableParallelism ${os.availableParallelism()}, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    `runtime: node ${process.version}, ${os.platform()} ${os.release()} ${os.arch()}; Redis: ${where}`,
    'the bot is `node dist/main.js` (HTTP mode); fake Slack, fake AWS and this driver share one other process',
  ].join('\n');
}

/** Starts a scenario whose close() runs once, whether the section or the final cleanup gets there first. */
async function scenario(o: Parameters<typeof startScenario>[0], prefixes: string[]): Promise<Scenario> {
  const s = await startScenario(o);
  if (o.redisUrl) prefixes.push(s.redisPrefix);
  const closeOnce = s.close.bind(s);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= closeOnce();
    return closing;
  };
  s.close = close;
  onCleanup('a bot and its fakes', close);
  // Last resort when the orderly cleanup could not run or failed: never leave a bot process behind.
  process.once('exit', () => {
    if (s.bot.proc.exitCode === null && s.bot.proc.signalCode === null) s.bot.proc.kill('SIGKILL');
  });
  return s;
}

interface Results {
  acks: Partial<Record<'redis' | 'memory', AckSamples>>;
  promote?: PlanSample[];
  rollback?: PlanSample[];
  progress?: ProgressResult;
  cancel?: CancelSample[];
  cancelRateLimited?: CancelSample;
  failures: string[];
}

async function section(results: Results, name: string, run: () => Promise<void>): Promise<void> {
  const started = Date.now();
  process.stderr.write(`bench: ${name}…`);
  try {
    await run();
    process.stderr.write(` ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    process.stderr.write(' failed\n');
    const cause = (err as { cause?: unknown }).cause;
    results.failures.push(`${name}: ${(err as Error).message}${cause ? ` (cause: ${String(cause)})` : ''}`);
  }
}

function report(results: Results, facts: string, wallMs: number): string {
  const out: string[] = ['', facts, ''];

  out.push(
    `1. Ack latency: signed request sent → HTTP response (sequential; each waits for its reply before the next)`,
  );
  const ackRows = [STATS_HEADER];
  for (const store of ['redis', 'memory'] as const) {
    const a = results.acks[store];
    if (!a) continue;
    ackRows.push(statsRow(`${store}: /promote api dev→prod (lock held → refused)`, stats(a.promoteLocked)));
    ackRows.push(statsRow(`${store}: /promote help`, stats(a.help)));
    ackRows.push(statsRow(`${store}: Approve by a non-reviewer (refused)`, stats(a.clickRefused)));
    if (a.unexpected.length)
      out.push(`   ⚠ ${store}: ${a.unexpected.length} unexpected answers, e.g. ${a.unexpected[0]}`);
  }
  if (results.promote)
    ackRows.push(statsRow('redis: /promote that plans (from 2.)', stats(results.promote.map((p) => p.ackMs))));
  if (results.rollback)
    ackRows.push(statsRow('redis: /rollback that plans (from 2.)', stats(results.rollback.map((p) => p.ackMs))));
  out.push(table(ackRows), '');

  out.push(
    `2. Change set CREATE_COMPLETE → summary posted (Redis store; fake change sets complete ${2 * CHANGE_SET_STEP_MS} ms after CreateChangeSet; ` +
      'the bot polls DescribeChangeSet at 0, +250, +375, +562 … ms, capped at 1 s)',
  );
  const planRows = [STATS_HEADER];
  for (const kind of ['promote', 'rollback'] as const) {
    const samples = results[kind];
    if (!samples) continue;
    planRows.push(statsRow(`/${kind}: CREATE_COMPLETE → summary`, stats(samples.map((p) => p.readyToSummaryMs))));
    planRows.push(statsRow('   waiting for the next poll', stats(samples.map((p) => p.pollLagMs))));
    planRows.push(statsRow('   that poll → summary posted', stats(samples.map((p) => p.afterPollMs))));
    planRows.push(statsRow(`/${kind} sent → summary (total)`, stats(samples.map((p) => p.totalMs))));
  }
  out.push(table(planRows));
  if (results.promote && results.rollback) {
    const p = stats(results.promote.map((x) => x.readyToSummaryMs));
    const r = stats(results.rollback.map((x) => x.readyToSummaryMs));
    // "No slower": within 10% or 5 ms of the promotion's. With n = 20 the p95 is the second-slowest sample,
    // so the median carries the verdict and the p95 comparison is shown beside it.
    const noSlower = (rv: number, pv: number) => (rv <= Math.max(pv * 1.1, pv + 5) ? 'no slower' : 'SLOWER');
    out.push(
      `   rollback vs promotion, CREATE_COMPLETE → summary: p50 ${ms(r.p50)} vs ${ms(p.p50)} ms (${noSlower(r.p50, p.p50)}), ` +
        `p95 ${ms(r.p95)} vs ${ms(p.p95)} ms (${noSlower(r.p95, p.p95)})`,
    );
  }
  out.push('');

  const g = results.progress;
  if (g) {
    out.push(
      `3. Progress updates: ${g.resources} resources, ${g.events} stack events over ${ms(g.executionMs / 1000)} s (production progressEvery 2 s)`,
    );
    out.push(
      table([
        ['', 'value'],
        ['chat.update on the progress message (incl. final)', String(g.updates)],
        ['updates per minute of execution', ms(g.updatesPerMinute)],
        ['max updates in any 2 s window (incl. final)', String(g.maxIn2s)],
        ['max updates in any 2 s window (throttled ones only)', String(g.maxIn2sBeforeFinal)],
        ['smallest gap between two updates (incl. final), ms', ms(g.minGapMs, 0)],
        ['smallest gap between two throttled updates, ms', ms(g.minGapBeforeFinalMs, 0)],
        ['updates Slack refused', String(g.refusedUpdates)],
        ['final reply arrived', g.finalArrived ? 'yes' : 'NO'],
        ['last stack event → final reply, ms', ms(g.finalDelayMs, 0)],
      ]),
    );
    out.push(`   final reply: ${g.finalText.slice(0, 100)}`, '');
  }

  const c = results.cancel;
  if (c) {
    const s = stats(c.map((x) => x.clickToCancelMs));
    const slack = [...new Set(c.map((x) => x.slackCallsBefore.join(', ') || 'none'))];
    out.push(`4. Cancel an update in flight (/rollback on UPDATE_IN_PROGRESS, one approval), ${c.length} runs`);
    out.push(
      table([
        ['', 'value'],
        ['CloudFormation calls between click and CancelUpdateStack', c.map((x) => x.cfnCallsBefore).join(', ')],
        ['STS calls in that interval', c.map((x) => x.stsCallsBefore).join(', ')],
        ['click → CancelUpdateStack, p50 / max ms', `${ms(s.p50)} / ${ms(s.max)}`],
        ['rolled back', `${c.filter((x) => x.rolledBack).length}/${c.length}`],
      ]),
    );
    for (const x of new Set(c.flatMap((x) => x.cfnActionsBefore))) out.push(`   ⚠ called before the cancel: ${x}`);
    out.push(`   Slack calls the bot made before the cancel: ${slack.join(' | ')}`);
    const rl = results.cancelRateLimited;
    if (rl) {
      out.push(
        `   with the next chat.update answered 429 (Retry-After 1 s): click → CancelUpdateStack ${ms(rl.clickToCancelMs)} ms, ` +
          `${rl.cfnCallsBefore} CloudFormation calls before it; Slack calls before it: ${rl.slackCallsBefore.join(', ') || 'none'}`,
      );
    }
    out.push('');
  }

  for (const f of results.failures) out.push(`FAILED ${f}`);
  out.push(`total ${(wallMs / 1000).toFixed(1)} s`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const budget = new Budget(TOTAL_BUDGET_MS);
  const results: Results = { acks: {}, failures: [] };
  const prefixes: string[] = [];
  let redis: BenchRedis | undefined;
  const aws = { changeSetStepMs: CHANGE_SET_STEP_MS };
  try {
    redis = await startRedis();
    const r = redis;
    onCleanup('Redis', () => r.stop(prefixes));
  } catch (err) {
    results.failures.push(`starting Redis: ${(err as Error).message}`);
  }
  const redisUrl = redis?.url;

  if (redisUrl) {
    await section(results, `1. ack latency, Redis store (${ACK_N}× each)`, async () => {
      const s = await scenario({ redisUrl, aws }, prefixes);
      results.acks.redis = await measureAcks(s, budget, ACK_N);
      await s.close();
    });
  }
  await section(results, `1. ack latency, in-memory store (${ACK_N}× each)`, async () => {
    const s = await scenario({ aws }, prefixes);
    results.acks.memory = await measureAcks(s, budget, ACK_N);
    await s.close();
  });
  if (redisUrl) {
    await section(
      results,
      `2. change set ready → summary (${PLAN_N} promotions, ${ROLLBACK_N} rollbacks)`,
      async () => {
        const s = await scenario({ redisUrl, aws, config: productionConfig() }, prefixes);
        results.promote = await measurePlanning(s, budget, 'promote', PLAN_N);
        await promoteAndExecute(s, budget);
        results.rollback = await measurePlanning(s, budget, 'rollback', ROLLBACK_N);
        await s.close();
      },
    );
    await section(results, '3. progress updates of a 60-resource execution', async () => {
      const s = await scenario({ redisUrl, aws, config: productionConfig(), stacks: false }, prefixes);
      seedManyResources(s);
      results.progress = await measureProgress(s, budget, PROGRESS_EVENT_MS);
      await s.close();
    });
    await section(results, `4. cancel-update path (${CANCEL_N}×)`, async () => {
      const s = await scenario({ redisUrl, aws, config: productionConfig() }, prefixes);
      results.cancel = await measureCancel(s, budget, CANCEL_N);
      results.cancelRateLimited = await measureCancelOnce(s, budget, { slackRateLimited: true });
      await s.close();
    });
  }
  await cleanupAll();
  console.log(report(results, machineFacts(redis), Date.now() - startedAt));
  return results.failures.length ? 1 : 0;
}

// Ctrl-C, a kill, or the budget plus a grace period running out: stop every process started, then leave.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping`);
    void cleanupAll().finally(() => process.exit(130));
  });
}
const hardStop = setTimeout(() => {
  console.error(`bench: still running after ${(TOTAL_BUDGET_MS + 15_000) / 1000} s, stopping`);
  void cleanupAll().finally(() => process.exit(2));
}, TOTAL_BUDGET_MS + 15_000);

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch(async (err) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    clearTimeout(hardStop);
    // Keep-alive sockets of fetch would otherwise hold the process open for a while.
    process.exit(process.exitCode ?? 0);
  });
