// 4. Cancelling an update in flight during an incident: /rollback on a stack in UPDATE_IN_PROGRESS, one
// approval, and CancelUpdateStack should be the first CloudFormation call after the click.
import { ACTION } from '../src/slack/ids.js';
import { allText, PROD_ACCOUNT, promotionIdOf, type Scenario, summaries } from '../test/support/scenario.js';
import { type Budget, until } from './support.js';

export interface CancelSample {
  /** CloudFormation calls between the click and CancelUpdateStack */
  cfnCallsBefore: number;
  /** their names, in order (empty when CancelUpdateStack came first) */
  cfnActionsBefore: string[];
  /** STS calls (AssumeRole) in the same interval */
  stsCallsBefore: number;
  /** Slack Web API calls the bot made in the same interval (e.g. re-rendering the summary) */
  slackCallsBefore: string[];
  /** click sent → CancelUpdateStack received by the fake */
  clickToCancelMs: number;
  /** the final reply said "Rolled back" */
  rolledBack: boolean;
}

/**
 * `slackRateLimited`: the bot's next chat.update gets a 429 with Retry-After 1 s, as when the channel is busy
 * during an incident — shows whether Slack calls stand between the click and the cancel.
 */
export async function measureCancelOnce(
  s: Scenario,
  budget: Budget,
  o: { slackRateLimited?: boolean } = {},
): Promise<CancelSample> {
  s.aws.startOutsideUpdate('api-prod', { durationMs: Number.POSITIVE_INFINITY });
  const before = summaries(s.slack).length;
  await s.rollback('api prod');
  const summary = await until(budget, 'the cancel-update summary', () =>
    summaries(s.slack)
      .slice(before)
      .find((m) => promotionIdOf(m.blocks) && /Cancel update/.test(allText(m.blocks))),
  );
  const cancelsBefore = s.aws.callsOf('CancelUpdateStack').length;
  const awsIndex = s.aws.calls.length;
  const slackIndex = s.slack.calls.length;
  if (o.slackRateLimited) s.slack.rateLimit('chat.update', 1, 1);
  const clickedAt = Date.now();
  await s.click(ACTION.approve, promotionIdOf(summary.blocks)!, 'U0ALICE', summary.ts);
  const cancel = await until(budget, 'CancelUpdateStack', () => s.aws.callsOf('CancelUpdateStack')[cancelsBefore]);
  const between = s.aws.calls.slice(awsIndex, s.aws.calls.indexOf(cancel));
  const cfn = between.filter((c) => c.service === 'cloudformation');
  const final = await until(
    budget,
    'the cancelled update to roll back',
    () => s.slack.thread(summary.ts).find((m) => m.reply_broadcast),
    30_000,
    20,
  );
  // The next iteration needs a settled stack to start another outside update on.
  await until(budget, 'api-prod to settle', () =>
    /_COMPLETE$/.test(s.aws.stack('api-prod', undefined, PROD_ACCOUNT)?.status ?? ''),
  );
  return {
    cfnCallsBefore: cfn.length,
    cfnActionsBefore: cfn.map((c) => c.action),
    stsCallsBefore: between.filter((c) => c.service === 'sts').length,
    slackCallsBefore: s.slack.calls
      .slice(slackIndex)
      .filter((c) => c.at <= cancel.at)
      .map((c) => c.method),
    clickToCancelMs: cancel.at - clickedAt,
    rolledBack: /Rolled back/i.test(final.text ?? ''),
  };
}

export async function measureCancel(s: Scenario, budget: Budget, n: number): Promise<CancelSample[]> {
  const out: CancelSample[] = [];
  for (let i = 0; i < n; i++) out.push(await measureCancelOnce(s, budget));
  return out;
}
