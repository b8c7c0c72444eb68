// How far apart the progress notes of an execution are (src/workflows/execute.ts): progressNoteAfter, then a
// tenth of the time the execution has run, so that a long deployment while many run does not fill its thread;
// and when a progress update waiting for Slack's budget becomes due (goes as urgent): once a note could not land.
import { expect, it } from 'vitest';
import { noteSpacingMs, progressDueAt } from '../../src/workflows/execute.js';

it.each([
  // progressNoteAfter, time the execution has run → least time between two notes
  [8_000, 0, 8_000],
  [8_000, 45_000, 8_000],
  [8_000, 80_000, 8_000],
  [8_000, 120_000, 12_000],
  [8_000, 20 * 60_000, 120_000],
  [120, 5_000, 500],
  [8_000, -1_000, 8_000], // a clock that went back
])(
  'spaces the notes of a long execution out: after %i ms, having run %i ms, at least %i ms apart',
  (after, ran, spacing) => {
    expect(noteSpacingMs(after, ran)).toBe(spacing);
  },
);

it.each([
  // note waiting (since), thread last showed more at, spacing, grace → the update is due at
  [false, 0, 10_000, 8_000, 2_500, 21_500], // no note yet: a second after the next one would have landed
  [true, 19_000, 10_000, 8_000, 2_500, 20_000], // a note waits for its channel: due a second after it was queued
  [true, 40_000, 10_000, 8_000, 2_500, 41_000], // a note queued late (a long execution's spacing, say)
  [false, 5_000, 30_000, 120_000, 2_500, 153_500], // the last note landed: the next one first
])(
  'a progress update is due once a note could not land: noting %s since %i, shown at %i, spacing %i, grace %i → due at %i',
  (noting, notingSince, shownAt, spacingMs, graceMs, due) => {
    expect(progressDueAt({ noting, notingSince, shownAt, spacingMs, graceMs })).toBe(due);
  },
);
