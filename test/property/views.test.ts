// Property tests of every Block Kit view: a promotion in any state whose every field came from Slack, AWS or
// promote.yml in its most hostile form renders without throwing, within Slack's limits (the fake Slack's own
// validation), and without a mention or link that came from input.
import type { ResourceChange } from '@aws-sdk/client-cloudformation';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPlan, buildStackedPlan } from '../../src/domain/classify.js';
import type { ApprovalRule, FailedResource, Promotion, PromotionState } from '../../src/domain/types.js';
import { renderChangeList, splitMessage } from '../../src/slack/views/change-list.js';
import { renderHome } from '../../src/slack/views/home.js';
import { renderFinal, renderProgress, renderProgressNote } from '../../src/slack/views/progress.js';
import { renderRejectReasonModal } from '../../src/slack/views/reject-reason.js';
import { renderReviewerDm } from '../../src/slack/views/reviewer-dm.js';
import { renderFailedResource, stateLine } from '../../src/slack/views/status.js';
import { renderPromotionMessage } from '../../src/slack/views/summary.js';
import { validateBlocks } from '../fakes/slack.js';
import {
  expectBlocksInert,
  expectInert,
  expectSlackAccepts,
  hostile,
  hostileShort,
  RUNS,
  userId,
  VALID_CHANNELS,
  VALID_GROUPS,
  VALID_USERS,
} from './hostile.js';

const STATES: PromotionState[] = [
  'planning',
  'awaiting_approval',
  'approved',
  'executing',
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
  'expired',
  'cancelled',
  'nothing_to_promote',
  'plan_failed',
];

const NOW = new Date('2026-03-01T12:00:00.000Z');
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** A time as stored (ISO), or whatever a corrupted record might hold. */
const iso = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  { weight: 1, arbitrary: hostileShort },
);

const CFN_TYPES = [
  'AWS::DynamoDB::Table',
  'AWS::SNS::Topic',
  'AWS::IAM::Role',
  'AWS::Lambda::Function',
  'AWS::Logs::LogGroup',
  'AWS::EC2::SecurityGroup',
  'AWS::S3::Bucket',
];

/** A resource change as CloudFormation could describe it, with hostile names, values and reasons. */
const resourceChange: fc.Arbitrary<ResourceChange> = fc.record(
  {
    LogicalResourceId: hostile,
    PhysicalResourceId: opt(hostileShort),
    ResourceType: opt(fc.oneof(fc.constantFrom(...CFN_TYPES), hostileShort)),
    Action: opt(fc.oneof(fc.constantFrom('Add', 'Modify', 'Remove', 'Import', 'Dynamic'), hostileShort)),
    Replacement: opt(fc.constantFrom('True', 'False', 'Conditional')),
    PolicyAction: opt(fc.constantFrom('Delete', 'Retain', 'Snapshot', 'ReplaceAndRetain', 'ReplaceAndDelete')),
    Details: opt(
      fc.array(
        fc.record({
          Target: fc.record({
            Attribute: fc.constantFrom('Properties', 'Tags'),
            Name: opt(hostile),
            RequiresRecreation: opt(fc.constantFrom('Never', 'Conditionally', 'Always')),
            BeforeValue: opt(hostile),
            AfterValue: opt(hostile),
          }),
          Evaluation: fc.constantFrom('Static', 'Dynamic'),
          ChangeSource: fc.constantFrom('DirectModification', 'ResourceReference'),
        }),
        { maxLength: 6 },
      ),
    ),
  },
  { requiredKeys: ['LogicalResourceId'] },
) as fc.Arbitrary<ResourceChange>;

const failedResource: fc.Arbitrary<FailedResource> = fc.record(
  { logicalId: hostile, resourceType: opt(hostileShort), status: hostileShort, reason: opt(hostile) },
  { requiredKeys: ['logicalId', 'status'] },
);

const rule: fc.Arbitrary<ApprovalRule> = fc.record({
  required: fc.integer({ min: 0, max: 60 }),
  reviewers: fc.array(fc.oneof(fc.constantFrom<string>(...VALID_USERS, ...VALID_GROUPS), hostileShort), {
    maxLength: 40,
  }),
  allowSelfApproval: fc.boolean(),
  expiresAfterMs: fc.integer({ min: 1, max: 10 * 86_400_000 }),
});

/** IDs the bot makes itself (newId, channel IDs from Slack's payload): not free text. */
const promotionId = fc.stringMatching(/^[0-9a-z]{8,26}$/);

const promotion: fc.Arbitrary<Promotion> = fc
  .record({
    id: promotionId,
    version: fc.nat(),
    kind: fc.constantFrom('promote', 'rollback'),
    service: hostile,
    from: opt(hostile),
    to: hostile,
    requester: userId,
    channel: fc.constantFrom<string>(...VALID_CHANNELS),
    messageTs: opt(fc.constant('1700000000.000100')),
    state: fc.constantFrom(...STATES),
    stateReason: opt(hostile),
    createdAt: iso,
    updatedAt: iso,
    expiresAt: opt(iso),
    target: fc.record({ stack: hostile, region: hostileShort, account: opt(hostileShort) }),
    source: opt(
      fc.record({
        stack: hostile,
        region: hostileShort,
        account: opt(hostileShort),
        fingerprint: hostileShort,
        lastUpdatedTime: opt(iso),
        version: opt(hostile),
        rolledBack: opt(fc.boolean()),
        release: opt(
          fc.record({
            id: hostile,
            kind: fc.constantFrom<'promote' | 'rollback'>('promote', 'rollback'),
            from: opt(hostile),
            requester: userId,
            at: iso,
          }),
        ),
      }),
    ),
    rule: opt(
      fc.record({
        tier: fc.constantFrom<'normal' | 'destructive'>('normal', 'destructive'),
        required: fc.integer({ min: 0, max: 60 }),
        reviewers: fc.array(hostileShort, { maxLength: 10 }),
        because: fc.array(
          fc.record({
            logicalId: hostile,
            kind: fc.constantFrom<'deletes' | 'replaces' | 'may-replace' | 'permissions'>(
              'deletes',
              'replaces',
              'may-replace',
              'permissions',
            ),
          }),
          { maxLength: 40 },
        ),
      }),
    ),
    changeSet: opt(fc.record({ arn: hostileShort, name: hostile })),
    changes: fc.array(resourceChange, { maxLength: 30 }),
    // Changes of nested stacks, under hostile logical ID paths.
    nested: fc.array(fc.record({ stack: hostile, changes: fc.array(resourceChange, { maxLength: 5 }) }), {
      maxLength: 3,
    }),
    monitoring: opt(
      fc.record({ alarms: fc.array(hostile, { maxLength: 7 }), minutes: fc.integer({ min: 0, max: 180 }) }),
    ),
    unwatchedAlarms: opt(fc.array(hostile, { maxLength: 7 })),
    mode: opt(fc.constantFrom('changeset', 'cancel_update', 'continue_rollback')),
    stuck: opt(fc.array(failedResource, { maxLength: 20 })),
    skip: opt(fc.array(hostile, { maxLength: 5 })),
    approvals: fc.array(fc.record({ user: userId, at: iso }), { maxLength: 30 }),
    decision: opt(fc.record({ user: userId, at: iso, reason: opt(hostile) })),
    execution: opt(
      fc.record({
        token: hostileShort,
        startedAt: iso,
        endedAt: opt(iso),
        finalStackStatus: opt(
          fc.oneof(
            fc.constantFrom('UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED'),
            hostileShort,
          ),
        ),
        reason: opt(hostile),
        failedResources: fc.array(failedResource, { maxLength: 15 }),
        alarm: opt(hostile),
      }),
    ),
  })
  .map(({ changes, nested, ...p }) => {
    const out: Promotion = { ...p, kind: p.kind as Promotion['kind'] };
    if (changes.length || nested.length) out.plan = buildStackedPlan([{ changes }, ...nested]);
    return out;
  });

describe('views never throw, stay inside Slack limits and let no mention through', () => {
  it('the summary message, in every state, with and without minor changes', () => {
    fc.assert(
      fc.property(promotion, rule, fc.boolean(), (p, r, showMinor) => {
        expectSlackAccepts(renderPromotionMessage({ promotion: p, rule: r, now: NOW, showMinor }));
      }),
      RUNS,
    );
  });

  it('the final reply and the state line', () => {
    fc.assert(
      fc.property(promotion, rule, (p, r) => {
        expectSlackAccepts(renderFinal(p, NOW));
        expectInert(stateLine(p, NOW, r), 'stateLine');
        for (const f of p.execution?.failedResources ?? []) expectInert(renderFailedResource(f), 'failed resource');
      }),
      RUNS,
    );
  });

  it('the progress reply and the progress note', () => {
    fc.assert(
      fc.property(
        fc.record({
          done: fc.nat(),
          total: fc.nat(),
          inProgress: fc.array(hostile, { maxLength: 10 }),
          failed: fc.nat(),
          elapsedMs: fc.oneof(fc.integer(), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY)),
          stackStatus: opt(hostile),
          watching: opt(fc.record({ alarms: fc.array(hostile, { maxLength: 7 }), until: fc.oneof(iso, hostile) })),
        }),
        (input) => {
          expectSlackAccepts(renderProgress(input));
          expectSlackAccepts(renderProgressNote(input));
        },
      ),
      RUNS,
    );
  });

  it('the full change list, as posted in the thread (in chunks) or uploaded', () => {
    fc.assert(
      fc.property(fc.array(resourceChange, { maxLength: 40 }), (changes) => {
        const list = renderChangeList(buildPlan(changes));
        expectInert(list, 'change list');
        for (const chunk of splitMessage(list, 3_500)) {
          expectSlackAccepts({ text: chunk });
          expect(chunk.length).toBeLessThanOrEqual(3_500);
        }
      }),
      RUNS,
    );
  });

  it('the reject-reason modal', () => {
    fc.assert(
      fc.property(promotion, (p) => {
        const modal = renderRejectReasonModal(p);
        expect(validateBlocks(modal.blocks)).toEqual([]);
        expectBlocksInert(modal.blocks);
        expect(modal.private_metadata?.length ?? 0).toBeLessThanOrEqual(3000);
        expect(JSON.parse(modal.private_metadata ?? '')).toEqual({ id: p.id, channel: p.channel });
      }),
      RUNS,
    );
  });

  it('the App Home tab: at most 100 valid blocks, nothing from input mentions anyone', () => {
    const snap = { templateGz: '', parameters: [], fingerprint: 'f' };
    const release = fc.record({
      id: hostile,
      promotionId: hostileShort,
      kind: fc.constantFrom<'promote' | 'rollback'>('promote', 'rollback'),
      service: hostile,
      stage: hostile,
      from: opt(hostile),
      requester: userId,
      endedAt: iso,
    });
    const input = fc.record({
      awaiting: fc.uniqueArray(fc.tuple(promotion, rule), { maxLength: 25, selector: ([p]) => p.id }),
      running: fc.array(promotion, { maxLength: 25 }),
      held: fc.array(fc.record({ service: hostile, stage: hostile, hold: fc.record({ user: userId, at: iso }) }), {
        maxLength: 25,
      }),
      releases: fc.array(release, { maxLength: 25 }),
      servicesShown: fc.constantFrom<'yours' | 'all'>('yours', 'all'),
      directMessages: fc.boolean(),
    });
    fc.assert(
      fc.property(input, (i) => {
        const view = renderHome({
          ...i,
          user: 'U0ALICE',
          now: NOW,
          awaiting: i.awaiting.map(([p, r]) => ({ p, rule: r })),
          running: i.running.map((p) => ({ p })),
          releases: i.releases.map((r) => ({ ...r, before: snap, after: snap, approvers: [], startedAt: r.endedAt })),
        });
        expect(view.type).toBe('home');
        expect(view.blocks.length).toBeLessThanOrEqual(100);
        expect(validateBlocks(view.blocks, { maxBlocks: 100, actionIdScope: 'block' })).toEqual([]);
        expectBlocksInert(view.blocks);
      }),
      RUNS,
    );
  });

  it("a reviewer's direct message: only the summary link the bot made, no mention from input", () => {
    const LINK = 'https://slack.com/archives/C0PROMOTE/p1700000000000100';
    fc.assert(
      fc.property(promotion, rule, (p, r) => {
        const dm = renderReviewerDm(p, r, LINK, NOW);
        expect(dm).toContain(`<${LINK}|`);
        expectSlackAccepts({ text: dm.replace(`<${LINK}|`, '').replace('>* in ', '* in ') });
      }),
      RUNS,
    );
  });
});
