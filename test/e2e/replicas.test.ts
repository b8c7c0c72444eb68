// Two replicas on one Redis: clicks land on either, a promotion still moves once and executes once,
// and one replica follows the execution.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { SIGNING_SECRET } from '../support/bot.js';
import { CHANNEL, promotionIdOf, type Scenario, stackUpdates, startScenario, summaries } from '../support/scenario.js';
import { sendBlockAction } from '../support/slack-driver.js';

describe('two replicas', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('concurrent approvals spread over both replicas execute exactly once, followed by one replica', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const second = await s.replica();
    await s.promote('api dev→prod');
    const summary = await s.slack.waitFor(() => summaries(s!.slack).find((m) => promotionIdOf(m.blocks)), 15_000);
    const id = promotionIdOf(summary.blocks)!;
    const reviewers = ['U0ALICE', 'U0BOB', 'U0LEAD1', 'U0LEAD2'];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sendBlockAction({
          url: i % 2 ? second.url : s!.bot.url,
          secret: SIGNING_SECRET,
          userId: reviewers[i % 4]!,
          actionId: ACTION.approve,
          value: id,
          channelId: CHANNEL,
          messageTs: summary.ts,
          responseUrl: s!.slack.responseUrl(`click:${i}`),
        }),
      ),
    );
    await s.finalReply(summary.ts);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    expect(s.slack.thread(summary.ts).filter((m) => m.reply_broadcast)).toHaveLength(1);
    const progress = s.slack.thread(summary.ts).filter((m) => /resources/.test(m.history[0]?.text ?? ''));
    expect(progress).toHaveLength(1);
  });

  it('when the replica following an execution dies, the other one reports the result', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), aws: { eventIntervalMs: 150 } });
    const second = await s.replica();
    await s.promote('api dev→prod');
    const summary = await s.slack.waitFor(() => summaries(s!.slack).find((m) => promotionIdOf(m.blocks)), 15_000);
    const id = promotionIdOf(summary.blocks)!;
    // Both approvals land on the first replica, which starts the execution and follows it.
    await s.click(ACTION.approve, id, 'U0ALICE', summary.ts);
    await s.click(ACTION.approve, id, 'U0BOB', summary.ts);
    await s.slack.waitFor(() => (s!.aws.callsOf('ExecuteChangeSet').length ? true : undefined), 15_000);
    await s.bot.kill('SIGKILL');
    const final = await s.slack.waitFor(() => s!.slack.thread(summary.ts).find((m) => m.reply_broadcast), 30_000);
    expect(final.text).toMatch(/Promoted api to prod/);
    // The surviving replica took over the lease and recorded the end.
    expect(second.output()).toContain('"action":"executing->succeeded"');
    // A replica that died between ExecuteChangeSet and recording it makes the survivor call it again with
    // the same ClientRequestToken: CloudFormation refuses the repeat, so the stack is updated once.
    expect(stackUpdates(s)).toBe(1);
  });
});
