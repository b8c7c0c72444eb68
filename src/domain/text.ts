// Orders and formats text the way people read it, without Intl: an Intl.Collator or a number's
// toLocaleString makes Node page in ICU's locale data (several MB of the binary's read-only data, resident in every
// replica from the first call on), for what the bot needs only on ASCII: CloudFormation logical IDs and stack names
// (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html: "The logical ID must be
// alphanumeric (A-Za-z0-9)"; stack names add hyphens) and counts.

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * What a character weighs first (digits aside): letters after every other character, regardless of case
 * (2 << 16 | its lowercase code), any other character by its code.
 */
function primary(c: number): number {
  if (c >= 97 && c <= 122) return (2 << 16) | c;
  if (c >= 65 && c <= 90) return (2 << 16) | (c + 32);
  if (c < 128) return c;
  const ch = String.fromCharCode(c);
  const lower = ch.toLowerCase();
  return lower === ch.toUpperCase() ? c : (2 << 16) | lower.charCodeAt(0);
}
const DIGITS = 1 << 16;

/** The end of the digit run starting at i, and where its value starts (leading zeros skipped). */
function digitRun(s: string, i: number): { start: number; end: number } {
  let end = i;
  while (end < s.length && isDigit(s.charCodeAt(end))) end++;
  let start = i;
  while (start < end - 1 && s.charCodeAt(start) === 48) start++;
  return { start, end };
}

/**
 * Natural order for identifiers, as Intl.Collator('en', { numeric: true }) orders ASCII: letters regardless of case
 * first (table < Table2 < Table10 < tableB), digit runs by their value, other characters before digits and digits
 * before letters, then lowercase before uppercase at the first difference of case; equal only for equal strings
 * (ties broken by code unit, so sorting is deterministic). Allocates nothing: it sorts plans of 2,500 changes.
 */
export function compareNatural(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  let byCase = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      const x = digitRun(a, i);
      const y = digitRun(b, j);
      const lx = x.end - x.start;
      const ly = y.end - y.start;
      if (lx !== ly) return lx - ly;
      for (let k = 0; k < lx; k++) {
        const d = a.charCodeAt(x.start + k) - b.charCodeAt(y.start + k);
        if (d !== 0) return d;
      }
      i = x.end;
      j = y.end;
      continue;
    }
    const pa = isDigit(ca) ? DIGITS : primary(ca);
    const pb = isDigit(cb) ? DIGITS : primary(cb);
    if (pa !== pb) return pa - pb;
    // Same letter in another case: lowercase first, if nothing weighs more later.
    if (byCase === 0 && ca !== cb) byCase = ca > cb ? -1 : 1;
    i++;
    j++;
  }
  if (i < a.length) return 1;
  if (j < b.length) return -1;
  if (byCase !== 0) return byCase;
  return a < b ? -1 : 1;
}

/** An integer with thousands separators, as people read counts: 2,412 and -1,000,000. */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n)) return String(n);
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** Orders ISO 8601 UTC timestamps of one format (toISOString's) by time: their text order is their time order. */
export const compareIso = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
