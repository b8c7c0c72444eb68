// How far apart the progress notes of an execution are (src/workflows/execute.ts): progressNoteAfter, then a
// tenth of the time the execution has run, so that a long deployment while many run does not fill its thread.
import { expect, it } from 'vitest';
import { noteSpacingMs } from '../../src/workflows/execute.js';

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
