// Counts and timestamps without Intl: digit grouping as toLocaleString('en-US') writes it, ISO timestamps in time
// order, and a scan of the sources for calls that would page in ICU's data (the logical-ID collator in
// src/domain/classify.ts is the one use kept, on purpose).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareIso, groupDigits } from '../../src/domain/text.js';

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

describe('compareIso', () => {
  it('orders toISOString timestamps by time', () => {
    const times = ['2026-12-02T10:00:00.000Z', '2026-11-30T23:59:59.999Z', '2026-12-02T09:59:59.999Z'];
    expect([...times].sort(compareIso)).toEqual([times[1], times[2], times[0]]);
    expect(compareIso(times[0]!, times[0]!)).toBe(0);
  });
});

describe('the bot', () => {
  // A first call of these pages in ICU's locale data: MBs of RSS per replica (row 4 of `npm run bench` prints
  // the file-backed part).
  const SRC = join(import.meta.dirname, '../../src');
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const INTL = /\bIntl\.(?!Collator\('en', \{ numeric: true \}\))\w+|\.toLocale\w*\(|\.localeCompare\(/;
  const code = (text: string) =>
    text
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
      .join('\n');

  it('has source files to check', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(INTL.test(code('const n = count.toLocaleString();'))).toBe(true);
    expect(INTL.test(code('new Intl.NumberFormat("en-US")'))).toBe(true);
    expect(INTL.test(code("const byLogicalId = new Intl.Collator('en', { numeric: true }).compare;"))).toBe(false);
    expect(INTL.test(code('// as Intl.Collator orders'))).toBe(false);
  });

  it.each(files)('%s formats and compares without Intl', (file) => {
    expect(INTL.exec(code(readFileSync(join(SRC, file), 'utf8')))?.[0]).toBeUndefined();
  });
});
