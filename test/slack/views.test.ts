import type { ResourceChange } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { buildPlan, buildStackedPlan } from '../../src/domain/classify.js';
import type { ApprovalRule, Plan, Promotion, PromotionState, RiskyChange } from '../../src/domain/types.js';
import { ACTION } from '../../src/slack/ids.js';
import { renderChangeList, splitMessage } from '../../src/slack/views/change-list.js';
import {
  formatDuration,
  PROGRESS_NOTE_BLOCK_ID,
  type ProgressInput,
  renderFailedResource,
  renderFinal,
  renderProgress,
  renderProgressNote,
} from '../../src/slack/views/progress.js';
import { renderPromotionMessage, type SummaryInput } from '../../src/slack/views/summary.js';
import { validateBlocks } from '../fakes/slack.js';

// ---------------------------------------------------------------------------------------------
// Slack's limits, checked independently of the code under test (platform-facts §1.6).
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Characters of every plain_text/mrkdwn text object, buttons and dialogs included. */
function textLength(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + textLength(v), 0);
  if (!value || typeof value !== 'object') return 0;
  const o = value as Json;
  let n = typeof o.text === 'string' && (o.type === 'plain_text' || o.type === 'mrkdwn') ? o.text.length : 0;
  for (const v of Object.values(o)) if (typeof v === 'object') n += textLength(v);
  return n;
}

function textOf(obj: unknown): string {
  const t = (obj as Json | undefined)?.text;
  return typeof t === 'string' ? t : '';
}

/** Throws (via expect) when any block, element or text is over a Slack limit. */
function checkBlockLimits(blocks: readonly unknown[]): void {
  // The fake Slack the end-to-end tests use must accept it too.
  expect(validateBlocks(blocks)).toEqual([]);
  expect(blocks.length).toBeGreaterThan(0);
  expect(blocks.length).toBeLessThanOrEqual(50);
  expect(textLength(blocks)).toBeLessThanOrEqual(11_000);
  const blockIds = new Set<string>();
  const actionIds = new Set<string>();
  for (const raw of blocks) {
    const b = raw as Json;
    if (b.block_id !== undefined) {
      const id = String(b.block_id);
      expect(id.length).toBeLessThanOrEqual(255);
      expect(blockIds.has(id), `duplicate block_id ${id}`).toBe(false);
      blockIds.add(id);
    }
    switch (b.type) {
      case 'header': {
        const t = b.text as Json;
        expect(t.type).toBe('plain_text');
        expect(textOf(t).length).toBeGreaterThan(0);
        expect(textOf(t).length).toBeLessThanOrEqual(150);
        break;
      }
      case 'section': {
        expect(b.text !== undefined || b.fields !== undefined).toBe(true);
        if (b.text !== undefined) {
          expect(textOf(b.text).length).toBeGreaterThan(0);
          expect(textOf(b.text).length).toBeLessThanOrEqual(3000);
        }
        if (b.fields !== undefined) {
          const fields = b.fields as unknown[];
          expect(fields.length).toBeLessThanOrEqual(10);
          for (const f of fields) {
            expect(textOf(f).length).toBeGreaterThan(0);
            expect(textOf(f).length).toBeLessThanOrEqual(2000);
          }
        }
        break;
      }
      case 'context': {
        const elements = b.elements as unknown[];
        expect(elements.length).toBeLessThanOrEqual(10);
        for (const e of elements) expect(textOf(e).length).toBeLessThanOrEqual(3000);
        break;
      }
      case 'actions': {
        const elements = b.elements as Json[];
        expect(elements.length).toBeLessThanOrEqual(25);
        for (const e of elements) {
          const id = String(e.action_id);
          expect(id.length).toBeLessThanOrEqual(255);
          expect(actionIds.has(id), `duplicate action_id ${id}`).toBe(false);
          actionIds.add(id);
          expect(textOf(e.text).length).toBeLessThanOrEqual(75);
          if (e.value !== undefined) expect(String(e.value).length).toBeLessThanOrEqual(2000);
          if (e.confirm) {
            const c = e.confirm as Json;
            expect(textOf(c.title).length).toBeLessThanOrEqual(100);
            expect(textOf(c.text).length).toBeLessThanOrEqual(300);
            expect(textOf(c.confirm).length).toBeLessThanOrEqual(30);
            expect(textOf(c.deny).length).toBeLessThanOrEqual(30);
          }
        }
        break;
      }
      case 'divider':
        break;
      default:
        throw new Error(`unexpected block type ${String(b.type)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const NOW = new Date('2025-03-01T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const minutesFromNow = (m: number) => new Date(NOW.getTime() + m * 60_000).toISOString();

const RULE: ApprovalRule = {
  required: 2,
  reviewers: ['U0ALICE', 'S0LEADS'],
  allowSelfApproval: false,
  expiresAfterMs: 4 * 3600_000,
};

const SMALL_PLAN: Plan = buildPlan([
  { LogicalResourceId: 'Handler', ResourceType: 'AWS::Lambda::Function', Action: 'Add' },
  {
    LogicalResourceId: 'Api',
    ResourceType: 'AWS::Lambda::Function',
    Action: 'Modify',
    Replacement: 'False',
    Details: [
      {
        Target: { Attribute: 'Properties', Name: 'MemorySize', BeforeValue: '128', AfterValue: '256' },
        ChangeSource: 'DirectModification',
      },
    ],
  },
  { LogicalResourceId: 'UsersTable', ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' },
  {
    LogicalResourceId: 'AppRole',
    ResourceType: 'AWS::IAM::Role',
    Action: 'Modify',
    Replacement: 'False',
    Details: [{ Target: { Attribute: 'Properties', Name: 'Policies' }, ChangeSource: 'DirectModification' }],
  },
  { LogicalResourceId: 'FnVersion1', ResourceType: 'AWS::Lambda::Version', Action: 'Add' },
]);

function promotion(overrides: Partial<Promotion> = {}): Promotion {
  return {
    id: 'p-123',
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
    expiresAt: minutesFromNow(240),
    target: { stack: 'api-prod', region: 'eu-west-1', account: '222222222222' },
    source: {
      stack: 'api-dev',
      region: 'eu-west-1',
      account: '111111111111',
      fingerprint: 'abcdef1234567890abcdef',
      lastUpdatedTime: minutesAgo(120),
      version: 'v1.4.2',
    },
    changeSet: {
      arn: 'arn:aws:cloudformation:eu-west-1:222222222222:changeSet/promote-p-123/x',
      name: 'promote-p-123',
    },
    plan: SMALL_PLAN,
    approvals: [{ user: 'U0BOB', at: minutesAgo(5) }],
    ...overrides,
  };
}

function render(overrides: Partial<Promotion> = {}, extra: Partial<SummaryInput> = {}) {
  return renderPromotionMessage({ promotion: promotion(overrides), rule: RULE, now: NOW, ...extra });
}

function allText(blocks: readonly unknown[]): string {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Json;
      if (typeof o.text === 'string') out.push(o.text);
      for (const x of Object.values(o)) if (typeof x === 'object') walk(x);
    }
  };
  walk(blocks);
  return out.join('\n');
}

function buttons(blocks: readonly unknown[]): Json[] {
  return (blocks as Json[]).filter((b) => b.type === 'actions').flatMap((b) => b.elements as Json[]);
}

/** The change lines of the summary (not the property lines under them). */
function changeLines(blocks: readonly unknown[]): string[] {
  return (blocks as Json[])
    .filter((b) => String(b.block_id ?? '').startsWith('promotion_changes_'))
    .flatMap((b) => textOf(b.text).split('\n'))
    .filter((l) => !l.startsWith(' '));
}

function leftOutCount(blocks: readonly unknown[]): number {
  const m = /…and ([\d,]+) more changes? not shown/.exec(allText(blocks));
  return m ? Number(m[1]!.replace(/,/g, '')) : 0;
}

// ---------------------------------------------------------------------------------------------

describe('renderPromotionMessage while awaiting approval', () => {
  const { text, blocks } = render();
  const all = allText(blocks);

  it('has a header naming the service and stages', () => {
    expect(blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: 'Promote api: dev → prod' } });
  });

  it('shows who asked, the source build and the target', () => {
    expect(all).toContain('<@U0REQ>');
    expect(all).toContain('`abcdef123456`');
    expect(all).not.toContain('abcdef1234567');
    expect(all).toContain('updated 2 hours ago');
    expect(all).toContain('version `v1.4.2`');
    expect(all).toContain('`api-prod` · eu-west-1 · 222222222222');
    expect(all).toContain('`promote-p-123`');
  });

  it('counts the changes and the hidden minor ones', () => {
    expect(all).toContain('*5 changes:* 2 added · 2 modified · 1 removed · 0 replaced');
    expect(all).toContain('⚠ *1 destructive* · 🔐 *1 security* · 1 minor change hidden');
    expect(all).not.toContain('FnVersion1');
  });

  it('lists destructive then security changes first, clearly marked', () => {
    const lines = changeLines(blocks);
    expect(lines).toEqual([
      '⚠ *DELETES* table `UsersTable` — data will be lost',
      '🔐 *MODIFIES* IAM role `AppRole` — permissions change (Policies)',
      '✏️ modifies function `Api`',
      '➕ adds function `Handler`',
    ]);
  });

  it('shows known property values before → after', () => {
    expect(all).toContain('↳ `MemorySize`: `128` → `256`');
  });

  it('says who must approve, who did, what is still needed and when it expires', () => {
    expect(all).toContain('Needs 2 approvals from <@U0ALICE>, <!subteam^S0LEADS>');
    expect(all).toContain('✅ <@U0BOB> approved 5 minutes ago');
    expect(all).toContain('Still needed: 1');
    expect(all).toContain('expires in 4 hours (2025-03-01 16:00 UTC)');
  });

  it('offers Approve, Reject, Cancel and Show all changes, each carrying only the promotion ID', () => {
    const els = buttons(blocks);
    expect(els.map((e) => [e.action_id, textOf(e.text), e.style])).toEqual([
      [ACTION.approve, 'Approve', 'primary'],
      [ACTION.reject, 'Reject', 'danger'],
      [ACTION.cancel, 'Cancel', undefined],
      [ACTION.showChanges, 'Show all changes', undefined],
    ]);
    for (const e of els) expect(e.value).toBe('p-123');
    expect(els[1]?.confirm).toBeDefined();
  });

  it('asks for confirmation before approving data loss', () => {
    const confirm = buttons(blocks)[0]?.confirm as Json;
    expect(textOf(confirm.title)).toBe('Approve data loss?');
  });

  it('has a short escaped notification text', () => {
    expect(text).toBe('Promote api: dev → prod — needs 2 approvals, 5 changes, 1 destructive');
  });

  it('stays within the limits', () => {
    checkBlockLimits(blocks);
  });
});

describe('renderPromotionMessage in every state', () => {
  it.each<[PromotionState, Partial<Promotion>, string]>([
    ['planning', { plan: undefined }, '⏳ *Planning…* creating change set'],
    ['awaiting_approval', {}, 'Needs 2 approvals'],
    [
      'approved',
      {
        approvals: [
          { user: 'U0BOB', at: minutesAgo(5) },
          { user: 'U0ALICE', at: minutesAgo(1) },
        ],
      },
      'Approved by <@U0BOB>, <@U0ALICE> — executing',
    ],
    [
      'executing',
      { execution: { token: 't', startedAt: minutesAgo(2), failedResources: [] } },
      'Approved by <@U0BOB> — executing (started 2 minutes ago)',
    ],
    [
      'succeeded',
      {
        execution: {
          token: 't',
          startedAt: minutesAgo(5),
          endedAt: new Date(NOW.getTime() - 5 * 60_000 + 192_000).toISOString(),
          finalStackStatus: 'UPDATE_COMPLETE',
          failedResources: [],
        },
      },
      '✅ Promoted api to prod in 3m 12s',
    ],
    [
      'rolled_back',
      {
        execution: {
          token: 't',
          startedAt: minutesAgo(5),
          endedAt: minutesAgo(1),
          finalStackStatus: 'UPDATE_ROLLBACK_COMPLETE',
          reason: 'Resource handler returned message: "Invalid"',
          failedResources: [],
        },
      },
      '❌ Failed: Resource handler returned message: "Invalid". CloudFormation rolled back cleanly (UPDATE_ROLLBACK_COMPLETE)',
    ],
    [
      'failed',
      {
        execution: {
          token: 't',
          startedAt: minutesAgo(5),
          finalStackStatus: 'UPDATE_ROLLBACK_FAILED',
          reason: 'Table busy',
          failedResources: [],
        },
      },
      '🚨 Rollback FAILED (UPDATE_ROLLBACK_FAILED): Table busy — run /rollback api prod to continue the rollback',
    ],
    [
      'rejected',
      { decision: { user: 'U0ALICE', at: minutesAgo(3), reason: 'not today' } },
      '🚫 *Rejected* by <@U0ALICE> 3 minutes ago: not today',
    ],
    ['expired', { expiresAt: minutesAgo(30) }, '⌛ *Expired* 30 minutes ago with 1 of 2 approvals'],
    ['cancelled', { decision: { user: 'U0REQ', at: minutesAgo(1) } }, '🛑 *Cancelled* by <@U0REQ> 1 minute ago'],
    [
      'nothing_to_promote',
      { plan: buildPlan([]), stateReason: "The submitted information didn't contain changes." },
      "🟰 *Nothing to promote*: prod already matches dev (The submitted information didn't contain changes.)",
    ],
    [
      'plan_failed',
      { plan: undefined, stateReason: 'Template format error: <bad>' },
      '❌ *Planning failed*: Template format error: &lt;bad&gt;',
    ],
  ])('%s', (state, overrides, expected) => {
    const { text, blocks } = render({ state, ...overrides });
    expect(allText(blocks)).toContain(expected);
    checkBlockLimits(blocks);
    expect(text.length).toBeLessThanOrEqual(300);
    const els = buttons(blocks);
    if (state === 'awaiting_approval') expect(els).toHaveLength(4);
    else expect(els).toEqual([]);
  });

  it.each<PromotionState>(['succeeded', 'failed', 'rolled_back', 'rejected', 'expired', 'cancelled'])(
    'still names who approved once %s',
    (state) => {
      const { blocks } = render({
        state,
        approvals: [
          { user: 'U0BOB', at: minutesAgo(5) },
          { user: 'U0ALICE', at: minutesAgo(4) },
        ],
        execution: { token: 't', startedAt: minutesAgo(3), endedAt: minutesAgo(1), failedResources: [] },
      });
      expect(allText(blocks)).toContain('Approved by <@U0BOB>, <@U0ALICE>');
    },
  );

  it('keeps the plan visible after a decision', () => {
    const { blocks } = render({ state: 'rejected', decision: { user: 'U0ALICE', at: minutesAgo(1) } });
    expect(changeLines(blocks)[0]).toBe('⚠ *DELETES* table `UsersTable` — data will be lost');
    expect(allText(blocks)).not.toContain('Show all changes');
  });
});

describe('renderPromotionMessage for a rollback', () => {
  const { blocks } = render({ kind: 'rollback', from: undefined, source: undefined });

  it('says ROLLBACK and warns that data is not restored', () => {
    expect(blocks[0]).toMatchObject({ type: 'header', text: { text: 'ROLLBACK api: prod' } });
    expect(allText(blocks)).toContain('Rolling back re-applies an old template; data deleted since is not restored.');
    checkBlockLimits(blocks);
  });
});

describe('renderPromotionMessage: which approval rule applies, and why', () => {
  const destructive = (because: RiskyChange[]) =>
    render({ rule: { tier: 'destructive', required: 2, reviewers: RULE.reviewers, because } });

  it.each<[string, Parameters<typeof destructive>[0], string]>([
    [
      'one deletion',
      [{ logicalId: 'OrdersTable', kind: 'deletes' }],
      '⚠ *2 approvals* (destructive rule): this plan deletes `OrdersTable`',
    ],
    [
      'every kind, grouped, in a fixed order',
      [
        { logicalId: 'ApiRole', kind: 'permissions' },
        { logicalId: 'OrdersTable', kind: 'deletes' },
        { logicalId: 'Cache', kind: 'may-replace' },
        { logicalId: 'Users', kind: 'replaces' },
        { logicalId: 'Jobs', kind: 'deletes' },
      ],
      '⚠ *2 approvals* (destructive rule): this plan deletes `OrdersTable`, `Jobs`, replaces `Users`, may replace `Cache` and changes permissions of `ApiRole`',
    ],
    [
      'many of a kind: the first five, then a count',
      Array.from({ length: 8 }, (_, i) => ({ logicalId: `T${i}`, kind: 'deletes' as const })),
      '⚠ *2 approvals* (destructive rule): this plan deletes `T0`, `T1`, `T2`, `T3`, `T4`, +3 more',
    ],
    [
      'hostile logical IDs, escaped',
      [{ logicalId: '<!channel>`x', kind: 'permissions' }],
      '⚠ *2 approvals* (destructive rule): this plan changes permissions of `&lt;!channel&gt;ˋx`',
    ],
  ])('%s', (_, because, line) => {
    const { text, blocks } = destructive(because);
    const approval = (blocks as unknown as Json[]).find((b) => b.block_id === 'promotion_approval');
    expect(textOf(approval?.text).split('\n')[0]).toBe(line);
    expect(text).toContain('needs 2 approvals (destructive rule)');
    checkBlockLimits(blocks);
  });

  it('says nothing more under the normal rule, recorded or not', () => {
    for (const overrides of [{}, { rule: { tier: 'normal' as const, required: 2, reviewers: [], because: [] } }]) {
      const { text, blocks } = render(overrides);
      expect(allText(blocks)).not.toContain('destructive rule');
      expect(text).not.toContain('destructive rule');
    }
  });
});

describe('renderPromotionMessage: what is promoted', () => {
  const source = promotion().source!;

  it('names the recorded release the source runs, with who promoted it and when', () => {
    const all = allText(
      render({
        source: {
          ...source,
          release: { id: 'r12', kind: 'promote', from: 'qa', requester: 'U0ALICE', at: minutesAgo(2 * 24 * 60) },
        },
      }).blocks,
    );
    expect(all).toContain('dev release `r12`, promoted from qa 2 days ago by <@U0ALICE>');
  });

  it('names a rollback release as such', () => {
    const all = allText(
      render({ source: { ...source, release: { id: 'r9', kind: 'rollback', requester: 'U0BOB', at: minutesAgo(90) } } })
        .blocks,
    );
    expect(all).toContain('dev release `r9`, a rollback 2 hours ago by <@U0BOB>');
  });

  it('warns when the source runs the build from before a failed, rolled-back deployment', () => {
    const { blocks } = render({ source: { ...source, rolledBack: true } });
    const warning = (blocks as unknown as Json[]).find((b) => b.block_id === 'promotion_source_warning');
    expect(textOf(warning?.text)).toBe(
      '⚠ The last deployment of `api-dev` (dev) failed and was rolled back (it started 2025-03-01 10:00 UTC): this promotes the build it runs, from before that failure.',
    );
    expect(allText(blocks)).toContain('last update failed 2 hours ago');
    expect(allText(blocks)).not.toContain('updated 2 hours ago');
    checkBlockLimits(blocks);
  });

  it('has no warning and no release line for a healthy source deployed outside the bot', () => {
    const { blocks } = render();
    expect((blocks as unknown as Json[]).some((b) => b.block_id === 'promotion_source_warning')).toBe(false);
    expect(allText(blocks)).not.toMatch(/release `|rolled back/);
  });
});

describe('renderPromotionMessage with showMinor', () => {
  it('lists minor changes last and says they are shown', () => {
    const { blocks } = render({}, { showMinor: true });
    expect(changeLines(blocks).at(-1)).toBe('· adds Lambda version `FnVersion1`');
    expect(allText(blocks)).toContain('1 minor change shown');
  });
});

describe('escaping hostile text', () => {
  const hostilePlan = buildPlan([
    {
      LogicalResourceId: 'Fn',
      ResourceType: 'AWS::Lambda::Function',
      Action: 'Modify',
      Replacement: 'False',
      Details: [
        {
          Target: { Attribute: 'Properties', Name: 'Description', BeforeValue: '<!here> & co', AfterValue: '<@U999>' },
        },
      ],
    },
  ]);

  it.each<[string, Partial<Promotion>]>([
    ['service name', { service: '<!channel>' }],
    ['stage names', { from: '<!everyone>', to: '<!here>' }],
    [
      'stack and version',
      {
        target: { stack: '<!channel>', region: '<@U1>' },
        source: { stack: '<!here>', region: 'x', fingerprint: '<!channel>', version: '<!everyone>' },
      },
    ],
    ['property values', { plan: hostilePlan }],
    [
      'rejection reason',
      { state: 'rejected', decision: { user: '<!channel>', at: minutesAgo(1), reason: '<!channel> <@U123>' } },
    ],
    ['failure reason', { state: 'plan_failed', plan: undefined, stateReason: '<@U123> <!subteam^S1>' }],
    ['reviewers and approvers', { approvals: [{ user: '<!channel>', at: minutesAgo(1) }], requester: '<!here>' }],
  ])('pings no one through the %s', (_name, overrides) => {
    const { text, blocks } = render(overrides);
    const json = JSON.stringify(blocks) + text;
    for (const ping of ['<!channel>', '<!here>', '<!everyone>', '<@U123>', '<@U999>', '<@U1>', '<!subteam^S1>']) {
      expect(json).not.toContain(ping);
    }
    checkBlockLimits(blocks);
  });

  it('shows an AWS reason escaped rather than dropping it', () => {
    const { blocks } = render({ state: 'plan_failed', plan: undefined, stateReason: 'bad <@U123> & co' });
    expect(allText(blocks)).toContain('bad &lt;@U123&gt; &amp; co');
  });

  it('shows hostile property values escaped inside code', () => {
    const { blocks } = render({ plan: hostilePlan });
    expect(allText(blocks)).toContain('`Description`: `&lt;!here&gt; &amp; co` → `&lt;@U999&gt;`');
  });

  it('escapes a hostile reviewer ID from config', () => {
    const { blocks } = renderPromotionMessage({
      promotion: promotion(),
      rule: { ...RULE, reviewers: ['<!channel>', 'U0ALICE'] },
      now: NOW,
    });
    expect(allText(blocks)).toContain('Needs 2 approvals from &lt;!channel&gt;, <@U0ALICE>');
  });
});

// ---------------------------------------------------------------------------------------------
// Big plans
// ---------------------------------------------------------------------------------------------

function bigPlan(n: number): Plan {
  const types = ['AWS::Lambda::Function', 'AWS::SNS::Topic', 'AWS::Lambda::Version', 'AWS::IAM::Policy'];
  const rcs: ResourceChange[] = [];
  for (let i = 0; i < n; i++) {
    const type = types[i % types.length]!;
    if (i % 50 === 0) {
      rcs.push({ LogicalResourceId: `Table${i}`, ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' });
    } else if (i % 3 === 0) {
      rcs.push({ LogicalResourceId: `Res${i}`, ResourceType: type, Action: 'Add' });
    } else {
      rcs.push({
        LogicalResourceId: `Res${i}`,
        ResourceType: type,
        Action: 'Modify',
        Replacement: 'False',
        Details: [
          { Target: { Attribute: 'Properties', Name: 'Description', BeforeValue: `old ${i}`, AfterValue: `new ${i}` } },
          { Target: { Attribute: 'Properties', Name: 'Timeout', BeforeValue: '3', AfterValue: '30' } },
        ],
      });
    }
  }
  return buildPlan(rcs);
}

describe('a 2,500-change plan', () => {
  const plan = bigPlan(2500);
  const visible = plan.changes.filter((c) => c.impact !== 'minor');
  const { blocks } = render({ plan });

  it('stays within every limit', () => {
    checkBlockLimits(blocks);
  });

  it('says exactly how many changes it left out', () => {
    const shown = changeLines(blocks).length;
    expect(shown).toBeGreaterThan(20);
    expect(leftOutCount(blocks)).toBe(visible.length - shown);
    expect(allText(blocks)).toContain(
      `…and ${(visible.length - shown).toLocaleString('en-US')} more changes not shown — press *Show all changes*`,
    );
  });

  it('keeps every destructive and security change in view, first', () => {
    const lines = changeLines(blocks);
    const risky = visible.filter((c) => c.impact === 'destroys' || c.impact === 'security').length;
    expect(lines.slice(0, risky).every((l) => l.startsWith('⚠') || l.startsWith('🔐'))).toBe(true);
    expect(lines.filter((l) => l.startsWith('⚠'))).toHaveLength(50);
  });

  it('keeps the approval block and the buttons', () => {
    expect(allText(blocks)).toContain('Needs 2 approvals');
    expect(buttons(blocks).map((b) => b.action_id)).toEqual([
      ACTION.approve,
      ACTION.reject,
      ACTION.cancel,
      ACTION.showChanges,
    ]);
  });

  it('stays within the limits when minor changes are shown too', () => {
    const out = render({ plan }, { showMinor: true });
    checkBlockLimits(out.blocks);
    expect(leftOutCount(out.blocks)).toBe(plan.changes.length - changeLines(out.blocks).length);
  });

  it('points to the thread instead of a button once the promotion is decided', () => {
    const out = render({ plan, state: 'approved' });
    checkBlockLimits(out.blocks);
    expect(allText(out.blocks)).toMatch(/…and [\d,]+ more changes not shown(?! — press)/);
  });
});

describe('60 destructive changes with huge property values', () => {
  const huge = 'x'.repeat(50_000);
  const rcs: ResourceChange[] = [];
  for (let i = 0; i < 60; i++) {
    rcs.push({
      LogicalResourceId: `Bucket${String(i).padStart(2, '0')}${'L'.repeat(200)}`,
      ResourceType: 'AWS::S3::Bucket',
      Action: 'Modify',
      Replacement: 'True',
      Details: Array.from({ length: 12 }, (_, j) => ({
        Target: {
          Attribute: 'Properties' as const,
          Name: `Prop${j}${'N'.repeat(300)}`,
          RequiresRecreation: 'Always' as const,
          BeforeValue: `<!channel>${huge}`,
          AfterValue: huge,
        },
      })),
    });
  }
  const plan = buildPlan(rcs);
  const { blocks } = render({
    plan,
    service: 's'.repeat(500),
    stateReason: 'r'.repeat(50_000),
  });

  it('stays within every limit', () => {
    checkBlockLimits(blocks);
  });

  it('shows every destructive change or says how many it left out', () => {
    const shown = changeLines(blocks).length;
    expect(shown).toBeGreaterThan(0);
    expect(shown + leftOutCount(blocks)).toBe(60);
    expect(changeLines(blocks).every((l) => l.startsWith('⚠ *REPLACES* bucket'))).toBe(true);
  });

  it('keeps the buttons', () => {
    expect(buttons(blocks)).toHaveLength(4);
  });

  it('stays within the limits with 300 reviewers and a huge reason in a final state', () => {
    const out = renderPromotionMessage({
      promotion: promotion({
        plan,
        state: 'rejected',
        decision: { user: 'U1', at: minutesAgo(1), reason: 'z'.repeat(90_000) },
      }),
      rule: { ...RULE, reviewers: Array.from({ length: 300 }, (_, i) => `U${i}ABCDEFGHIJ`) },
      now: NOW,
    });
    checkBlockLimits(out.blocks);
    const awaiting = renderPromotionMessage({
      promotion: promotion({ plan }),
      rule: { ...RULE, reviewers: Array.from({ length: 300 }, (_, i) => `U${i}ABCDEFGHIJ`) },
      now: NOW,
    });
    checkBlockLimits(awaiting.blocks);
    expect(allText(awaiting.blocks)).toContain('+270 more');
  });

  it('stays within the limits when every text from config and AWS is as long and as escaped as it can be', () => {
    const amp = (n: number) => '&'.repeat(n);
    const out = renderPromotionMessage({
      promotion: promotion({
        plan,
        service: amp(5000),
        from: amp(5000),
        to: amp(5000),
        requester: amp(5000),
        stateReason: amp(50_000),
        target: { stack: amp(5000), region: amp(5000), account: amp(5000) },
        source: { stack: amp(5000), region: amp(5000), account: amp(5000), fingerprint: amp(64), version: amp(5000) },
        changeSet: { arn: 'arn', name: amp(5000) },
        approvals: Array.from({ length: 100 }, () => ({ user: amp(5000), at: minutesAgo(1) })),
        id: 'p'.repeat(1000),
      }),
      rule: { ...RULE, reviewers: Array.from({ length: 300 }, () => amp(5000)) },
      now: NOW,
    });
    checkBlockLimits(out.blocks);
    expect(out.text.length).toBeLessThanOrEqual(300);
    expect(buttons(out.blocks)).toHaveLength(4);
    expect(leftOutCount(out.blocks) + changeLines(out.blocks).length).toBe(60);
  });
});

// ---------------------------------------------------------------------------------------------
// Change list and splitting
// ---------------------------------------------------------------------------------------------

describe('renderChangeList', () => {
  it('lists every change including minor ones, with property lines', () => {
    expect(renderChangeList(SMALL_PLAN)).toBe(
      [
        '*5 changes:* 2 added · 2 modified · 1 removed · 0 replaced',
        '⚠ *DELETES* table `UsersTable` — data will be lost',
        '🔐 *MODIFIES* IAM role `AppRole` — permissions change (Policies)',
        '      ↳ `Policies` changed',
        '✏️ modifies function `Api`',
        '      ↳ `MemorySize`: `128` → `256`',
        '➕ adds function `Handler`',
        '· adds Lambda version `FnVersion1`',
      ].join('\n'),
    );
  });

  it('escapes values from AWS', () => {
    const plan = buildPlan([
      {
        LogicalResourceId: 'Fn',
        ResourceType: 'AWS::Lambda::Function',
        Action: 'Modify',
        Replacement: 'False',
        Details: [{ Target: { Attribute: 'Properties', Name: 'Description', BeforeValue: '<!channel>' } }],
      },
    ]);
    const list = renderChangeList(plan);
    expect(list).toContain('`Description`: `&lt;!channel&gt;` → _(none)_');
    expect(list).not.toContain('<!channel>');
  });

  it('says so when there are no changes', () => {
    expect(renderChangeList(buildPlan([]))).toBe('No changes.');
  });

  it('has one line per change for a big plan', () => {
    const plan = bigPlan(300);
    const lines = renderChangeList(plan)
      .split('\n')
      .filter((l) => !l.startsWith(' '));
    expect(lines).toHaveLength(301);
  });
});

describe('splitMessage', () => {
  it.each<[string, string, number, string[]]>([
    ['empty text', '', 10, []],
    ['text that fits', 'a\nb\nc', 10, ['a\nb\nc']],
    ['exactly the limit', 'abcde\nfghi', 10, ['abcde\nfghi']],
    ['one over the limit', 'abcde\nfghij', 10, ['abcde', 'fghij']],
    ['several lines', 'aaaa\nbbbb\ncccc\ndddd', 9, ['aaaa\nbbbb', 'cccc\ndddd']],
    ['a line longer than the limit', 'ab\n0123456789abcdefghij\ncd', 8, ['ab', '01234567', '89abcdef', 'ghij\ncd']],
    ['an entity at a hard cut', 'aaaaaa&amp;bbbbbb', 8, ['aaaaaa', '&amp;bbb', 'bbb']],
  ])('%s', (_name, text, max, chunks) => {
    const out = splitMessage(text, max);
    expect(out).toEqual(chunks);
    for (const c of out) expect(c.length).toBeLessThanOrEqual(max);
  });

  it('loses no line of a long change list', () => {
    const list = renderChangeList(bigPlan(1000));
    const chunks = splitMessage(list, 3000);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(3000);
    expect(chunks.join('\n')).toBe(list);
  });
});

// ---------------------------------------------------------------------------------------------
// Progress and final outcome
// ---------------------------------------------------------------------------------------------

describe('renderProgress', () => {
  it.each<[string, ProgressInput, string]>([
    [
      'a running update',
      { done: 12, total: 40, inProgress: ['A', 'B', 'C', 'D', 'E', 'F'], failed: 0, elapsedMs: 65_000 },
      'Executing… 12/40 resources · 1m 05s · in progress: A, B, C (+3)',
    ],
    [
      'nothing in progress',
      { done: 0, total: 3, inProgress: [], failed: 0, elapsedMs: 4_000 },
      'Executing… 0/3 resources · 4s',
    ],
    [
      'failures and a rollback',
      {
        done: 5,
        total: 9,
        inProgress: ['Table'],
        failed: 1,
        elapsedMs: 3_723_000,
        stackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS',
      },
      'Rolling back… 5/9 resources · 1h 02m · in progress: Table · ❗ 1 failed · UPDATE_ROLLBACK_IN_PROGRESS',
    ],
    [
      'hostile resource names',
      { done: 1, total: 2, inProgress: ['<!channel>'], failed: 0, elapsedMs: 1_000 },
      'Executing… 1/2 resources · 1s · in progress: &lt;!channel&gt;',
    ],
    [
      'every resource updated: the monitoring window, the alarms watched until when',
      {
        done: 4,
        total: 5,
        inProgress: [],
        failed: 0,
        elapsedMs: 95_000,
        stackStatus: 'UPDATE_IN_PROGRESS',
        watching: {
          alarms: ['arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-5xx'],
          until: '2025-03-01T14:32:10.000Z',
        },
      },
      'Executing… 4/5 resources · 1m 35s · 👀 watching alarm `api-5xx` until 14:32 UTC · UPDATE_IN_PROGRESS',
    ],
    [
      'a monitoring time without alarms, and hostile alarm names',
      {
        done: 1,
        total: 1,
        inProgress: [],
        failed: 0,
        elapsedMs: 1_000,
        watching: { alarms: [], until: '2025-03-01T09:05:00.000Z' },
      },
      'Executing… 1/1 resources · 1s · ⏸ waiting until 09:05 UTC before cleaning up (monitorFor)',
    ],
    [
      'several alarms, one of them hostile',
      {
        done: 1,
        total: 1,
        inProgress: [],
        failed: 0,
        elapsedMs: 1_000,
        watching: {
          alarms: ['arn:aws:cloudwatch:us-east-1:333333333333:alarm:a', 'arn:aws:cloudwatch:us-east-1:1:alarm:<!here>'],
          until: '2025-03-01T09:05:00.000Z',
        },
      },
      'Executing… 1/1 resources · 1s · 👀 watching alarms `a`, `&lt;!here&gt;` until 09:05 UTC',
    ],
  ])('%s', (_name, input, expected) => {
    const view = renderProgress(input);
    expect(view.text).toBe(expected);
    expect(textOf((view.blocks[0] as unknown as Json).text)).toBe(expected);
    checkBlockLimits(view.blocks);
    // The note says the same, as a small reply of its own (a block ID the progress message never has).
    const note = renderProgressNote(input);
    expect(note.text).toBe(`⏳ ${expected}`);
    expect(note.blocks).toHaveLength(1);
    expect(note.blocks[0]).toMatchObject({ type: 'context', block_id: PROGRESS_NOTE_BLOCK_ID });
    expect((note.blocks[0] as unknown as { elements: Json[] }).elements[0]?.text).toBe(`⏳ ${expected}`);
    expect((view.blocks[0] as unknown as Json).block_id).not.toBe(PROGRESS_NOTE_BLOCK_ID);
    checkBlockLimits(note.blocks);
  });
});

describe('renderFinal', () => {
  const base = (execution: NonNullable<Promotion['execution']>, state: PromotionState) =>
    promotion({ state, execution });

  it.each<[string, Promotion, string]>([
    [
      'success',
      base(
        {
          token: 't',
          startedAt: minutesAgo(10),
          endedAt: new Date(NOW.getTime() - 600_000 + 192_000).toISOString(),
          finalStackStatus: 'UPDATE_COMPLETE',
          failedResources: [],
        },
        'succeeded',
      ),
      '✅ Promoted api to prod in 3m 12s',
    ],
    [
      'a rollback promotion that succeeded',
      {
        ...base({ token: 't', startedAt: minutesAgo(1), endedAt: minutesAgo(0), failedResources: [] }, 'succeeded'),
        kind: 'rollback',
      },
      '✅ Rolled back api on prod in 1m 00s',
    ],
    [
      'a clean rollback',
      base(
        {
          token: 't',
          startedAt: minutesAgo(3),
          endedAt: minutesAgo(1),
          finalStackStatus: 'UPDATE_ROLLBACK_COMPLETE',
          reason: 'Bucket name taken',
          failedResources: [],
        },
        'rolled_back',
      ),
      '❌ Failed: Bucket name taken. CloudFormation rolled back cleanly (UPDATE_ROLLBACK_COMPLETE)',
    ],
    [
      'a failed rollback',
      base(
        {
          token: 't',
          startedAt: minutesAgo(3),
          finalStackStatus: 'UPDATE_ROLLBACK_FAILED',
          reason: 'Table <@U1> busy',
          failedResources: [],
        },
        'failed',
      ),
      '🚨 Rollback FAILED (UPDATE_ROLLBACK_FAILED): Table &lt;@U1&gt; busy — run /rollback api prod to continue the rollback',
    ],
    [
      'a failure without a reason, from the failed resources',
      base(
        {
          token: 't',
          startedAt: minutesAgo(3),
          finalStackStatus: 'UPDATE_FAILED',
          failedResources: [{ logicalId: 'Fn', status: 'UPDATE_FAILED', reason: 'Code too big' }],
        },
        'failed',
      ),
      '❌ Failed: Code too big (UPDATE_FAILED)',
    ],
  ])('%s', (_name, p, expected) => {
    const view = renderFinal(p, NOW);
    expect(view.text).toBe(expected);
    expect(textOf((view.blocks[0] as unknown as Json).text)).toBe(expected);
    checkBlockLimits(view.blocks);
  });

  it('says an alarm rolled the update back, naming it and its ARN', () => {
    const arn = 'arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-5xx';
    const view = renderFinal(
      base(
        {
          token: 't',
          startedAt: minutesAgo(3),
          endedAt: minutesAgo(1),
          finalStackStatus: 'UPDATE_ROLLBACK_COMPLETE',
          reason: 'the alarm api-5xx went into ALARM',
          alarm: arn,
          failedResources: [],
        },
        'rolled_back',
      ),
      NOW,
    );
    expect(view.text).toBe(
      `🚨 Rolled back by alarm \`api-5xx\`: it went into ALARM during the deploy or its monitoring time, so CloudFormation rolled the update back in 2m 00s (UPDATE_ROLLBACK_COMPLETE). Alarm \`${arn}\``,
    );
    checkBlockLimits(view.blocks);
  });

  it('lists the failed resources, at most ten', () => {
    const failedResources = Array.from({ length: 14 }, (_, i) => ({
      logicalId: `R${i}`,
      resourceType: 'AWS::Lambda::Function',
      status: 'UPDATE_FAILED',
      reason: `reason ${i}`,
    }));
    const view = renderFinal(
      base(
        { token: 't', startedAt: minutesAgo(3), finalStackStatus: 'UPDATE_ROLLBACK_COMPLETE', failedResources },
        'rolled_back',
      ),
      NOW,
    );
    const list = textOf((view.blocks[1] as unknown as Json).text);
    expect(list.split('\n')).toHaveLength(11);
    expect(list).toContain('• `R0` (AWS::Lambda::Function) UPDATE_FAILED: reason 0');
    expect(list).toContain('…and 4 more resources');
    checkBlockLimits(view.blocks);
  });

  it('uses the state line for promotions that never executed', () => {
    const view = renderFinal(promotion({ state: 'cancelled', decision: { user: 'U0REQ', at: minutesAgo(1) } }), NOW);
    expect(view.text).toBe('🛑 *Cancelled* by <@U0REQ> 1 minute ago');
  });
});

describe('renderFailedResource', () => {
  it.each([
    [
      {
        logicalId: 'UsersTable',
        resourceType: 'AWS::DynamoDB::Table',
        status: 'UPDATE_FAILED',
        reason: 'Busy <!channel>',
      },
      '• `UsersTable` (AWS::DynamoDB::Table) UPDATE_FAILED: Busy &lt;!channel&gt;',
    ],
    [{ logicalId: 'Fn', status: 'CREATE_FAILED' }, '• `Fn` CREATE_FAILED'],
  ])('%j', (r, expected) => {
    expect(renderFailedResource(r)).toBe(expected);
  });

  it('shortens a huge reason', () => {
    expect(
      renderFailedResource({ logicalId: 'Fn', status: 'UPDATE_FAILED', reason: 'x'.repeat(5000) }).length,
    ).toBeLessThan(400);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [-5, '0s'],
    [999, '0s'],
    [45_000, '45s'],
    [65_000, '1m 05s'],
    [192_000, '3m 12s'],
    [3_599_000, '59m 59s'],
    [3_720_000, '1h 02m'],
    [26 * 3600_000, '26h 00m'],
  ])('%d ms → %s', (ms, out) => {
    expect(formatDuration(ms)).toBe(out);
  });
});

describe('renderPromotionMessage: alarms and nested stacks', () => {
  const A5XX = 'arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-5xx';
  const field = (blocks: readonly unknown[]) =>
    ((blocks as Json[]).find((b) => b.block_id === 'promotion_details')!.fields as Json[])
      .map(textOf)
      .find((f) => /^\*(Alarms|Monitoring)\*/.test(f));

  it.each<[string, Partial<Promotion>, string | undefined]>([
    [
      'alarms watched during the deploy and after',
      { monitoring: { alarms: [A5XX], minutes: 10 } },
      '*Alarms*\n`api-5xx`: CloudFormation rolls back if one goes to ALARM during the deploy and for 10 minutes after',
    ],
    [
      'alarms watched only during the deploy',
      { monitoring: { alarms: [A5XX, `${A5XX}-2`], minutes: 0 } },
      '*Alarms*\n`api-5xx`, `api-5xx-2`: CloudFormation rolls back if one goes to ALARM during the deploy',
    ],
    [
      'a monitoring time without alarms',
      { monitoring: { alarms: [], minutes: 5 } },
      '*Monitoring*\nwaits 5 minutes before cleaning up; no alarm',
    ],
    [
      'a rollback: the stage’s alarms deliberately not watched',
      { kind: 'rollback', monitoring: { alarms: [], minutes: 0 }, unwatchedAlarms: [A5XX] },
      '*Alarms*\nnot watched: `api-5xx` — a rollback runs while they may be firing, and CloudFormation would roll it back',
    ],
    ['no monitoring', {}, undefined],
    ['monitoring off', { monitoring: { alarms: [], minutes: 0 } }, undefined],
    [
      'hostile alarm names, more than five',
      {
        monitoring: {
          alarms: ['<!channel>', 'b', 'c', 'd', 'e', 'f'].map((n) => `arn:aws:cloudwatch:us-east-1:1:alarm:${n}`),
          minutes: 1,
        },
      },
      '*Alarms*\n`&lt;!channel&gt;`, `b`, `c`, `d`, `e` +1 more: CloudFormation rolls back if one goes to ALARM during the deploy and for 1 minute after',
    ],
  ])('%s', (_name, overrides, expected) => {
    const view = render(overrides);
    expect(field(view.blocks)).toBe(expected);
    checkBlockLimits(view.blocks);
  });

  const nestedPlan = buildStackedPlan([
    {
      changes: [
        { LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue', Action: 'Modify', Replacement: 'False' },
        {
          LogicalResourceId: 'Storage',
          ResourceType: 'AWS::CloudFormation::Stack',
          Action: 'Modify',
          Replacement: 'False',
          ChangeSetId: 'arn:nested',
        },
      ],
    },
    {
      stack: 'Storage',
      changes: [
        { LogicalResourceId: 'OrdersTable', ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' },
        { LogicalResourceId: 'Topic', ResourceType: 'AWS::SNS::Topic', Action: 'Add' },
      ],
    },
  ]);

  it('groups the changes under their stack when there are several, keeping the worst first across stacks', () => {
    const view = render({ plan: nestedPlan });
    expect(changeLines(view.blocks)).toEqual([
      '*Destructive, replacing and security changes (all stacks):*',
      '`Storage` · ⚠ *DELETES* table `OrdersTable` — data will be lost',
      '*Stack `api-prod`:*',
      '✏️ modifies queue `Queue`',
      '✏️ modifies nested stack `Storage`',
      '*Nested stack `Storage`:*',
      '➕ adds topic `Topic`',
    ]);
    expect(allText(view.blocks)).toContain('⚠ *1 destructive*');
    expect(buttons(view.blocks).find((b) => b.action_id === ACTION.approve)!.confirm).toBeDefined();
    checkBlockLimits(view.blocks);
  });

  it('shows no stack headings for a plan of one stack', () => {
    expect(changeLines(render().blocks).some((l) => /Stack|all stacks/.test(l))).toBe(false);
  });

  it('groups the full change list the same way', () => {
    const list = renderChangeList(nestedPlan, ['api-prod']).split('\n');
    expect(list.slice(1, 4)).toEqual([
      '*Destructive, replacing and security changes (all stacks):*',
      '`Storage` · ⚠ *DELETES* table `OrdersTable` — data will be lost',
      '*Stack `api-prod`:*',
    ]);
  });

  it('escapes a hostile nested stack path', () => {
    const plan = buildStackedPlan([
      { changes: [{ LogicalResourceId: 'Q', ResourceType: 'AWS::SQS::Queue', Action: 'Add' }] },
      { stack: '<!channel>/X', changes: [{ LogicalResourceId: 'T', ResourceType: 'AWS::SNS::Topic', Action: 'Add' }] },
    ]);
    const text = allText(render({ plan }).blocks);
    expect(text).toContain('*Nested stack `&lt;!channel&gt;/X`:*');
    expect(text).not.toContain('<!channel>');
  });
});

describe('several stacks', () => {
  const tag = (plan: Plan, stack: string): Plan => ({ ...plan, changes: plan.changes.map((c) => ({ ...c, stack })) });
  const INFRA = tag(SMALL_PLAN, 'shop-infra-prod');
  const APP = tag(
    buildPlan([
      { LogicalResourceId: 'Web', ResourceType: 'AWS::Lambda::Function', Action: 'Modify', Replacement: 'False' },
    ]),
    'shop-app-prod',
  );
  const combined: Plan = {
    changes: [...INFRA.changes, ...APP.changes],
    counts: { ...INFRA.counts, modified: INFRA.counts.modified + 1, total: INFRA.counts.total + 1 },
  };
  const parts = (over: Partial<NonNullable<Promotion['parts']>[number]>[] = [{}, {}]) =>
    ['shop-infra-prod', 'shop-app-prod'].map((stack, i) => ({
      stack,
      target: { stack, region: 'eu-west-1' },
      status: 'planned' as const,
      plan: i === 0 ? INFRA : APP,
      ...over[i],
    }));
  const multi = (over: Partial<Promotion> = {}) =>
    render({ service: 'shop', plan: combined, parts: parts(), current: 0, target: parts()[0]!.target, ...over });

  it('groups the changes: the destructive and security ones of every stack first, then each stack under its name', () => {
    const view = multi();
    checkBlockLimits(view.blocks);
    const lines = changeLines(view.blocks);
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(lines[0]).toBe('*Destructive, replacing and security changes (all stacks):*');
    expect(at(/^`shop-infra-prod` · ⚠ \*DELETES\* table `UsersTable`/)).toBe(1);
    expect(at(/^`shop-infra-prod` · 🔐/)).toBe(2);
    expect(at(/^\*Stack `shop-infra-prod`:\*$/)).toBeGreaterThan(2);
    expect(at(/^\*Stack `shop-app-prod`:\*$/)).toBeGreaterThan(at(/^\*Stack `shop-infra-prod`:\*$/));
    expect(at(/modifies function `Web`/)).toBeGreaterThan(at(/^\*Stack `shop-app-prod`:\*$/));
  });

  it('one stack: no headings, as before', () => {
    const lines = changeLines(render({ plan: INFRA }).blocks);
    expect(lines.some((l) => /Stack|all stacks/.test(l))).toBe(false);
    expect(lines[0]).toMatch(/^⚠ \*DELETES\* table `UsersTable`/);
  });

  it('lists every stack with where it stands, and the final reply says what ran and what did not', () => {
    const planned = allText(
      multi({ parts: parts([{}, { status: 'deferred', reason: 'No export named <x> found', plan: undefined }]) })
        .blocks,
    );
    expect(planned).toMatch(/1\. `shop-infra-prod`: \*5 changes:\*/);
    expect(planned).toContain('2. `shop-app-prod`: planned after the stacks before it are applied');
    expect(planned).toContain('No export named &lt;x&gt; found');

    const ended = promotion({
      service: 'shop',
      state: 'rolled_back',
      current: 0,
      execution: {
        token: 't',
        startedAt: minutesAgo(3),
        endedAt: minutesAgo(1),
        finalStackStatus: 'UPDATE_ROLLBACK_COMPLETE',
        reason: 'boom',
        failedResources: [],
        confirmed: true,
      },
      parts: parts([
        {
          status: 'failed',
          reason: 'boom',
          execution: {
            token: 't',
            startedAt: minutesAgo(3),
            endedAt: minutesAgo(1),
            finalStackStatus: 'UPDATE_ROLLBACK_COMPLETE',
            failedResources: [],
            confirmed: true,
          },
        },
        { changeSet: { arn: 'arn:b', name: 'b' } },
      ]),
    });
    const final = allText(renderFinal(ended, NOW).blocks);
    expect(final).toContain('1. `shop-infra-prod`: ❌ UPDATE_ROLLBACK_COMPLETE: boom');
    expect(final).toContain('2. `shop-app-prod`: ⛔ not executed (its change set was deleted)');
  });

  it('a stack reviewed after the earlier ones ran: the summary points at the thread and has no buttons', () => {
    const view = multi({
      current: 1,
      parts: parts([{ status: 'succeeded' }, { planTs: '1700000000.000200' }]),
      approvals: [],
    });
    expect(buttons(view.blocks)).toHaveLength(0);
    expect(allText(view.blocks)).toMatch(
      /The plan of `shop-app-prod`, made after the stacks before it ran, waits for approval in the thread/,
    );
  });

  it('progress names the stack running', () => {
    const text = renderProgress({
      done: 1,
      total: 3,
      inProgress: [],
      failed: 0,
      elapsedMs: 1000,
      stack: { name: 'shop-app-prod', position: 2, of: 2 },
    }).text;
    expect(text).toMatch(/^Executing… `shop-app-prod` \(stack 2 of 2\) 1\/3 resources/);
  });
});
