// Formats counts and orders timestamps without Intl: a number's toLocaleString or a string's localeCompare makes
// Node page in ICU's locale data (MBs of the binary's read-only data, resident in every replica from the first
// call on), for what needs no locale: digit grouping and ISO 8601 timestamps.

/** An integer with thousands separators, as people read counts: 2,412 and -1,000,000. */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n)) return String(n);
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** Orders ISO 8601 UTC timestamps of one format (toISOString's) by time: their text order is their time order. */
export const compareIso = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
