// Orders and formats text the way people read it, without Intl: an Intl.Collator or a number's
// toLocaleString makes Node page in ICU's locale data (several MB of the binary's read-only data, resident in every
// replica from the first call on), for what the bot needs only on ASCII: CloudFormation logical IDs and stack names
// (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html: "The logical ID must be
// alphanumeric (A-Za-z0-9)"; stack names add hyphens) and counts.

type Token = { digits: string } | { char: string };

/** Splits into runs of ASCII digits and single other characters. */
function tokens(s: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < s.length; ) {
    if (isDigit(s.charCodeAt(i))) {
      let j = i + 1;
      while (j < s.length && isDigit(s.charCodeAt(j))) j++;
      out.push({ digits: s.slice(i, j) });
      i = j;
    } else {
      out.push({ char: s[i]! });
      i++;
    }
  }
  return out;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLetter = (c: string) => c.toLowerCase() !== c.toUpperCase();

/** Primary class: punctuation and other symbols, then digits, then letters (as Unicode's collation orders them). */
function primaryClass(t: Token): number {
  if ('digits' in t) return 1;
  return isLetter(t.char) ? 2 : 0;
}

function comparePrimary(a: Token, b: Token): number {
  const ca = primaryClass(a);
  const cb = primaryClass(b);
  if (ca !== cb) return ca - cb;
  if ('digits' in a && 'digits' in b) {
    const x = a.digits.replace(/^0+(?=\d)/, '');
    const y = b.digits.replace(/^0+(?=\d)/, '');
    return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
  }
  const x = 'char' in a ? a.char.toLowerCase() : '';
  const y = 'char' in b ? b.char.toLowerCase() : '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Lowercase before uppercase at the first difference of case (the tertiary level). */
function compareCase(a: Token, b: Token): number {
  if (!('char' in a) || !('char' in b) || a.char === b.char) return 0;
  const lowerA = a.char === a.char.toLowerCase();
  const lowerB = b.char === b.char.toLowerCase();
  return lowerA === lowerB ? 0 : lowerA ? -1 : 1;
}

/**
 * Natural order for identifiers, as Intl.Collator('en', { numeric: true }) orders ASCII: letters regardless of case
 * first (table < Table2 < Table10 < tableB), digit runs by their value, digits before letters, then lowercase before
 * uppercase; equal only for equal strings (ties broken by code unit, so sorting is deterministic).
 */
export function compareNatural(a: string, b: string): number {
  if (a === b) return 0;
  const ta = tokens(a);
  const tb = tokens(b);
  const n = Math.min(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const d = comparePrimary(ta[i]!, tb[i]!);
    if (d !== 0) return d;
  }
  if (ta.length !== tb.length) return ta.length - tb.length;
  for (let i = 0; i < n; i++) {
    const d = compareCase(ta[i]!, tb[i]!);
    if (d !== 0) return d;
  }
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
