import { describe, expect, it } from 'vitest';
import {
  code,
  escapeMrkdwn,
  mention,
  mentionGroup,
  mentionUser,
  plainText,
  truncate,
  truncateEscaped,
} from '../../src/slack/escape.js';

describe('escapeMrkdwn', () => {
  it.each([
    ['plain', 'plain'],
    ['<!channel>', '&lt;!channel&gt;'],
    ['<@U123>', '&lt;@U123&gt;'],
    ['<!subteam^S1>', '&lt;!subteam^S1&gt;'],
    ['a & b', 'a &amp; b'],
    ['&lt;', '&amp;lt;'],
    ['*bold* _it_ `code` ~s~ @here', '*bold* _it_ `code` ~s~ @here'],
    ['<https://evil|click>', '&lt;https://evil|click&gt;'],
    // lone surrogates (invalid UTF-16) become U+FFFD; pairs (emoji) stay
    ['a\ud800', 'a\ufffd'],
    ['\udc00b', '\ufffdb'],
    ['a\ud800b<', 'a\ufffdb&lt;'],
    ['\udbff\udbff\udfff', '\ufffd\udbff\udfff'],
    ['😀', '😀'],
  ])('%j → %j', (input, output) => {
    expect(escapeMrkdwn(input)).toBe(output);
  });
});

describe('plainText with invalid UTF-16', () => {
  it.each([
    ['<!channel>', '‹!channel›'],
    ['x\ud83d', 'x\ufffd'],
    ['\ude00<', '\ufffd‹'],
  ])('%j → %j', (input, output) => {
    expect(plainText(input)).toBe(output);
  });
});

describe('code', () => {
  it.each([
    ['UsersTable', '`UsersTable`'],
    ['a`b', '`aˋb`'],
    ['<!here>', '`&lt;!here&gt;`'],
    ['line1\nline2', '`line1 line2`'],
    ['', '`""`'],
    ['  ', '`"  "`'],
  ])('%j → %s', (input, output) => {
    expect(code(input)).toBe(output);
  });
});

describe('truncate', () => {
  it.each([
    ['short', 10, 'short'],
    ['exactly10!', 10, 'exactly10!'],
    ['this is too long', 10, 'this is t…'],
    ['abc', 1, '…'],
    ['abc', 0, ''],
  ])('%j to %d → %j', (input, n, output) => {
    expect(truncate(input, n)).toBe(output);
  });

  it('does not split an emoji', () => {
    const out = truncate('ab😀cdef', 4);
    expect(out).toBe('ab…');
    expect(out.length).toBeLessThanOrEqual(4);
  });
});

describe('truncateEscaped', () => {
  it('does not leave half an entity', () => {
    const s = escapeMrkdwn('aaaa<bbbb');
    for (let n = 3; n < s.length; n++) {
      const out = truncateEscaped(s, n);
      expect(out.length).toBeLessThanOrEqual(n);
      expect(out).not.toMatch(/&[a-z]*…$/);
    }
  });

  it.each<[string, number, string]>([
    ['Approved by <@U0ALICE>, <@U0BOB>', 30, 'Approved by <@U0ALICE>, …'],
    ['Needs 1 approval from <!subteam^S0LEADS>', 30, 'Needs 1 approval from …'],
    ['Only from <#C0PROMOTE>', 15, 'Only from …'],
    ['Approved by <@U0ALICE>', 21, 'Approved by …'],
    ['Approved by <@U0ALICE>', 22, 'Approved by <@U0ALICE>'],
    ['a &lt;b&gt; <@U0A>', 17, 'a &lt;b&gt; …'],
    ['held by <@U0REQ>', 10, 'held by …'],
  ])('does not leave half a mention: %j cut at %i', (text, n, out) => {
    expect(truncateEscaped(text, n)).toBe(out);
  });
});

describe('mentions', () => {
  it.each([
    ['U0ALICE', '<@U0ALICE>'],
    ['W123ABC', '<@W123ABC>'],
    ['u0alice', 'u0alice'],
    ['U0ALICE> <!channel', 'U0ALICE&gt; &lt;!channel'],
    ['<!channel>', '&lt;!channel&gt;'],
    ['S0LEADS', 'S0LEADS'],
  ])('mentionUser(%j) → %j', (id, out) => {
    expect(mentionUser(id)).toBe(out);
  });

  it.each([
    ['S0LEADS', '<!subteam^S0LEADS>'],
    ['U0ALICE', 'U0ALICE'],
    ['S0LEADS>', 'S0LEADS&gt;'],
  ])('mentionGroup(%j) → %j', (id, out) => {
    expect(mentionGroup(id)).toBe(out);
  });

  it.each([
    ['S0LEADS', '<!subteam^S0LEADS>'],
    ['U0ALICE', '<@U0ALICE>'],
    ['<!here>', '&lt;!here&gt;'],
  ])('mention(%j) → %j', (id, out) => {
    expect(mention(id)).toBe(out);
  });
});

describe('plainText', () => {
  it('keeps angle brackets out of plain text', () => {
    expect(plainText('Promote <!channel>: a → b')).toBe('Promote ‹!channel›: a → b');
  });
});
