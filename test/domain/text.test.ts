// Natural order and digit grouping without Intl: a table of the orders people expect, and a property check that
// the order agrees with Intl.Collator('en', { numeric: true }) on CloudFormation logical IDs and stack names
// (what the bot used before, and what people are used to).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareNatural, groupDigits } from '../../src/domain/text.js';

const collator = new Intl.Collator('en', { numeric: true }).compare;

describe('compareNatural', () => {
  it.each([
    ['Table2', 'Table10'],
    ['Table9', 'Table10'],
    ['table', 'Table2'],
    ['Table10', 'tableB'],
    ['Bucket', 'bucketA'],
    ['a', 'A'],
    ['aB', 'Ab'],
    ['Queue1', 'QueueA'],
    ['api-prod', 'api2'],
    ['api-prod-2', 'api-prod-10'],
    ['Fn007', 'Fn8'],
    ['', 'A'],
    ['A', 'AA'],
    ['a10', 'Z9'],
  ])('%s sorts before %s', (a, b) => {
    expect(compareNatural(a, b)).toBeLessThan(0);
    expect(compareNatural(b, a)).toBeGreaterThan(0);
  });

  it('is zero only for the same string', () => {
    expect(compareNatural('Role', 'Role')).toBe(0);
    expect(compareNatural('Fn01', 'Fn1')).not.toBe(0);
    expect(Math.sign(compareNatural('Fn01', 'Fn1'))).toBe(-Math.sign(compareNatural('Fn1', 'Fn01')));
  });

  it('sorts a list as people read it', () => {
    const ids = ['Table10', 'bucket', 'Table2', 'Bucket', 'table1', 'Api-Role', 'Api1'];
    expect([...ids].sort(compareNatural)).toEqual([
      'Api-Role',
      'Api1',
      'bucket',
      'Bucket',
      'table1',
      'Table2',
      'Table10',
    ]);
  });

  /** compareNatural orders every pair as the collator does; where it finds two equal (leading zeros), any fixed order will do. */
  const agreesWithCollator = (ids: fc.Arbitrary<string>) =>
    fc.assert(
      fc.property(ids, ids, (a, b) => {
        const expected = Math.sign(collator(a, b));
        if (expected !== 0) expect(Math.sign(compareNatural(a, b))).toBe(expected);
      }),
      { numRuns: 5_000 },
    );

  it('agrees with Intl.Collator("en", { numeric: true }) on logical IDs and stack names', () => {
    agreesWithCollator(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/));
  });

  it('agrees with the collator on near-equal IDs (same letters, other case or numbers)', () => {
    const word = fc.constantFrom('Table', 'table', 'TABLE', 'TaBle');
    const suffix = fc.constantFrom('', 'a', 'A', '-x', '0');
    agreesWithCollator(fc.tuple(word, fc.nat(120), suffix).map(([w, n, x]) => `${w}${n}${x}`));
  });
});

describe('groupDigits', () => {
  it.each([
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [1000, '1,000'],
    [51200, '51,200'],
    [2412, '2,412'],
    [1_000_000, '1,000,000'],
    [-1234567, '-1,234,567'],
  ])('%d is written %s', (n, s) => {
    expect(groupDigits(n)).toBe(s);
    expect(groupDigits(n)).toBe(n.toLocaleString('en-US'));
  });
});

describe('the bot', () => {
  // A first call into Intl pages in ICU's data: 6 MB more RSS per replica, measured in row 4 of `npm run bench`.
  const SRC = join(import.meta.dirname, '../../src');
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const INTL = /\bIntl\.\w+|\.toLocale\w*\(|\.localeCompare\(/;
  const code = (text: string) =>
    text
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
      .join('\n');

  it('has source files to check', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(INTL.test(code("const c = new Intl.Collator('en').compare;"))).toBe(true);
    expect(INTL.test(code('// as Intl.Collator orders'))).toBe(false);
  });

  it.each(files)('%s calls nothing of Intl', (file) => {
    expect(INTL.exec(code(readFileSync(join(SRC, file), 'utf8')))?.[0]).toBeUndefined();
  });
});
