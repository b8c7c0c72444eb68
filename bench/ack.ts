// 1. Ack latency as the user feels it: from sending the signed request to Bolt's HTTP response.
// Requests go one at a time, and each waits for its background reply (if it has one) before the next is
// sent, so every sample is "a user in a quiet workspace", not a queue the bench built up itself.
import { ACTION } from '../src/slack/ids.js';
import { promotionIdOf, type Scenario, summaries } from '../test/support/scenario.js';
import { type Budget, until } from './support.js';

export interface AckSamples {
  /** /promote refused after its ack because the first promotion holds the stack lock */
  promoteLocked: number[];
  help: number[];
  /** Approve clicked by a non-reviewer: acked, then refused with an ephemeral reply */
  clickRefused: number[];
  /** requests whose HTTP status or follow-up reply was not the expected one */
  unexpected: string[];
}

/** Sends the request, checks the ack, and waits until `replyRe` arrives on a response_url (when given). */
async function timed(
  s: Scenario,
  budget: Budget,
  what: string,
  send: () => Promise<{ status: number; elapsedMs: number }>,
  replyRe: RegExp | undefined,
  unexpected: string[],
): Promise<number> {
  const before = s.slack.responses.length;
  const r = await send();
  if (r.status !== 200) unexpected.push(`${what}: HTTP ${r.status}`);
  if (replyRe) {
    const reply = await until(budget, `the reply to ${what}`, () => s.slack.responses[before], 10_000);
    const text = String(reply.body?.text ?? '');
    if (!replyRe.test(text)) unexpected.push(`${what}: replied "${text.slice(0, 120)}"`);
  }
  return r.elapsedMs;
}

export async function measureAcks(s: Scenario, budget: Budget, n: number): Promise<AckSamples> {
  // The first promotion plans and then waits for approval, holding api-prod's lock: every later /promote
  // takes the refusal path (describe stack, lock taken → reply), which still acks before any of it.
  await s.promote('api dev→prod');
  const summary = await until(
    budget,
    'the first summary',
    () => summaries(s.slack).find((m) => promotionIdOf(m.blocks)),
    20_000,
  );
  const id = promotionIdOf(summary.blocks)!;
  const out: AckSamples = { promoteLocked: [], help: [], clickRefused: [], unexpected: [] };
  // Interleaved, so the three kinds see the same process state (GC, warm caches, Redis connection).
  for (let i = 0; i < n; i++) {
    out.promoteLocked.push(
      await timed(s, budget, '/promote api dev→prod', () => s.promote('api dev→prod'), /is locked/, out.unexpected),
    );
    out.help.push(await timed(s, budget, '/promote help', () => s.promote('help'), undefined, out.unexpected));
    out.clickRefused.push(
      await timed(
        s,
        budget,
        'approve by a non-reviewer',
        () => s.click(ACTION.approve, id, 'U0MALLORY', summary.ts),
        /not a reviewer/,
        out.unexpected,
      ),
    );
  }
  return out;
}
