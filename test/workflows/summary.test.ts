// Defect 10 of issue 7: a summary update delayed by a 429 on one replica never shows an older state than the
// one another replica already showed: it is rendered from the stored state just before it is sent.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { refreshSummary } from '../../src/workflows/summary-message.js';
import { ALICE, CHANNEL, startWorld, type World } from './harness.js';

let w: World;
beforeEach(async () => {
  w = await startWorld();
});
afterEach(async () => {
  await w.close();
});

const hasButtons = (blocks: unknown[] | undefined) =>
  (blocks ?? []).some((b) => (b as { type: string }).type === 'actions');

it("a replica's rate-limited summary update does not bring back the buttons after another replica's cancel", async () => {
  const a = w.replica();
  const b = w.replica();
  const { p } = await w.promote(a);
  const summary = w.slack.messages.find((m) => m.ts === p!.messageTs)!;
  expect(hasButtons(summary.history.at(-1)!.blocks)).toBe(true);

  // Replica a refreshes the awaiting-approval summary; Slack answers 429 (Retry-After 1 s).
  w.slack.rateLimit('chat.update', 1, 1, { channel: CHANNEL });
  const late = refreshSummary(a.deps, p!);
  await w.waitFor(() => w.slack.calls.some((c) => c.method === 'chat.update' && c.status === 429));

  // Meanwhile replica b cancels it, which updates the summary.
  await w.cancel(b, p!.id);
  await w.settled(p!.id);
  const cancelledAt = summary.history.findIndex((v) => !hasButtons(v.blocks));
  expect(cancelledAt).toBeGreaterThan(0);

  await late;
  expect(summary.history.slice(cancelledAt).every((v) => !hasButtons(v.blocks))).toBe(true);
  expect(summary.history.at(-1)!.text).toBe(summary.history[cancelledAt]!.text);
});

it('answers an approval that leaves more needed at once, while the summary waits for Slack to take its update', async () => {
  await w.close();
  w = await startWorld({ required: 2 });
  const r = w.replica();
  const { p } = await w.promote(r);
  const summary = w.slack.messages.find((m) => m.ts === p!.messageTs)!;
  const shown = summary.history.length;
  // The summary's next update gets no answer: the client gives up on it (after 2 s here) and tries again.
  w.slack.hang('chat.update', 1, { channel: CHANNEL });
  const replies = await w.approve(r, p!.id, ALICE);
  expect(replies.join('\n')).toMatch(/Approved\. 1 more approval needed/);
  // The approver heard before the summary changed (with many deployments at once its update queues for the
  // workspace's chat.update budget, up to about a minute).
  expect(summary.history).toHaveLength(shown);
  // The summary shows the approval once Slack takes the update.
  await w.waitFor(() => summary.history.length > shown);
  expect(JSON.stringify(summary.history.at(-1)!.blocks)).toContain(ALICE);
  expect(hasButtons(summary.history.at(-1)!.blocks)).toBe(true); // one more approval is still needed
});
