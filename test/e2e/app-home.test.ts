// The App Home tab and reviewers' direct messages, end to end: the bot process, signed app_home_opened events and
// Home clicks (HTTP), the same over Socket Mode, views.publish and chat.postMessage answered by the fake Slack.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ACTION } from '../../src/slack/ids.js';
import { HOME_BLOCK_ID } from '../../src/slack/views/home.js';
import { allText, REQUESTER, type Scenario, startScenario } from '../support/scenario.js';

type Json = Record<string, unknown>;
const blocksOf = (view: Json) => (view.blocks ?? []) as Json[];
/** The operation IDs the Home tab lists as waiting for this person, from its Approve buttons. */
const waiting = (view: Json) =>
  blocksOf(view)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements as Json[]).filter((e) => e.action_id === ACTION.approve).map((e) => e.value));
const REVIEWERS = ['U0ALICE', 'U0BOB', 'U0LEAD1', 'U0LEAD2']; // configYaml: U0ALICE, U0BOB and group S0LEADS

describe('App Home', () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('shows a pending approval to its reviewers (a group member too), not to others nor to its requester', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id } = await s.plan();
    for (const reviewer of ['U0ALICE', 'U0LEAD1']) expect(waiting(await s.openHome(reviewer))).toEqual([id]);
    for (const other of ['U0NOBODY', REQUESTER]) {
      const view = await s.openHome(other);
      expect(waiting(view)).toEqual([]);
      expect(allText(view.blocks)).toContain('Nothing waits for you.');
    }
    // Its requester sees the release history of the service they asked to promote.
    expect(allText((await s.openHome(REQUESTER)).blocks)).toContain('Of the services you review or recently asked');
  });

  it('approving from the Home tab works like the summary button: the summary is updated, the tab answers', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    await s.openHome('U0ALICE');
    const answered = await s.clickHome(ACTION.approve, id, 'U0ALICE');
    expect(blocksOf(answered)[0]).toMatchObject({ block_id: HOME_BLOCK_ID.notice });
    expect(allText(blocksOf(answered)[0])).toContain('1 more approval needed');
    expect(waiting(answered)).toEqual([]);
    const summary = s.slack.messages.find((m) => m.ts === ts)!;
    await s.slack.waitFor(() => allText(summary.blocks).includes('<@U0ALICE> approved'));

    // A second click from the Home tab is refused there, as on the summary.
    const again = await s.clickHome(ACTION.approve, id, 'U0ALICE');
    expect(allText(blocksOf(again)[0])).toContain('You have approved this already.');

    // The last approval from Home runs it; the Home tab of the requester then lists the release.
    await s.openHome('U0BOB');
    await s.clickHome(ACTION.approve, id, 'U0BOB');
    const final = await s.finalReply(ts);
    expect(final.text).toMatch(/Promoted api to prod/);
    expect(s.aws.callsOf('ExecuteChangeSet')).toHaveLength(1);
    expect(allText(summary.blocks)).not.toContain(ACTION.approve);
    const home = await s.openHome(REQUESTER);
    expect(allText(home.blocks)).toMatch(/api dev → prod, .* by <@U0REQ>/);
  });

  it('rejecting from the Home tab ends the promotion and asks for a reason, as the summary does', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const { id, ts } = await s.plan();
    await s.openHome('U0LEAD2');
    const answered = await s.clickHome(ACTION.reject, id, 'U0LEAD2');
    expect(waiting(answered)).toEqual([]);
    const summary = s.slack.messages.find((m) => m.ts === ts)!;
    await s.slack.waitFor(() => /Rejected/.test(allText(summary.blocks)));
    expect(s.slack.views.at(-1)?.view).toMatchObject({ type: 'modal' });
  });

  it('tells each reviewer directly, once per operation, even across a restart; not who turned it off', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl') });
    const first = await s.plan();
    await s.slack.waitFor(() => REVIEWERS.every((u) => s!.slack.dm(u).length === 1));
    const dm = s.slack.dm('U0LEAD1')[0]!;
    expect(dm.text).toContain(`https://slack.com/archives/${dm.text?.match(/archives\/(C\w+)/)?.[1]}/p`);
    expect(dm.text).toContain(first.ts.replace('.', ''));
    expect(s.slack.dm(REQUESTER)).toHaveLength(0);

    await s.restart();
    await new Promise((r) => setTimeout(r, 1000)); // several sweeps of the new process
    for (const u of REVIEWERS) expect(s.slack.dm(u), u).toHaveLength(1);

    // Alice turns them off in her Home tab; the next operation tells the others only.
    const home = await s.openHome('U0ALICE');
    expect(allText(home.blocks)).toContain('*Direct messages:* on');
    const off = await s.clickHome(ACTION.homeDirectMessages, 'off', 'U0ALICE');
    expect(allText(off.blocks)).toContain('*Direct messages:* off');
    await s.click(ACTION.cancel, first.id, REQUESTER, first.ts);
    await s.slack.waitFor(() => allText(first.summary.blocks).includes('*Cancelled*'));
    await s.plan();
    await s.slack.waitFor(() => ['U0BOB', 'U0LEAD1', 'U0LEAD2'].every((u) => s!.slack.dm(u).length === 2));
    await new Promise((r) => setTimeout(r, 500));
    expect(s.slack.dm('U0ALICE')).toHaveLength(1);
  });

  it('works over Socket Mode: the event and the Home click arrive as envelopes', async () => {
    s = await startScenario({ redisUrl: inject('redisUrl'), mode: 'socket' });
    const { id, ts } = await s.plan();
    expect(waiting(await s.openHome('U0BOB'))).toEqual([id]);
    const answered = await s.clickHome(ACTION.approve, id, 'U0BOB');
    expect(allText(blocksOf(answered)[0])).toContain('1 more approval needed');
    const summary = s.slack.messages.find((m) => m.ts === ts)!;
    await s.slack.waitFor(() => /U0BOB/.test(allText(summary.blocks)));
  });
});
