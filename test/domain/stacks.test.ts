// Multi-stack operations, as tables: what each stack's plan means for the whole operation, the review order of
// changes across stacks, the state machine moving from one stack to the next, and what an end cleans up.
import { describe, expect, it } from 'vitest';
import { endEffects, type PromotionEvent, step } from '../../src/domain/promotion.js';
import { type Release, type StageSnapshot, snapshotSource, stackSnapshot } from '../../src/domain/releases.js';
import {
  changeSetsToDelete,
  combinePlans,
  decideParts,
  groupChanges,
  type PartResult,
  waitsForExport,
} from '../../src/domain/stacks.js';
import type { ApprovalRule, ClassifiedChange, Impact, Plan, Promotion, StackPart } from '../../src/domain/types.js';

const NOW = new Date('2026-11-22T10:00:00Z');
const rule: ApprovalRule = { required: 1, reviewers: ['U0ALICE'], allowSelfApproval: false, expiresAfterMs: 3_600_000 };

const change = (logicalId: string, impact: Impact, stack?: string): ClassifiedChange => ({
  logicalId,
  resourceType: 'AWS::SQS::Queue',
  action: impact === 'add' ? 'Add' : 'Modify',
  impact,
  reason: `${impact} ${logicalId}`,
  forcedBy: [],
  properties: [],
  dataBearing: false,
  ...(stack ? { stack } : {}),
});
const plan = (...changes: ClassifiedChange[]): Plan => ({
  changes,
  counts: { added: 0, modified: changes.length, removed: 0, replaced: 0, minor: 0, total: changes.length },
});
const NO_EXPORT = 'No export named shop-jobs-url found';

describe('waitsForExport', () => {
  it.each([
    [NO_EXPORT, true],
    ['no export named X found.', true],
    ['Export shop-jobs-url cannot be deleted as it is in use by shop-app', false],
    ['Template format error', false],
    [undefined, false],
  ])('%s → %s', (reason, expected) => {
    expect(waitsForExport(reason)).toBe(expected);
  });
});

describe('decideParts', () => {
  const changes: PartResult = { status: 'changes', plan: plan(change('A', 'modify')) };
  const none: PartResult = { status: 'none' };
  const missing: PartResult = { status: 'failed', reason: NO_EXPORT };
  const broken: PartResult = { status: 'failed', reason: 'Template format error' };
  const stacks = ['infra', 'app', 'web'];
  it.each<[string, PartResult[], string[] | string]>([
    ['all changed: all planned', [changes, changes, changes], ['planned', 'planned', 'planned']],
    ['unchanged ones are skipped', [none, changes, none], ['unchanged', 'planned', 'unchanged']],
    [
      'a missing export after a changed stack: deferred',
      [changes, missing, none],
      ['planned', 'deferred', 'unchanged'],
    ],
    ['after a deferred one: deferred too', [changes, missing, missing], ['planned', 'deferred', 'deferred']],
    [
      'a missing export with nothing before it to add it: the plan fails',
      [none, missing, changes],
      `app: ${NO_EXPORT}`,
    ],
    ['the first stack missing an export: the plan fails', [missing, changes, changes], `infra: ${NO_EXPORT}`],
    ['any other failure fails the plan, naming its stack', [changes, changes, broken], 'web: Template format error'],
  ])('%s', (_what, results, expected) => {
    const d = decideParts(stacks, results);
    if (typeof expected === 'string') expect(d).toEqual({ ok: false, reason: expected });
    else expect(d.ok && d.outcomes.map((o) => o.status)).toEqual(expected);
  });
});

describe('groupChanges and combinePlans', () => {
  it('one stack: one group, as given', () => {
    const cs = [change('A', 'destroys', 'infra'), change('B', 'modify', 'infra')];
    expect(groupChanges(cs)).toEqual([{ stack: 'infra', changes: cs }]);
    expect(groupChanges([change('A', 'modify')])).toEqual([{ stack: undefined, changes: [change('A', 'modify')] }]);
  });

  it('several stacks: the risky changes of all first, then each stack, the worst first', () => {
    const combined = combinePlans([
      {
        stack: 'infra',
        target: { stack: 'infra', region: 'r' },
        status: 'planned',
        plan: plan(change('Q', 'add'), change('T', 'destroys')),
      },
      {
        stack: 'app',
        target: { stack: 'app', region: 'r' },
        status: 'planned',
        plan: plan(change('Role', 'security'), change('Fn', 'modify')),
      },
      { stack: 'web', target: { stack: 'web', region: 'r' }, status: 'unchanged' },
    ]);
    expect(combined.counts.total).toBe(4);
    expect(combined.changes.map((c) => `${c.stack}/${c.logicalId}`)).toEqual([
      'infra/T',
      'app/Role',
      'app/Fn',
      'infra/Q',
    ]);
    expect(groupChanges(combined.changes).map((g) => [g.stack, g.changes.map((c) => c.logicalId)])).toEqual([
      [undefined, ['T', 'Role']],
      ['infra', ['Q']],
      ['app', ['Fn']],
    ]);
  });
});

/** A two-stack promotion: infra then app. */
function twoStacks(state: Promotion['state'], parts: Partial<StackPart>[], patch: Partial<Promotion> = {}): Promotion {
  const full = parts.map(
    (x, i): StackPart => ({
      stack: ['infra', 'app'][i]!,
      target: { stack: ['infra', 'app'][i]!, region: 'us-east-1' },
      status: 'planned',
      ...x,
    }),
  );
  return {
    id: 'p1',
    version: 3,
    kind: 'promote',
    service: 'shop',
    from: 'dev',
    to: 'prod',
    requester: 'U0REQ',
    channel: 'C1',
    messageTs: '1.1',
    state,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    target: full[0]!.target,
    approvals: [],
    parts: full,
    ...patch,
  };
}

const cs = (n: string) => ({ arn: `arn:${n}`, name: n });
const run = (p: Promotion, e: PromotionEvent) => {
  const r = step(p, e, NOW);
  if (!r.ok) throw new Error(`refused: ${r.refusal.code}`);
  return r.promotion;
};

describe('the state machine across stacks', () => {
  it("planned: the first stack to run becomes the current one, the plan all stacks' changes", () => {
    const p = twoStacks('planning', [{ changeSet: cs('a') }, { changeSet: cs('b') }]);
    const after = run(p, {
      type: 'parts_planned',
      rule,
      outcomes: [
        { index: 0, status: 'unchanged' },
        { index: 1, status: 'planned', plan: plan(change('Fn', 'modify')) },
      ],
    });
    expect(after.state).toBe('awaiting_approval');
    expect(after.current).toBe(1);
    expect(after.target.stack).toBe('app');
    expect(after.changeSet).toEqual(cs('b'));
    expect(after.plan?.changes.map((c) => c.stack)).toEqual(['app']);
  });

  it("a part recorded while planning goes to its part; the current one's to the working copy", () => {
    const p = twoStacks('planning', [{}, {}]);
    const a = run(p, { type: 'part_recorded', index: 1, changeSetRequested: 'n' });
    expect(a.parts?.[1]?.changeSetRequested).toBe('n');
    expect(a.changeSetRequested).toBeUndefined();
    const b = run({ ...p, current: 1 }, { type: 'part_recorded', index: 1, changeSet: cs('b') });
    expect(b.changeSet).toEqual(cs('b'));
    expect(b.parts?.[1]?.changeSet).toEqual(cs('b'));
  });

  const executing = (second: Partial<StackPart>) =>
    twoStacks('executing', [{ changeSet: cs('a') }, second], {
      current: 0,
      changeSet: cs('a'),
      approvals: [{ user: 'U0ALICE', at: NOW.toISOString() }],
      execution: { token: 't', startedAt: NOW.toISOString(), failedResources: [], confirmed: true },
    });

  it('the first stack complete: the next reviewed one is approved to run, under the same approvals', () => {
    const after = run(executing({ changeSet: cs('b') }), { type: 'finished', stackStatus: 'UPDATE_COMPLETE' });
    expect(after.state).toBe('approved');
    expect(after.current).toBe(1);
    expect(after.changeSet).toEqual(cs('b'));
    expect(after.execution).toBeUndefined();
    expect(after.approvedAt).toBe(NOW.toISOString());
    expect(after.parts?.[0]).toMatchObject({ status: 'succeeded', approvals: [{ user: 'U0ALICE' }] });
    expect(after.parts?.[0]?.execution?.finalStackStatus).toBe('UPDATE_COMPLETE');
  });

  it('the first stack complete and the next deferred: planned now, its approvals start afresh', () => {
    const after = run(executing({ status: 'deferred', reason: 'No export' }), {
      type: 'finished',
      stackStatus: 'UPDATE_COMPLETE',
    });
    expect(after.state).toBe('planning');
    expect(after.current).toBe(1);
    expect(after.approvals).toEqual([]);
    const planned = run(after, {
      type: 'parts_planned',
      rule,
      outcomes: [{ index: 1, status: 'planned', plan: plan(change('Fn', 'modify')) }],
    });
    expect(planned.state).toBe('awaiting_approval');
    expect(planned.parts?.map((x) => x.status)).toEqual(['succeeded', 'planned']);
  });

  it('the last stack complete: succeeded, with its release recorded', () => {
    const p = { ...executing({ changeSet: cs('b') }) };
    const second = run(run(p, { type: 'finished', stackStatus: 'UPDATE_COMPLETE' }), { type: 'execute', token: 't2' });
    const done = run(run(second, { type: 'execution_confirmed' }), {
      type: 'finished',
      stackStatus: 'UPDATE_COMPLETE',
    });
    expect(done.state).toBe('succeeded');
    expect(done.parts?.map((x) => x.status)).toEqual(['succeeded', 'succeeded']);
    expect(done.pendingEffects).toContain('record_release');
    expect(done.pendingEffects).not.toContain('delete_change_set');
  });

  it('the first stack fails: the later one is not run and its change set is deleted; the release is not recorded', () => {
    const failed = run(executing({ changeSet: cs('b') }), {
      type: 'finished',
      stackStatus: 'UPDATE_ROLLBACK_COMPLETE',
      reason: 'boom',
    });
    expect(failed.state).toBe('rolled_back');
    expect(failed.parts?.map((x) => x.status)).toEqual(['failed', 'planned']);
    expect(changeSetsToDelete(failed)).toEqual([{ stack: 'app', arn: 'arn:b' }]);
    expect(failed.pendingEffects).toEqual(['delete_change_set', 'release_lock', 'final_reply', 'summary']);
  });

  it('rejected after the first stack ran: the stage changed, so the release is recorded and the thread told', () => {
    const planned = run(run(executing({ status: 'deferred' }), { type: 'finished', stackStatus: 'UPDATE_COMPLETE' }), {
      type: 'parts_planned',
      rule,
      outcomes: [{ index: 1, status: 'planned', plan: plan(change('Fn', 'modify')) }],
    });
    const withCs = { ...planned, changeSet: cs('late') };
    const rejected = run(withCs, { type: 'reject', user: 'U0ALICE', isReviewer: true });
    expect(endEffects(withCs, rejected)).toEqual([
      'record_release',
      'delete_change_set',
      'release_lock',
      'final_reply',
      'summary',
    ]);
    expect(changeSetsToDelete(rejected)).toEqual([{ stack: 'app', arn: 'arn:late' }]);
  });
});

describe('release snapshots per stack', () => {
  const snap = (fingerprint: string): StageSnapshot => ({ templateGz: '', parameters: [], fingerprint });
  const release = (stacks?: Release['stacks']): Release => ({
    id: 'r1',
    promotionId: 'p1',
    kind: 'promote',
    service: 'shop',
    stage: 'prod',
    before: snap('infra-before'),
    after: snap('infra-after'),
    ...(stacks ? { stacks } : {}),
    requester: 'U0REQ',
    approvers: [],
    startedAt: NOW.toISOString(),
    endedAt: NOW.toISOString(),
  });
  const multi = release([
    { stack: 'infra', before: snap('infra-before'), after: snap('infra-after') },
    { stack: 'app', before: snap('app-before'), after: snap('app-after') },
  ]);
  it.each<[string, Release, 'before' | 'after', string, string | undefined]>([
    ['a multi-stack release, by stack', multi, 'before', 'app', 'app-before'],
    ['a multi-stack release, after', multi, 'after', 'infra', 'infra-after'],
    ['a stack the release does not know', multi, 'after', 'web', undefined],
    ['a single-stack release: its stack is the first one', release(), 'before', 'infra', 'infra-before'],
    ['a single-stack release knows no other stack', release(), 'before', 'app', undefined],
  ])('%s', (_what, r, side, stack, expected) => {
    expect(stackSnapshot(r, side, stack, 'infra')?.fingerprint).toBe(expected);
  });

  it.each([
    [
      { undoes: 'r2', runsNow: 'r2' },
      { release: 'r2', side: 'before' },
    ],
    [
      { reapplies: 'r1', runsNow: 'r2', putsBack: 'r1' },
      { release: 'r1', side: 'after' },
    ],
    [{}, undefined],
  ])('a rollback target %j takes its snapshots from %j', (target, expected) => {
    expect(snapshotSource(target)).toEqual(expected);
  });
});
