// Random IDs: request IDs (12 hex digits) and promotion IDs (8 characters safe in URLs, Slack button values and
// Redis keys), distinct over many draws.
import { describe, expect, it } from 'vitest';
import { randomHex48, shortId } from '../src/random.js';

describe('random IDs', () => {
  it.each([
    ['randomHex48', randomHex48, /^[0-9a-f]{12}$/],
    ['shortId', shortId, /^[A-Za-z0-9]{8}$/],
  ] as const)('%s: the format, and no repeat in 20,000 draws', (_name, draw, format) => {
    const ids = Array.from({ length: 20_000 }, () => draw());
    for (const id of ids) expect(id).toMatch(format);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shortId uses every position: each character varies over the draws', () => {
    const ids = Array.from({ length: 2_000 }, () => shortId());
    for (let i = 0; i < 8; i++) expect(new Set(ids.map((id) => id[i])).size).toBeGreaterThan(20);
  });
});
