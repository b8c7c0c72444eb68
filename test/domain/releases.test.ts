// What /rollback undoes, as tables over release histories (newest first, as stored). Snapshots are named
// by what the stage ran (v0, v1, …), so each row reads as "prod went from … to …".
import { describe, expect, it } from 'vitest';
import { chooseRollbackTarget, type Release, releaseRunning, replayReleases } from '../../src/domain/releases.js';

const snap = (v: string) => ({ templateGz: `gz-${v}`, parameters: [], fingerprint: v });

function release(id: string, from: string, to: string, extra: Partial<Release> = {}): Release {
  return {
    id,
    promotionId: `p-${id}`,
    kind: 'promote',
    service: 'api',
    stage: 'prod',
    from: 'dev',
    before: snap(from),
    after: snap(to),
    requester: 'U0REQ',
    approvers: [],
    startedAt: '2026-11-22T10:00:00Z',
    endedAt: '2026-11-22T10:05:00Z',
    ...extra,
  };
}
const promote = (id: string, from: string, to: string) => release(id, from, to);
const undo = (id: string, from: string, to: string, undoes: string) =>
  release(id, from, to, { kind: 'rollback', from: undefined, undoes });
const reapply = (id: string, from: string, to: string, reapplies: string) =>
  release(id, from, to, { kind: 'rollback', from: undefined, reapplies });
/** A rollback recorded before `undoes` existed. */
const legacyRollback = (id: string, from: string, to: string) => release(id, from, to, { kind: 'rollback' });

const WHERE = { service: 'api', stage: 'prod' };
const r1 = promote('r1', 'v0', 'v1');
const r2 = promote('r2', 'v1', 'v2');
const r3 = promote('r3', 'v2', 'v3');
const rb1 = undo('rb1', 'v2', 'v1', 'r2');
const rb2 = undo('rb2', 'v1', 'v0', 'r1');

type Expected =
  | { undoes?: string; reapplies?: string; runsNow?: string; putsBack?: string; restores: string }
  | { refused: string };

describe('chooseRollbackTarget', () => {
  it.each<[string, Release[], string | undefined, Expected]>([
    ['no release recorded', [], undefined, { refused: 'no_releases' }],
    ['one promotion: back to what ran before it', [r1], undefined, { undoes: 'r1', runsNow: 'r1', restores: 'v0' }],
    [
      'two promotions: undo the newest',
      [r2, r1],
      undefined,
      { undoes: 'r2', runsNow: 'r2', putsBack: 'r1', restores: 'v1' },
    ],
    [
      'second /rollback undoes r1, never re-applies r2 (defect 1)',
      [rb1, r2, r1],
      undefined,
      { undoes: 'r1', runsNow: 'r1', restores: 'v0' },
    ],
    ['third /rollback: nothing left to undo', [rb2, rb1, r2, r1], undefined, { refused: 'nothing_to_undo' }],
    [
      'a rolled-back release is re-applied when named',
      [rb2, rb1, r2, r1],
      'r2',
      { reapplies: 'r2', putsBack: 'r2', restores: 'v2' },
    ],
    [
      'the re-applying rollback is in effect: /rollback undoes it',
      [reapply('rb3', 'v0', 'v2', 'r2'), rb2, rb1, r2, r1],
      undefined,
      { undoes: 'rb3', runsNow: 'rb3', restores: 'v0' },
    ],
    [
      'a named older release in effect takes out everything newer',
      [reapply('rbx', 'v3', 'v1', 'r1'), r3, r2, r1],
      undefined,
      { undoes: 'r1', runsNow: 'r1', restores: 'v0' },
    ],
    [
      'naming a release in effect while a newer one runs',
      [r2, r1],
      'r1',
      { reapplies: 'r1', runsNow: 'r2', putsBack: 'r1', restores: 'v1' },
    ],
    [
      'a promotion after a rollback is the next to undo',
      [r3, rb1, r2, r1],
      undefined,
      { undoes: 'r3', runsNow: 'r3', putsBack: 'r1', restores: 'v2' },
    ],
    [
      'a rollback recorded before `undoes` existed undid the newest release',
      [legacyRollback('rbl', 'v2', 'v1'), r2, r1],
      undefined,
      { undoes: 'r1', runsNow: 'r1', restores: 'v0' },
    ],
    [
      'the undone release is older than the kept history: nothing in effect',
      [rb1, r2],
      undefined,
      { refused: 'nothing_to_undo' },
    ],
    ['an unknown release', [r2, r1], 'nope', { refused: 'unknown_release' }],
  ])('%s', (_name, releases, requested, expected) => {
    const c = chooseRollbackTarget(releases, requested, WHERE);
    if ('refused' in expected) {
      expect(c.ok).toBe(false);
      if (!c.ok) expect(c.refusal.code).toBe(expected.refused);
      return;
    }
    const { restores, ...target } = expected;
    expect(c.ok && c.target).toEqual(target);
    expect(c.ok && c.snapshot.fingerprint).toBe(restores);
  });

  it('names what it refuses with: the known releases, the oldest kept', () => {
    expect(chooseRollbackTarget([r2, r1], 'nope', WHERE)).toEqual({
      ok: false,
      refusal: { code: 'unknown_release', service: 'api', stage: 'prod', name: 'nope', known: ['r2', 'r1'] },
    });
    expect(chooseRollbackTarget([rb2, rb1, r2, r1], undefined, WHERE)).toEqual({
      ok: false,
      refusal: { code: 'nothing_to_undo', service: 'api', stage: 'prod', oldest: 'r1' },
    });
  });

  it('labels what it puts back in plain text', () => {
    const plain = chooseRollbackTarget([r2, r1], undefined, WHERE);
    const named = chooseRollbackTarget([r2, r1], 'r1', WHERE);
    expect(plain.ok && plain.label).toBe('what ran before release r2');
    expect(named.ok && named.label).toBe('release r1');
  });
});

describe('replayReleases', () => {
  it.each<[string, Release[], string[], Record<string, string>]>([
    ['promotions only', [r3, r2, r1], ['r1', 'r2', 'r3'], {}],
    ['two undos', [rb2, rb1, r2, r1], [], { r2: 'rb1', r1: 'rb2' }],
    [
      'a named rollback takes out the newer ones',
      [reapply('rbx', 'v3', 'v1', 'r1'), r3, r2, r1],
      ['r1'],
      { r2: 'rbx', r3: 'rbx' },
    ],
    [
      're-applying an undone release puts the rollback itself in effect',
      [reapply('rb3', 'v1', 'v2', 'r2'), rb1, r2, r1],
      ['r1', 'rb3'],
      { r2: 'rb1' },
    ],
  ])('%s', (_name, releases, inEffect, undoneBy) => {
    const state = replayReleases(releases);
    expect(state.inEffect.map((e) => e.id)).toEqual(inEffect);
    expect(Object.fromEntries(state.undoneBy)).toEqual(undoneBy);
  });
});

describe('releaseRunning: the release that put the source template in place', () => {
  const rb = undo('rb1', 'v2', 'v1', 'r2');
  it.each<[string, Release[], string, ReturnType<typeof releaseRunning>]>([
    [
      'the newest promotion to it',
      [r2, r1],
      'v2',
      { id: 'r2', kind: 'promote', from: 'dev', requester: 'U0REQ', at: '2026-11-22T10:05:00Z' },
    ],
    [
      'an older one still matching',
      [r2, r1],
      'v1',
      { id: 'r1', kind: 'promote', from: 'dev', requester: 'U0REQ', at: '2026-11-22T10:05:00Z' },
    ],
    [
      'a rollback that put it back (newest first)',
      [rb, r2, r1],
      'v1',
      { id: 'rb1', kind: 'rollback', requester: 'U0REQ', at: '2026-11-22T10:05:00Z' },
    ],
    ['deployed outside the bot', [r2, r1], 'v9', undefined],
    ['no releases', [], 'v1', undefined],
  ])('%s', (_, releases, fingerprint, expected) => {
    expect(releaseRunning(releases, fingerprint)).toEqual(expected);
  });
});
