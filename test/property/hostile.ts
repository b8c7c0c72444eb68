// Random and hostile text for the property tests, and the checks every output must pass.
import fc from 'fast-check';
import { expect } from 'vitest';
import { checkMessage, validateBlocks } from '../fakes/slack.js';

/** mrkdwn and HTML that would ping or link if it got through, entities, control and bidi characters. */
export const HOSTILE_PIECES = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<!subteam^S1>',
  '<@U1>',
  '<@W1|boss>',
  '<#C1>',
  '<#C1|general>',
  '<http://x|y>',
  '<https://evil.example/?a=1&b=2|click>',
  '<mailto:a@b.c|mail>',
  '&lt;!channel&gt;',
  '&lt;',
  '&gt;',
  '&amp;',
  '&',
  '&am',
  '<',
  '>',
  '`',
  '```',
  '*',
  '_',
  '~',
  '|',
  '^',
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '\u200b',
  '\u200e',
  '\u200f',
  '\u202e',
  '\u2066',
  '\u2069',
  '\ufeff',
  '\ufe0f',
  '\ud800',
  '\udc00',
  '\udbff',
  '😀',
  '👨‍👩‍👧',
  '->',
  '→',
  ' to ',
  ':arrow_right:',
  '@here',
  '@channel',
  ' ',
];

/** Every UTF-16 code unit, lone surrogates included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_PIECES) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: anyUnit, maxLength: 8 }) },
);

/** Short hostile text. */
export const hostileShort = fc.array(piece, { maxLength: 10 }).map((a) => a.join(''));

/** A piece repeated thousands of times (up to ~40,000 characters). */
export const hostileLong = fc
  .tuple(fc.array(piece, { minLength: 1, maxLength: 3 }), fc.integer({ min: 200, max: 8000 }))
  .map(([p, n]) => p.join('').repeat(n).slice(0, 40_000));

/** Mostly short, sometimes very long. */
export const hostile = fc.oneof({ weight: 5, arbitrary: hostileShort }, { weight: 1, arbitrary: hostileLong });

/** Well-formed IDs the views may turn into mentions; the hostile pieces use other IDs (U1, S1, C1). */
export const VALID_USERS = ['U0REQ', 'U0ALICE', 'W0BOB'] as const;
export const VALID_GROUPS = ['S0LEADS'] as const;
export const VALID_CHANNELS = ['C0PROMOTE', 'C0OTHER'] as const;
const ALLOWED = [
  ...VALID_USERS.map((u) => `<@${u}>`),
  ...VALID_GROUPS.map((g) => `<!subteam^${g}>`),
  ...VALID_CHANNELS.map((c) => `<#${c}>`),
];

/** A Slack user field: a real ID or anything at all. */
export const userId = fc.oneof(fc.constantFrom<string>(...VALID_USERS), hostileShort);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text a message may carry: no `<` or `>` but the mentions the view made from well-formed IDs (so no mention
 * or link from input), every `&` an entity (mrkdwn), and well-formed UTF-16 (a lone surrogate makes
 * @slack/web-api's form encoding throw `URI malformed` or mangle the text).
 */
export function expectInert(text: string, where: string, mrkdwn = true): void {
  let rest = text;
  for (const a of ALLOWED) rest = rest.split(a).join('');
  expect(rest, `${where}: ${JSON.stringify(text.slice(0, 300))}`).not.toMatch(/[<>]/);
  if (mrkdwn) expect(rest.replace(/&(amp|lt|gt);/g, ''), `${where}: stray &`).not.toContain('&');
  expect(LONE_SURROGATE.test(text), `${where}: lone surrogate in ${JSON.stringify(text.slice(0, 300))}`).toBe(false);
}

/** Every text object in blocks (mrkdwn and plain_text) passes expectInert. */
export function expectBlocksInert(value: unknown, path = 'blocks'): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      expectBlocksInert(v, `${path}/${i}`);
    });
    return;
  }
  if (!value || typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') {
    expectInert(o.text, path, o.type === 'mrkdwn');
  }
  for (const [k, v] of Object.entries(o)) if (typeof v === 'object') expectBlocksInert(v, `${path}/${k}`);
}

/** What Slack would do with a chat.postMessage / chat.update of this view: accept it whole. */
export function expectSlackAccepts(view: { text: string; blocks?: unknown[] }): void {
  const r = checkMessage(view.text, view.blocks, { requireContent: true });
  expect(r, JSON.stringify(r.ok ? '' : r)).toMatchObject({ ok: true, truncated: false });
  expect(view.text.length).toBeGreaterThan(0);
  expectInert(view.text, 'text');
  if (view.blocks) {
    expect(validateBlocks(view.blocks)).toEqual([]);
    expectBlocksInert(view.blocks);
  }
}

/** Runs count cases (more with FC_RUNS=…); seeds are printed by fast-check on failure. */
export const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 200) };
