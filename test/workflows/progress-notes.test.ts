// Progress notes: while an execution's progress message cannot be updated (every deployment shares Slack's
// chat.update budget, so with many at once its updates wait; here every chat.update fails, as when someone
// deleted the message), short notes in the thread show where the execution is, under the channel's
// chat.postMessage budget.
import { afterEach, expect, it } from 'vitest';
import { realSleep } from '../../src/aws/cloudformation.js';
import { isTerminal } from '../../src/domain/promotion.js';
import { PROGRESS_NOTE_BLOCK_ID } from '../../src/slack/views/progress.js';
import type { FakeMessage } from '../fakes/slack.js';
import { startWorld, type World } from './harness.js';

let w: World;
afterEach(async () => {
  await w.close();
});

const isNote = (m: FakeMessage) =>
  (m.blocks ?? []).some((b) => (b as { block_id?: string }).block_id === PROGRESS_NOTE_BLOCK_ID);
const isProgress = (m: FakeMessage) => /^(Executing|Rolling back)…/.test(m.history[0]?.text ?? '');

// Events 40 ms apart: the execution takes a few hundred milliseconds, many polls of the follower.
const timing = { progressEveryMs: 20, progressNoteAfterMs: 120 };

it('posts notes while the progress message cannot be updated, each showing where the execution is', async () => {
  w = await startWorld({ eventIntervalMs: 40 });
  const r = w.replica({ timing });
  // Every chat.update of the run fails: the progress message stays as posted.
  for (let i = 0; i < 1_000; i++) w.slack.failNext('chat.update', 'message_not_found');
  const { p } = await w.promote(r);
  await w.approve(r, p!.id);
  // Once it has ended, Slack takes updates again: the summary's last update (an end effect, redone until done)
  // goes through.
  while (!isTerminal((await w.store.getPromotion(p!.id))!.state)) await realSleep(20);
  w.slack.heal('chat.update');
  await w.sweep(r);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  const thread = w.slack.thread(done.messageTs!);
  const progress = thread.find(isProgress)!;
  const notes = thread.filter(isNote);
  expect(notes.length).toBeGreaterThanOrEqual(1);
  for (const n of notes) {
    expect(n.text).toMatch(/^⏳ Executing… \d+\/\d+ resources · /);
    expect(n.reply_broadcast).toBeFalsy();
  }
  // Notes come after the progress message and before the final reply, at least progressNoteAfter apart.
  const at = (m: FakeMessage) => m.history[0]!.at;
  const final = w.finalReplies(done.messageTs!)[0]!;
  const times = notes.map(at);
  expect(Math.min(...times)).toBeGreaterThanOrEqual(at(progress));
  expect(Math.max(...times)).toBeLessThanOrEqual(at(final));
  for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100);
  // The progress message was not updated while the notes ran (only its last state may land once Slack heals).
  for (const v of progress.history.slice(1)) expect(v.at).toBeGreaterThan(Math.max(...times));
  // The resources done only go up from note to note.
  const dones = notes.map((n) => Number(/(\d+)\/\d+ resources/.exec(n.text ?? '')![1]));
  expect([...dones].sort((a, b) => a - b)).toEqual(dones);
});

it('posts none when the progress message is updated', async () => {
  w = await startWorld({ eventIntervalMs: 40 });
  const r = w.replica({ timing });
  const { p } = await w.promote(r);
  await w.approve(r, p!.id);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  const thread = w.slack.thread(done.messageTs!);
  expect(thread.find(isProgress)!.history.length).toBeGreaterThan(2);
  expect(thread.filter(isNote)).toEqual([]);
});

// (A quick start says nothing: the test above has no note of any kind.)
it('says once in the thread that a start is slow to get going', async () => {
  // The checks before ExecuteChangeSet take 3 × 250 ms (DescribeStacks, DescribeChangeSet, GetTemplate); notes
  // are due 200 ms after the approval.
  let slow = false;
  w = await startWorld({ awsLatencyMs: (action) => (slow && action !== 'ExecuteChangeSet' ? 250 : 0) });
  const r = w.replica({ timing: { progressNoteAfterMs: 200 } });
  const starting = (ts: string) =>
    w.slack.thread(ts).filter((m) => isNote(m) && /^⏳ Starting… checking that nothing changed/.test(m.text ?? ''));

  const { p } = await w.promote(r);
  slow = true;
  await w.approve(r, p!.id);
  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  const notes = starting(done.messageTs!);
  expect(notes).toHaveLength(1);
  const execute = w.aws.callsOf('ExecuteChangeSet').at(-1)!;
  expect(notes[0]!.history[0]!.at).toBeLessThan(execute.at);
  expect(notes[0]!.history[0]!.at - Date.parse(done.approvedAt!)).toBeGreaterThanOrEqual(150);
});

it('leaves out a note that waited for the channel while the progress message caught up', async () => {
  // Long enough that the note's wait (Slack's Retry-After of a second) ends while the execution still runs.
  w = await startWorld({ eventIntervalMs: 150 });
  const r = w.replica({ timing });
  for (let i = 0; i < 1_000; i++) w.slack.failNext('chat.update', 'message_not_found');
  const { p } = await w.promote(r);
  const ts = p!.messageTs!;
  const channel = p!.channel;
  await w.approve(r, p!.id);
  // The progress message is posted; its updates fail, so a note becomes due and waits: the channel's next post
  // is answered 429 (Retry-After 1 s).
  while (!w.slack.thread(ts).some(isProgress)) await realSleep(5);
  w.slack.rateLimit('chat.postMessage', 1, 1, { channel });
  const limited = () => w.slack.calls.some((c) => c.method === 'chat.postMessage' && c.status === 429);
  while (!limited()) await realSleep(5);
  // Meanwhile Slack takes the progress message's updates again: it shows more than the note would.
  w.slack.heal('chat.update');
  const progress = w.slack.thread(ts).find(isProgress)!;
  while (progress.history.length < 2) await realSleep(5);
  const caughtUpAt = progress.history[1]!.at;

  const done = await w.settled(p!.id);
  expect(done.state).toBe('succeeded');
  expect(w.finalReplies(ts)).toHaveLength(1);
  // The note was tried (429), then had nothing to add when its turn came: no note in the thread.
  expect(w.slack.thread(ts).filter(isNote)).toEqual([]);
  expect(progress.history.length).toBeGreaterThan(2);
  expect(w.finalReplies(ts)[0]!.history[0]!.at - caughtUpAt).toBeGreaterThan(1_000);
});
