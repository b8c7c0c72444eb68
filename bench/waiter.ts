// The naive way, for the "plan visible" row: the same flow (create the change set, wait until it is ready,
// read its changes, classify them, post a summary) built on the SDK's waitUntilChangeSetCreateComplete with its
// defaults (minDelay 30 s, maxDelay 120 s: @aws-sdk/client-cloudformation waitForChangeSetCreateComplete.ts).
// Runs in this process against the same fake AWS and fake Slack as the bot, on stacks of its own.
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  waitUntilChangeSetCreateComplete,
} from '@aws-sdk/client-cloudformation';
import { WebClient } from '@slack/web-api';
import { describeAllChanges } from '../src/aws/cloudformation.js';
import { buildPlan } from '../src/domain/classify.js';
import { DEV_TEMPLATE, PROD_ACCOUNT, PROD_TEMPLATE, type Scenario } from '../test/support/scenario.js';

export interface WaiterSample {
  /** change set CREATE_COMPLETE → summary posted */
  readyToSummaryMs: number;
  /** CreateChangeSet sent → summary posted */
  totalMs: number;
}

/** One run of the naive flow on stack `waiter-<i>`. */
async function waiterOnce(s: Scenario, i: number): Promise<WaiterSample> {
  const stackName = `waiter-${i}`;
  s.aws.putStack({ name: stackName, account: PROD_ACCOUNT, template: PROD_TEMPLATE, parameters: { Env: 'prod' } });
  // An access key of the prod account, as a session of the bot's role there would have (test/fakes/aws.ts).
  const cfn = new CloudFormationClient({
    endpoint: s.aws.url,
    region: 'us-east-1',
    credentials: { accessKeyId: `ASIA${PROD_ACCOUNT}WAITER`, secretAccessKey: 'test' },
  });
  const slack = new WebClient(s.slack.token, { slackApiUrl: s.slack.url });
  const sent = Date.now();
  const name = `waiter-${i}-${sent}`;
  const created = await cfn.send(
    new CreateChangeSetCommand({
      StackName: stackName,
      ChangeSetName: name,
      ChangeSetType: 'UPDATE',
      TemplateBody: DEV_TEMPLATE,
      Capabilities: ['CAPABILITY_IAM'],
      Parameters: [
        { ParameterKey: 'Env', ParameterValue: 'prod' },
        { ParameterKey: 'MemorySize', ParameterValue: '1024' },
      ],
    }),
  );
  await waitUntilChangeSetCreateComplete({ client: cfn, maxWaitTime: 600 }, { ChangeSetName: created.Id! });
  const plan = buildPlan(await describeAllChanges(cfn, created.Id!));
  const posted = await slack.chat.postMessage({
    channel: 'C0WAITER',
    text: `${stackName}: ${plan.changes.length} changes`,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${stackName}*: ${plan.changes.length} changes` } }],
  });
  const postedAt = s.slack.messages.find((m) => m.ts === posted.ts)!.history[0]!.at;
  const settledAt = s.aws.stack(stackName, undefined, PROD_ACCOUNT)!.changeSets.find((c) => c.name === name)!
    .settledAt!;
  cfn.destroy();
  return { readyToSummaryMs: postedAt - settledAt, totalMs: postedAt - sent };
}

/** `n` runs side by side (each waits ~30 s, so in parallel the row costs one wait). */
export function measureWaiter(s: Scenario, n: number): Promise<WaiterSample[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => waiterOnce(s, i)));
}
