// The App Home tab and the reviewer's direct message, rendered from plain data: Slack's limits for a Home view
// (100 blocks, valid Block Kit as the fake Slack checks it), the same buttons as the summary, escaping.
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/domain/classify.js';
import type { Release } from '../../src/domain/releases.js';
import type { ApprovalRule, Plan, Promotion } from '../../src/domain/types.js';
import { ACTION } from '../../src/slack/ids.js';
import {
  HOME_APPROVALS_SHOWN,
  HOME_BLOCK_ID,
  HOME_LINES_SHOWN,
  type HomeInput,
  renderHome,
} from '../../src/slack/views/home.js';
import { renderReviewerDm } from '../../src/slack/views/reviewer-dm.js';
import { validateBlocks } from '../fakes/slack.js';

const NOW = new Date('2025-03-01T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

const RULE: ApprovalRule = {
  required: 2,
  reviewers: ['U0ALICE'],
  allowSelfApproval: false,
  expiresAfterMs: 4 * 3600_000,
};

const PLAN: Plan = buildPlan([
  { LogicalResourceId: 'Handler', ResourceType: 'AWS::Lambda::Function', Action: 'Add' },
  { LogicalResourceId: 'UsersTable', ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' },
]);

function promotion(o: Partial<Promotion> = {}): Promotion {
  return {
    id: 'p-1',
    version: 3,
    kind: 'promote',
    service: 'api',
    from: 'dev',
    to: 'prod',
    requester: 'U0REQ',
    channel: 'C0DEPLOY',
    messageTs: '1700000000.000100',
    state: 'awaiting_approval',
    createdAt: minutesAgo(10),
    updatedAt: minutesAgo(5),
    expiresAt: new Date(NOW.getTime() + 4 * 3600_000).toISOString(),
    target: { stack: 'api-prod', region: 'eu-west-1' },
    approvals: [],
    ...o,
  };
}

function release(i: number): Release {
  const snap = { templateGz: '', parameters: [], fingerprint: 'f' };
  return {
    id: `r${i}`,
    promotionId: `p${i}`,
    kind: 'promote',
    service: 'api',
    stage: 'prod',
    from: 'dev',
    before: snap,
    after: snap,
    requester: 'U0REQ',
    approvers: [],
    startedAt: minutesAgo(60 + i),
    endedAt: minutesAgo(50 + i),
  };
}

function input(o: Partial<HomeInput> = {}): HomeInput {
  return {
    user: 'U0ALICE',
    now: NOW,
    awaiting: [],
    running: [],
    held: [],
    releases: [],
    servicesShown: 'yours',
    directMessages: true,
    ...o,
  };
}

type Json = Record<string, unknown>;
const text = (v: unknown) => JSON.stringify(v);
const blocksOf = (view: { blocks: unknown[] }) => view.blocks as Json[];
const buttonsOf = (blocks: unknown[], blockId: string) =>
  ((blocks as Json[]).find((b) => b.block_id === blockId)?.elements ?? []) as Json[];

/** What the fake Slack's views.publish checks, and the Home tab's own limit. */
function expectValidHome(view: { type: string; blocks: unknown[] }) {
  expect(view.type).toBe('home');
  expect(view.blocks.length).toBeLessThanOrEqual(100);
  expect(validateBlocks(view.blocks, { maxBlocks: 100, actionIdScope: 'block' })).toEqual([]);
}

describe('renderHome', () => {
  it('with nothing to show says so in every part, and offers to turn direct messages off', () => {
    const view = renderHome(input());
    expectValidHome(view);
    const all = text(view.blocks);
    for (const phrase of ['Nothing waits for you.', 'Nothing runs now.', 'No stage is held.', 'No release recorded']) {
      expect(all).toContain(phrase);
    }
    const dms = blocksOf(view).find((b) => b.block_id === HOME_BLOCK_ID.dms)!;
    expect(dms.accessory).toMatchObject({ action_id: ACTION.homeDirectMessages, value: 'off' });
  });

  it('lists what waits for you with the summary buttons (same action IDs, the operation ID as value) and a link', () => {
    const view = renderHome(
      input({ awaiting: [{ p: promotion(), rule: RULE, link: 'https://slack.com/archives/C0DEPLOY/p1' }] }),
    );
    expectValidHome(view);
    const item = blocksOf(view).find((b) => b.block_id === HOME_BLOCK_ID.item('p-1'))!;
    expect(text(item)).toContain('<https://slack.com/archives/C0DEPLOY/p1|Promote api: dev → prod>');
    expect(text(item)).toContain('<@U0REQ>');
    expect(text(item)).toContain('0 of 2 approvals');
    const [approve, reject] = buttonsOf(view.blocks, HOME_BLOCK_ID.buttons('p-1'));
    expect(approve).toMatchObject({ action_id: ACTION.approve, value: 'p-1', style: 'primary' });
    expect(reject).toMatchObject({ action_id: ACTION.reject, value: 'p-1', style: 'danger' });
  });

  it('asks to confirm data loss on Approve, as the summary does, and warns in the list', () => {
    const view = renderHome(input({ awaiting: [{ p: promotion({ plan: PLAN }), rule: RULE }] }));
    const [approve] = buttonsOf(view.blocks, HOME_BLOCK_ID.buttons('p-1'));
    expect(text(approve)).toContain('Approve data loss?');
    expect(text(view.blocks)).toContain('data will be lost');
  });

  it('names a recovery as the summary does (Cancel update, Continue rollback)', () => {
    const view = renderHome(
      input({
        awaiting: [
          { p: promotion({ id: 'c', kind: 'rollback', mode: 'cancel_update' }), rule: RULE },
          { p: promotion({ id: 'r', kind: 'rollback', mode: 'continue_rollback' }), rule: RULE },
        ],
      }),
    );
    expectValidHome(view);
    expect(buttonsOf(view.blocks, HOME_BLOCK_ID.buttons('c'))[0]).toMatchObject({ text: { text: 'Cancel update' } });
    expect(buttonsOf(view.blocks, HOME_BLOCK_ID.buttons('r'))[0]).toMatchObject({
      text: { text: 'Continue rollback' },
    });
  });

  it('stays within 100 valid blocks however much there is, and counts what it leaves out', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ p: promotion({ id: `p${i}` }), rule: RULE }));
    const view = renderHome(
      input({
        notice: 'Approved. 1 more approval needed.',
        awaiting: many,
        running: many.map(({ p }) => ({ p: { ...p, state: 'executing' as const } })),
        held: Array.from({ length: 40 }, (_, i) => ({
          service: `svc${i}`,
          stage: 'prod',
          hold: { user: 'U0REQ', at: minutesAgo(i), cause: 'rollback' as const },
        })),
        releases: Array.from({ length: 40 }, (_, i) => release(i)),
      }),
    );
    expectValidHome(view);
    const all = text(view.blocks);
    expect(all).toContain(`…and ${60 - HOME_APPROVALS_SHOWN} more`);
    expect(all).toContain(`…and ${60 - HOME_LINES_SHOWN} more`);
    expect(all).toContain(`…and ${40 - HOME_LINES_SHOWN} more`);
    expect(blocksOf(view).filter((b) => b.type === 'actions')).toHaveLength(HOME_APPROVALS_SHOWN);
  });

  it('shows the answer to the last click on top', () => {
    const view = renderHome(input({ notice: 'Approved. 1 more approval needed.' }));
    expect(blocksOf(view)[0]).toMatchObject({ block_id: HOME_BLOCK_ID.notice });
    expect(text(view.blocks[0])).toContain('Approved. 1 more approval needed.');
  });

  it('escapes names from the config and never lets them mention anyone', () => {
    const evil = '<!channel> & <@U0BOSS>';
    const p = promotion({ service: evil, from: evil, to: evil });
    const view = renderHome(
      input({
        awaiting: [{ p, rule: RULE }],
        running: [{ p: { ...p, id: 'x', state: 'executing' } }],
        held: [{ service: evil, stage: evil, hold: { user: 'U0REQ', at: minutesAgo(1) } }],
        releases: [{ ...release(1), service: evil, stage: evil, from: evil, id: evil }],
      }),
    );
    expectValidHome(view);
    const all = text(view.blocks);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<@U0BOSS>');
    expect(all).toContain('&lt;!channel&gt; &amp; &lt;@U0BOSS&gt;');
  });

  it('says whose releases it lists, and offers to turn direct messages back on', () => {
    const view = renderHome(input({ servicesShown: 'all', directMessages: false, releases: [release(1)] }));
    const all = text(view.blocks);
    expect(all).toContain('Of every service');
    expect(all).toContain('`r1` api dev → prod');
    const dms = blocksOf(view).find((b) => b.block_id === HOME_BLOCK_ID.dms)!;
    expect(dms.accessory).toMatchObject({ action_id: ACTION.homeDirectMessages, value: 'on' });
  });
});

describe('renderReviewerDm', () => {
  it('says who asks for what, links the summary, warns about data loss, and tells how to turn it off', () => {
    const dm = renderReviewerDm(promotion({ plan: PLAN }), RULE, 'https://slack.com/archives/C0DEPLOY/p1', NOW);
    expect(dm).toContain('<@U0REQ> asks for your approval of a promotion');
    expect(dm).toContain('<https://slack.com/archives/C0DEPLOY/p1|Promote api: dev → prod>');
    expect(dm).toContain('<#C0DEPLOY>');
    expect(dm).toContain('2 changes · needs 2 approvals · expires in 4 hours');
    expect(dm).toContain('data will be lost');
    expect(dm).toContain('Home tab');
  });

  it('escapes names from the config', () => {
    const dm = renderReviewerDm(promotion({ service: '<!here>' }), RULE, 'https://x', NOW);
    expect(dm).not.toContain('<!here>');
    expect(dm).toContain('&lt;!here&gt;');
  });
});
