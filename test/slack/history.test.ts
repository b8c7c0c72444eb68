// `/promote history` and the rollback summary's "runs now / puts back" line, rendered from release data.
import { describe, expect, it } from 'vitest';
import type { Release } from '../../src/domain/releases.js';
import { renderHistory } from '../../src/slack/views/history.js';
import { rollbackTargetLine } from '../../src/slack/views/summary.js';

const snap = (v: string) => ({ templateGz: '', parameters: [], fingerprint: v });
const NOW = new Date('2026-11-22T12:00:00Z');
function release(id: string, extra: Partial<Release> = {}): Release {
  return {
    id,
    promotionId: id,
    kind: 'promote',
    service: 'api',
    stage: 'prod',
    from: 'dev',
    before: snap('a'),
    after: snap('b'),
    requester: 'U0REQ',
    approvers: [],
    startedAt: '2026-11-22T10:00:00Z',
    endedAt: '2026-11-22T10:00:00Z',
    counts: { added: 1, modified: 2, removed: 0, replaced: 0 },
    ...extra,
  };
}

describe('renderHistory', () => {
  it('marks rolled-back releases, the one running now, and what each rollback did', () => {
    const text = renderHistory(
      'api',
      'prod',
      [
        release('rb2', { kind: 'rollback', undoes: 'r1', requester: 'U0ONCALL' }),
        release('rb1', { kind: 'rollback', undoes: 'r2', requester: 'U0ONCALL' }),
        release('r2'),
        release('r1'),
        release('r0'),
      ],
      NOW,
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('*Releases of api/prod* (newest first)');
    expect(lines[1]).toBe('• `rb2` 2 hours ago by <@U0ONCALL>, rollback undoing `r1`');
    expect(lines[2]).toBe('• `rb1` 2 hours ago by <@U0ONCALL>, rollback undoing `r2`');
    expect(lines[3]).toBe('• `r2` 2 hours ago by <@U0REQ>, from dev +1 ~2 -0 — ~rolled back~ by `rb1`');
    expect(lines[4]).toBe('• `r1` 2 hours ago by <@U0REQ>, from dev +1 ~2 -0 — ~rolled back~ by `rb2`');
    expect(lines[5]).toBe('• `r0` 2 hours ago by <@U0REQ>, from dev +1 ~2 -0 — *running now*');
  });

  it('escapes names from the store and says when nothing is recorded', () => {
    expect(renderHistory('<!here>', 'prod', [], NOW)).toBe('No releases recorded for &lt;!here&gt;/prod yet.');
    const text = renderHistory('api', 'prod', [release('r1', { from: '<!channel>' })], NOW);
    expect(text).toContain('from &lt;!channel&gt;');
  });
});

describe('rollbackTargetLine', () => {
  it.each([
    [
      { undoes: 'r2', runsNow: 'r2', putsBack: 'r1' },
      '*Undoes* release `r2`, which runs now · *puts back* release `r1`',
    ],
    [
      { undoes: 'r1', runsNow: 'r1' },
      '*Undoes* release `r1`, which runs now · *puts back* what ran before release `r1`',
    ],
    [
      { reapplies: 'r2', putsBack: 'r2' },
      '*Puts back* release `r2` (named) · *runs now* no release the bot recorded (all rolled back)',
    ],
    [{ reapplies: 'r1', runsNow: 'r2', putsBack: 'r1' }, '*Puts back* release `r1` (named) · *runs now* release `r2`'],
    [{}, undefined],
  ])('%j', (target, expected) => {
    expect(rollbackTargetLine(target)).toBe(expected);
  });
});
