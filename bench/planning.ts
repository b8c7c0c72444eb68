// 2. From the change set reaching CREATE_COMPLETE to the summary arriving in the channel, for /promote and
// /rollback. The fake AWS stamps when a change set settles (settledAt); the fake Slack stamps when each
// message arrived (history[0].at). Both run in this process, so the clocks are the same clock.
import { ACTION } from '../src/slack/ids.js';
import type { FakeMessage } from '../test/fakes/slack.js';
import { allText, PROD_ACCOUNT, promotionIdOf, REQUESTER, type Scenario, summaries } from '../test/support/scenario.js';
import { type Budget, until } from './support.js';

export interface PlanSample {
  /** HTTP ack of the command */
  ackMs: number;
  /** command sent → summary posted */
  totalMs: number;
  /** change set CREATE_COMPLETE → summary posted */
  readyToSummaryMs: number;
  /** change set CREATE_COMPLETE → the bot's first DescribeChangeSet that could see it (its polling backoff) */
  pollLagMs: number;
  /** that DescribeChangeSet → summary posted (reading the pages, classifying, storing, posting) */
  afterPollMs: number;
}

type Kind = 'promote' | 'rollback';

const isRollbackSummary = (m: FakeMessage) => allText(m.history[0]?.blocks).includes('ROLLBACK');

/** Plans once, measures, then cancels (as the requester) and waits until the lock is free again. */
async function planOnce(s: Scenario, budget: Budget, kind: Kind): Promise<PlanSample> {
  const before = summaries(s.slack).length;
  const createsBefore = s.aws.callsOf('CreateChangeSet').length;
  const sentAt = Date.now();
  const ack = kind === 'promote' ? await s.promote('api dev→prod') : await s.rollback('api prod');
  if (ack.status !== 200) throw new Error(`/${kind} answered HTTP ${ack.status}: ${ack.body}`);
  const summary = await until(budget, `the ${kind} summary`, () =>
    summaries(s.slack)
      .slice(before)
      .find((m) => promotionIdOf(m.blocks) && isRollbackSummary(m) === (kind === 'rollback')),
  );
  const postedAt = summary.history[0]!.at;
  // Other flows may create change sets meanwhile (the SDK waiter's, on stacks of their own).
  const create = s.aws
    .callsOf('CreateChangeSet')
    .slice(createsBefore)
    .find((c) => c.params.StackName === 'api-prod');
  if (!create) throw new Error(`/${kind}: the summary was posted without a CreateChangeSet call`);
  const changeSet = s.aws
    .stack('api-prod', undefined, PROD_ACCOUNT)
    ?.changeSets.find((c) => c.name === create.params.ChangeSetName);
  if (changeSet?.settledAt === undefined)
    throw new Error(`/${kind}: change set ${create.params.ChangeSetName} not found`);
  const settledAt = changeSet.settledAt;
  const firstPoll = s.aws
    .callsOf('DescribeChangeSet')
    .find(
      (c) =>
        c.at >= settledAt && (c.params.ChangeSetName === changeSet.arn || c.params.ChangeSetName === changeSet.name),
    );
  const sample: PlanSample = {
    ackMs: ack.elapsedMs,
    totalMs: postedAt - sentAt,
    readyToSummaryMs: postedAt - settledAt,
    pollLagMs: firstPoll ? firstPoll.at - settledAt : Number.NaN,
    afterPollMs: firstPoll ? postedAt - firstPoll.at : Number.NaN,
  };

  const id = promotionIdOf(summary.blocks)!;
  await s.click(ACTION.cancel, id, REQUESTER, summary.ts);
  // The summary is re-rendered after the lock is released (review.ts closePending), so this means "free".
  await until(budget, `the ${kind} to be cancelled`, () =>
    /Cancelled/i.test(allText(s.slack.messages.find((m) => m.ts === summary.ts)?.blocks)),
  );
  return sample;
}

export async function measurePlanning(s: Scenario, budget: Budget, kind: Kind, n: number): Promise<PlanSample[]> {
  const out: PlanSample[] = [];
  for (let i = 0; i < n; i++) out.push(await planOnce(s, budget, kind));
  return out;
}

/** Promotes dev → prod and executes it (two approvals), so prod has a release /rollback can go back from. */
export async function promoteAndExecute(s: Scenario, budget: Budget): Promise<void> {
  const before = summaries(s.slack).length;
  await s.promote('api dev→prod');
  const summary = await until(budget, 'the summary to execute', () =>
    summaries(s.slack)
      .slice(before)
      .find((m) => promotionIdOf(m.blocks)),
  );
  const id = promotionIdOf(summary.blocks)!;
  await s.click(ACTION.approve, id, 'U0ALICE', summary.ts);
  await s.click(ACTION.approve, id, 'U0BOB', summary.ts);
  const final = await until(
    budget,
    'the promotion to finish',
    () => s.slack.thread(summary.ts).find((m) => m.reply_broadcast),
    60_000,
    20,
  );
  if (!/Promoted/i.test(final.text ?? '')) throw new Error(`the promotion did not succeed: ${final.text}`);
}
