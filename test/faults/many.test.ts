// Two replicas on one Redis under fifty promotions at once (issue 7's fault suite): every promotion runs exactly
// once, is followed by one replica, and ends with one final reply; no lock is left behind.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { DEV_TEMPLATE, PROD_TEMPLATE, type Scenario, startScenario } from '../support/scenario.js';
import { sleep } from './harness.js';

const N = 50;
const names = Array.from({ length: N }, (_, i) => `svc${i}`);

const config = `
settings:
  sweepEvery: 200ms
  leaseTtl: 1500ms
  progressEvery: 500ms
  pollMin: 100ms
  pollMax: 400ms
services:
${names
  .map(
    (n) => `  ${n}:
    stages:
      dev: { stack: ${n}-dev }
      prod:
        stack: ${n}-prod
        approvals: { required: 1, reviewers: [U0ALICE] }`,
  )
  .join('\n')}
`;

describe('two replicas, fifty promotions', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  // Slack lets an app post about one message a second in a channel (platform-facts; the bot's budget keeps to
  // it): fifty summaries, progress replies and final replies in one channel take minutes, not seconds.
  it('each executes exactly once and ends with one final reply', { timeout: 420_000 }, async () => {
    s = await startScenario({
      redisUrl: inject('redisUrl'),
      config,
      stacks: false,
      aws: { changeSetStepMs: 40, eventIntervalMs: 40 },
    });
    for (const n of names) {
      s.aws.putStack({ name: `${n}-dev`, template: DEV_TEMPLATE, parameters: { Env: 'dev', MemorySize: '256' } });
      s.aws.putStack({ name: `${n}-prod`, template: PROD_TEMPLATE, parameters: { Env: 'prod', MemorySize: '1024' } });
    }
    const first = s.bot;
    const second = await s.replica();
    const planned: Array<{ id: string; ts: string }> = [];
    for (const [i, n] of names.entries()) {
      s.bot = i % 2 ? second : first; // requests spread over both replicas
      const { id, ts } = await s.plan(`${n} dev→prod`);
      planned.push({ id, ts });
    }
    // All approved at once, half the clicks on each replica.
    await Promise.all(
      planned.map(({ id, ts }, i) => {
        s!.bot = i % 2 ? first : second;
        return s!.click(ACTION.approve, id, 'U0ALICE', ts);
      }),
    );
    for (const { ts } of planned) await s.finalReply(ts, 240_000);
    await sleep(2_000); // room for a duplicate to show
    for (const [i, n] of names.entries()) {
      const finals = s.slack.thread(planned[i]!.ts).filter((m) => m.reply_broadcast === true);
      expect(finals, n).toHaveLength(1);
      expect(finals[0]!.text, n).toMatch(/Promoted/);
      expect(s.aws.stack(`${n}-prod`)?.status, n).toBe('UPDATE_COMPLETE');
    }
    const executes = s.aws.callsOf('ExecuteChangeSet').map((c) => c.params.ChangeSetName);
    expect(executes).toHaveLength(N);
    expect(new Set(executes).size).toBe(N);
    // No lock left: a second round plans at once ("already matches" means the lock was free and it looked).
    s.bot = first;
    await s.promote('svc7 dev→prod');
    await s.slack.waitFor(
      () => s!.slack.responses.some((r) => /already matches/.test(String(r.body?.text ?? ''))),
      15_000,
    );
  });
});
