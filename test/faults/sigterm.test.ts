// SIGTERM (a deploy, a scale-down): the bot exits 0, and what it was doing is finished by the restarted bot
// or by another replica.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import type { BotProcess } from '../support/bot.js';
import { type Scenario, startScenario, summaries } from '../support/scenario.js';
import { expectPlanningResolved, expectRan, mark, replyMatching } from './harness.js';

/** Issue 7 §11: in-flight steps get up to 20 s; the process must be gone a little after. */
const SHUTDOWN_MS = 25_000;

async function terminate(bot: BotProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => bot.proc.once('exit', (code) => resolve(code)));
  bot.proc.kill('SIGTERM');
  const timer = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), SHUTDOWN_MS));
  const code = await Promise.race([exited, timer]);
  if (code === 'hung') {
    bot.proc.kill('SIGKILL');
    throw new Error(`the bot did not exit within ${SHUTDOWN_MS} ms of SIGTERM:\n${bot.output().slice(-3000)}`);
  }
  return code;
}

describe('SIGTERM', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('during planning: exits 0, and the plan is either finished or cleaned up and told', async () => {
    // A slow change set: SIGTERM arrives while CloudFormation is still creating it.
    s = await startScenario({ redisUrl: inject('redisUrl'), aws: { changeSetStepMs: 1_500 } });
    const before = summaries(s.slack).length;
    await s.promote('api dev→prod');
    await s.slack.waitFor(() => s!.aws.callsOf('CreateChangeSet').length > 0, 15_000);
    expect(await terminate(s.bot)).toBe(0);
    await s.restart('SIGKILL');
    await expectPlanningResolved(s, 'promote', ['U0ALICE', 'U0BOB'], before);
  });

  it('during execution: exits 0, and another replica finishes and reports once', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), aws: { eventIntervalMs: 150 } });
    const replica = await s.replica();
    const { id, ts } = await s.plan();
    const from = mark(s);
    await s.click(ACTION.approve, id, 'U0ALICE', ts);
    await replyMatching(s, /1 more approval needed/, from);
    const approvedAt = Date.now();
    await s.click(ACTION.approve, id, 'U0BOB', ts);
    await s.slack.waitFor(() => s!.aws.callsOf('ExecuteChangeSet').length > 0, 15_000);
    expect(await terminate(s.bot)).toBe(0);
    // From now on Slack reaches the remaining replica.
    s.bot = replica;
    await expectRan(s, 'promote', ts, approvedAt);
  });
});
