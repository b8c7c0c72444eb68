// 3. Progress updates during a long execution: 60 resources, half of them replaced, so a few hundred stack
// events arrive over ~20 s. The bot runs with its production progressEvery (2 s); only its polling is short.
import { ACTION } from '../src/slack/ids.js';
import { DEV_ACCOUNT, PROD_ACCOUNT, promotionIdOf, type Scenario, summaries } from '../test/support/scenario.js';
import { type Budget, maxInWindow, minGap, until } from './support.js';

/** 60 resources: queues 0–29 and log groups 30–59; `version` renames the queues and changes the retention. */
export function manyResources(version: number): string {
  const resources: Record<string, object> = {};
  for (let i = 0; i < 30; i++) {
    // QueueName forces a replacement: create new, then delete the old one in the cleanup phase (4 events).
    resources[`Queue${i}`] = { Type: 'AWS::SQS::Queue', Properties: { QueueName: `jobs-${i}-v${version}` } };
  }
  for (let i = 30; i < 60; i++) {
    resources[`Logs${i}`] = { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: version === 1 ? 7 : 14 } };
  }
  return JSON.stringify({ Resources: resources });
}

export interface ProgressResult {
  resources: number;
  events: number;
  executionMs: number;
  /** chat.update calls that changed the progress message, the final one included */
  updates: number;
  updatesPerMinute: number;
  /** the most updates in any 2-second window, with and without the final (unthrottled) one */
  maxIn2s: number;
  maxIn2sBeforeFinal: number;
  minGapMs: number;
  minGapBeforeFinalMs: number;
  /** chat.update calls on the progress message Slack refused (e.g. rate limited) */
  refusedUpdates: number;
  finalArrived: boolean;
  finalText: string;
  /** last stack event → final reply posted */
  finalDelayMs: number;
}

export function seedManyResources(s: Scenario): void {
  s.aws.putStack({ name: 'api-dev', account: DEV_ACCOUNT, template: manyResources(2) });
  s.aws.putStack({ name: 'api-prod', account: PROD_ACCOUNT, template: manyResources(1) });
}

export async function measureProgress(s: Scenario, budget: Budget, eventIntervalMs: number): Promise<ProgressResult> {
  s.aws.scriptExecution('api-prod', { eventIntervalMs });
  await s.promote('api dev→prod');
  const summary = await until(budget, 'the 60-resource summary', () =>
    summaries(s.slack).find((m) => promotionIdOf(m.blocks)),
  );
  const id = promotionIdOf(summary.blocks)!;
  await s.click(ACTION.approve, id, 'U0ALICE', summary.ts);
  await s.click(ACTION.approve, id, 'U0BOB', summary.ts);
  // A missing final reply is a result to report (finalArrived: false), not a reason to lose the rest.
  const final = await until(
    budget,
    'the final reply of the 60-resource execution',
    () => s.slack.thread(summary.ts).find((m) => m.reply_broadcast),
    90_000,
    20,
  ).catch(() => undefined);
  const execute = s.aws.callsOf('ExecuteChangeSet')[0];
  if (!execute) throw new Error('the final reply arrived without an ExecuteChangeSet call');
  const progress = s.slack
    .thread(summary.ts)
    .find((m) => m.history[0]!.at >= execute.at && /^(Executing|Rolling back)…/.test(m.history[0]!.text ?? ''));
  if (!progress) throw new Error('no progress message was posted in the thread');
  const updateCalls = s.slack.calls.filter((c) => c.method === 'chat.update' && c.args.ts === progress.ts);
  const times = progress.history.slice(1).map((v) => v.at);
  const token = execute.params.ClientRequestToken;
  const events = (s.aws.stack('api-prod', undefined, PROD_ACCOUNT)?.events ?? []).filter(
    (e) => e.ClientRequestToken === token,
  );
  const lastEventAt = Math.max(...events.map((e) => e.Timestamp?.getTime() ?? 0));
  const executionMs = lastEventAt - execute.at;
  return {
    resources: 60,
    events: events.length,
    executionMs,
    updates: times.length,
    updatesPerMinute: times.length / (executionMs / 60_000),
    maxIn2s: maxInWindow(times, 2_000),
    maxIn2sBeforeFinal: maxInWindow(times.slice(0, -1), 2_000),
    minGapMs: minGap(times),
    minGapBeforeFinalMs: minGap(times.slice(0, -1)),
    refusedUpdates: updateCalls.filter((c) => !c.ok).length,
    finalArrived: final !== undefined,
    finalText: final?.text ?? '',
    finalDelayMs: final ? final.history[0]!.at - lastEventAt : Number.NaN,
  };
}
