// Big change sets: the summary of a plan of 10, 100, 1,000 and 2,500 changes, through the bot. The fake answers
// DescribeChangeSet in pages of 500 (2,500 changes = 5 pages). Measured: the first page asked → summary posted
// (reading every page, classifying, storing, rendering, posting) and the last page asked → summary posted (the
// bot's own work after the last page). The fake Slack validates the message as Slack does (Block Kit limits),
// so a posted summary is a valid one; the full list goes in the thread (a file when long).
import { ACTION } from '../src/slack/ids.js';
import { allText, promotionIdOf, REQUESTER, type Scenario, summaries } from '../test/support/scenario.js';
import { delayOf } from './load.js';
import { promoteAndExecute } from './planning.js';
import { type Budget, until } from './support.js';
import { scrapeMetric } from './world.js';

export interface BigSample {
  changes: number;
  pages: number;
  firstPageToSummaryMs: number;
  lastPageToSummaryMs: number;
  /** the fake's answer to the last page sent → summary posted: the bot's own work (reading the page included) */
  lastAnswerToSummaryMs: number;
  /** the summary message was accepted by the fake Slack (valid Block Kit) */
  valid: boolean;
  /** blocks in the summary; the full list was shared in its thread (as a message or a file) */
  blocks: number;
  listShared: boolean;
}

/** `n` changes of mixed kinds: replacements of data stores, IAM, and plain modifications. */
export function syntheticChanges(n: number): object[] {
  const kinds = [
    { ResourceType: 'AWS::DynamoDB::Table', Action: 'Modify', Replacement: 'True' },
    { ResourceType: 'AWS::IAM::Role', Action: 'Modify', Replacement: 'False' },
    { ResourceType: 'AWS::Lambda::Function', Action: 'Modify', Replacement: 'False' },
    { ResourceType: 'AWS::SQS::Queue', Action: 'Add' },
    { ResourceType: 'AWS::Logs::LogGroup', Action: 'Remove' },
  ];
  return Array.from({ length: n }, (_, i) => {
    const k = kinds[i % kinds.length]!;
    return {
      ...k,
      LogicalResourceId: `Resource${i}`,
      ...(k.Action !== 'Add' ? { PhysicalResourceId: `physical-${i}` } : {}),
      ...(k.Action === 'Modify'
        ? {
            Scope: ['Properties'],
            Details: [
              {
                Target: { Attribute: 'Properties', Name: 'Description', RequiresRecreation: 'Never' },
                Evaluation: 'Static',
                ChangeSource: 'DirectModification',
              },
            ],
          }
        : {}),
    };
  });
}

export async function measureBigOnce(s: Scenario, budget: Budget, n: number): Promise<BigSample> {
  s.aws.overrideNextChanges('api-prod', syntheticChanges(n));
  const before = summaries(s.slack).length;
  const pagesBefore = s.aws.callsOf('DescribeChangeSet').length;
  await s.promote('api dev→prod');
  const summary = await until(
    budget,
    `the summary of ${n} changes`,
    () =>
      summaries(s.slack)
        .slice(before)
        .find((m) => promotionIdOf(m.blocks)),
    30_000,
  );
  const postedAt = summary.history[0]!.at;
  const pages = s.aws
    .callsOf('DescribeChangeSet')
    .slice(pagesBefore)
    .filter((c) => c.params.IncludePropertyValues === 'true' && c.at <= postedAt);
  // The full list goes in the thread only when the summary could not show every change.
  const leftOut = allText(summary.blocks).includes('promotion_left_out');
  const listShared = leftOut
    ? await until(
        budget,
        'the full change list in the thread',
        () => s.slack.thread(summary.ts)[0] ?? s.slack.files.find((f) => f.thread_ts === summary.ts),
        10_000,
      )
        .then(() => true)
        .catch(() => false)
    : true;
  const id = promotionIdOf(summary.blocks)!;
  await s.click(ACTION.cancel, id, REQUESTER, summary.ts);
  await until(budget, 'the big plan to be cancelled', () =>
    /Cancelled/i.test(allText(s.slack.messages.find((m) => m.ts === summary.ts)?.blocks)),
  );
  return {
    changes: n,
    pages: pages.length,
    firstPageToSummaryMs: pages.length ? postedAt - pages[0]!.at : Number.NaN,
    lastPageToSummaryMs: pages.length ? postedAt - pages[pages.length - 1]!.at : Number.NaN,
    lastAnswerToSummaryMs: pages.at(-1)?.answeredAt ? postedAt - pages.at(-1)!.answeredAt! : Number.NaN,
    valid: true,
    blocks: summary.blocks?.length ?? 0,
    listShared,
  };
}

export async function measureBig(s: Scenario, budget: Budget, sizes: number[], repeat: number): Promise<BigSample[]> {
  const out: BigSample[] = [];
  for (const n of sizes) for (let i = 0; i < repeat; i++) out.push(await measureBigOnce(s, budget, n));
  return out;
}

export interface BigTemplateSample {
  /** characters of the source template (JSON with CR LF line ends) */
  templateChars: number;
  /** GetTemplate calls the promotion made, and the upload to the stage's templateBucket */
  getTemplateCalls: number;
  uploads: number;
  /** the bot's longest event-loop delay over the whole promotion (plan, two approvals, execution), less the 10 ms
   * sampling interval: prom-client's nodejs_eventloop_lag_max_seconds, reset by a scrape just before */
  longestStallMs: number;
  /** /promote sent → final reply */
  promotionMs: number;
}

/** A JSON template of at most `chars` characters (and as many bytes), every line ended CR LF, with characters XML
 * must escape. */
export function bigTemplate(chars: number): string {
  const resources: Record<string, unknown> = {};
  const text = () =>
    JSON.stringify({ Parameters: { Env: { Type: 'String' } }, Resources: resources }, null, 1).replace(/\n/g, '\r\n');
  let out = text();
  for (let i = 0; ; i += 100) {
    for (let j = i; j < i + 100; j++) {
      resources[`Queue${j}`] = {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: `orders-${j}`, Tags: [{ Key: 'note', Value: 'a<b & "c"' }] },
      };
    }
    const next = text();
    if (next.length > chars) return out;
    out = next;
  }
}

/**
 * A promotion of a 1 MB template, plan to final reply (through the stage's templateBucket; a plan of 10 additions,
 * so that only the template is big), with the bot's longest event-loop stall over it. Each GetTemplate answer
 * carries the whole template; the release record keeps it compressed.
 */
export async function measureBigTemplate(
  s: Scenario,
  budget: Budget,
  devAccount: string,
  chars = 999_000,
): Promise<BigTemplateSample> {
  const template = bigTemplate(chars);
  s.aws.putStack({ name: 'api-dev', account: devAccount, template, parameters: { Env: 'dev' } });
  s.aws.overrideNextChanges(
    'api-prod',
    Array.from({ length: 10 }, (_, i) => ({
      ResourceType: 'AWS::SQS::Queue',
      Action: 'Add',
      LogicalResourceId: `Q${i}`,
    })),
  );
  const getsBefore = s.aws.callsOf('GetTemplate').length;
  const putsBefore = s.aws.callsOf('PutObject').length;
  await scrapeMetric(s.bot.base, 'nodejs_eventloop_lag_max_seconds'); // resets the histogram
  const started = Date.now();
  await promoteAndExecute(s, budget);
  const promotionMs = Date.now() - started;
  const max = (await scrapeMetric(s.bot.base, 'nodejs_eventloop_lag_max_seconds')) * 1000;
  return {
    templateChars: template.length,
    getTemplateCalls: s.aws.callsOf('GetTemplate').length - getsBefore,
    uploads: s.aws.callsOf('PutObject').length - putsBefore,
    longestStallMs: delayOf({ p99Ms: max, maxMs: max }).maxMs,
    promotionMs,
  };
}
