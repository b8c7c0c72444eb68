// One change as mrkdwn lines, the full change list (thread or file), and splitting long text.
import { LOUD_VERBS } from '../../domain/classify.js';
import { groupChanges } from '../../domain/stacks.js';
import type { ClassifiedChange, Impact, Plan, PlanCounts, PropertyChange } from '../../domain/types.js';
import { code, escapeMrkdwn, truncate, truncateEscaped } from '../escape.js';
import { count, plural } from './blocks.js';

/** Marker at the start of each change line, so the dangerous ones stand out when scanning. */
export const IMPACT_MARK: Readonly<Record<Impact, string>> = {
  destroys: '⚠',
  replaces: '🔁',
  'may-replace': '❓',
  security: '🔐',
  removes: '➖',
  modify: '✏️',
  add: '➕',
  minor: '·',
};

export interface EntryOptions {
  /** Property lines shown under a modified resource; the rest are counted. */
  maxProperties: number;
  /** Characters kept of each before/after value (before escaping). */
  valueChars: number;
  /** Cap on the whole entry, so one change never takes more than a section can hold. */
  maxChars?: number;
}

const MODIFY_ACTIONS = new Set(['Modify', 'Dynamic', 'SyncWithActual', 'unknown']);

/**
 * `⚠ *DELETES* table `UsersTable` — data will be lost`: the reason with its loud verb in bold and
 * the logical ID as code. The reason comes from AWS data, so everything else is escaped.
 */
export function formatReason(c: ClassifiedChange): string {
  let rest = c.reason;
  let verb = '';
  const loud = LOUD_VERBS.find((v) => rest.startsWith(`${v} `));
  if (loud) {
    verb = `*${loud}* `;
    rest = rest.slice(loud.length + 1);
  }
  const at = c.logicalId ? rest.indexOf(c.logicalId) : -1;
  const body =
    at < 0
      ? escapeMrkdwn(truncate(rest, 400))
      : `${escapeMrkdwn(rest.slice(0, at))}${code(truncate(c.logicalId, 120))}${escapeMrkdwn(truncate(rest.slice(at + c.logicalId.length), 400))}`;
  return `${IMPACT_MARK[c.impact]} ${verb}${body}`;
}

function shortPath(path: string): string {
  return path.startsWith('Properties.') ? path.slice('Properties.'.length) : path;
}

function value(v: string | undefined, chars: number): string {
  return v === undefined ? '_(none)_' : code(truncate(v, chars));
}

/** `↳ `TableName`: `old` → `new` · forces replacement` */
export function formatProperty(p: PropertyChange, valueChars: number): string {
  const name = code(truncate(shortPath(p.path), 80));
  const change =
    p.before === undefined && p.after === undefined
      ? ' changed'
      : `: ${value(p.before, valueChars)} → ${value(p.after, valueChars)}`;
  const forces =
    p.requiresRecreation === 'Always'
      ? ' · forces replacement'
      : p.requiresRecreation === 'Conditionally'
        ? ' · may force replacement'
        : '';
  return `      ↳ ${name}${change}${forces}`;
}

/** The change line plus, for modified resources, one line per property (capped). */
export function formatChangeEntry(c: ClassifiedChange, opts: EntryOptions): string {
  const lines = [formatReason(c)];
  if (MODIFY_ACTIONS.has(c.action)) {
    const shown = c.properties.slice(0, opts.maxProperties);
    for (const p of shown) lines.push(formatProperty(p, opts.valueChars));
    const more = c.properties.length - shown.length;
    if (more > 0) lines.push(`      ↳ _…and ${plural(more, 'more property', 'more properties')}_`);
  }
  const entry = lines.join('\n');
  return opts.maxChars === undefined ? entry : truncateEscaped(entry, opts.maxChars);
}

/** "*40 changes:* 10 added · 20 modified · 5 removed · 3 replaced" (mrkdwn). */
export function formatCounts(counts: PlanCounts): string {
  const parts = [
    `${count(counts.added)} added`,
    `${count(counts.modified)} modified`,
    `${count(counts.removed)} removed`,
    `${count(counts.replaced)} replaced`,
  ];
  return `*${plural(counts.total, 'change')}:* ${parts.join(' · ')}`;
}

/** The heading of one stack's changes: `*Stack `api-prod`:*`, or `*Nested stack `Storage`:*` below a top stack. */
export function stackHeading(stack: string, topStacks: readonly string[]): string {
  return topStacks.includes(stack)
    ? `*Stack ${code(truncate(stack, 128))}:*`
    : `*Nested stack ${code(truncate(stack, 200))}:*`;
}

/**
 * The changes in the order they are reviewed in, one entry each (see groupChanges in domain/stacks.ts). When
 * they span several stacks (the stacks of a multi-stack stage, nested stacks), the risky changes of every stack
 * come first, each naming its stack, then each stack's other changes under its heading: the first entry of each
 * group starts with the group's heading. `topStacks` are the operation's own stacks (the first also stands for
 * changes that name none); any other stack is a nested one.
 */
export function reviewEntries(
  changes: readonly ClassifiedChange[],
  opts: EntryOptions,
  topStacks: readonly string[] = [],
): { changes: ClassifiedChange[]; entries: string[] } {
  const order = reviewOrder(changes, topStacks);
  return { changes: order.changes, entries: order.changes.map((_, i) => order.entry(i, opts)) };
}

/**
 * The review order of reviewEntries, with each entry formatted only when asked for: the summary shows the first
 * few dozen of a plan of thousands, and formatting all of them (at each detail level) was most of its cost.
 */
export function reviewOrder(
  changes: readonly ClassifiedChange[],
  topStacks: readonly string[] = [],
): { changes: ClassifiedChange[]; entry: (i: number, opts: EntryOptions) => string } {
  const top = topStacks[0];
  const named = changes.map((c) => (c.stack === undefined && top !== undefined ? { ...c, stack: top } : c));
  // One stack (or none named): as given, without headings.
  if (new Set(named.map((c) => c.stack)).size <= 1) {
    const same = [...changes];
    return { changes: same, entry: (i, opts) => formatChangeEntry(same[i]!, opts) };
  }
  const original = new Map(named.map((n, i) => [n, changes[i]!]));
  // The risky changes first (worst first, across stacks), then the stacks in the order they run, each followed by
  // the stacks nested in it; nested stacks of a lone top stack (paths without it) come after it.
  const rank = (stack: string | undefined): number => {
    if (stack === undefined) return -1;
    const at = topStacks.indexOf(stack);
    if (at >= 0) return 2 * at;
    const parent = topStacks.findIndex((t) => stack.startsWith(`${t}/`));
    return parent >= 0 ? 2 * parent + 1 : 2 * topStacks.length;
  };
  const groups = groupChanges(named).sort((a, b) => rank(a.stack) - rank(b.stack));
  const ordered: ClassifiedChange[] = [];
  /** per entry: the change as grouped (stack named) and what goes before its line */
  const shown: { change: ClassifiedChange; before: string }[] = [];
  for (const g of groups) {
    const heading =
      g.stack === undefined
        ? '*Destructive, replacing and security changes (all stacks):*'
        : stackHeading(g.stack, topStacks);
    g.changes.forEach((c, i) => {
      const label = g.stack === undefined && c.stack !== undefined ? `${code(truncate(c.stack, 128))} · ` : '';
      ordered.push(original.get(c) ?? c);
      shown.push({ change: c, before: i === 0 ? `${heading}\n${label}` : label });
    });
  }
  return {
    changes: ordered,
    entry: (i, opts) => `${shown[i]!.before}${formatChangeEntry(shown[i]!.change, opts)}`,
  };
}

/** The full list, minor changes included: one line per change plus its property lines. Escaped mrkdwn. */
export function renderChangeList(plan: Plan, topStacks: readonly string[] = []): string {
  if (plan.changes.length === 0) return 'No changes.';
  const lines = [formatCounts(plan.counts)];
  lines.push(...reviewEntries(plan.changes, { maxProperties: 50, valueChars: 300 }, topStacks).entries);
  return lines.join('\n');
}

/**
 * Splits text into chunks of at most maxChars, on line boundaries. A single line longer than
 * maxChars is cut hard, but never inside an `&amp;` entity or an emoji's surrogate pair.
 * Empty text gives no chunks (there is nothing to post).
 */
export function splitMessage(text: string, maxChars: number): string[] {
  if (maxChars < 8) throw new Error(`splitting a message into chunks of ${maxChars} characters: too small`);
  const chunks: string[] = [];
  let current = '';
  const flush = () => {
    if (current !== '') chunks.push(current);
    current = '';
  };
  for (const line of text.split('\n')) {
    const candidate = current === '' ? line : `${current}\n${line}`;
    if (candidate.length <= maxChars) {
      current = candidate;
      continue;
    }
    flush();
    let rest = line;
    while (rest.length > maxChars) {
      const cut = safeCut(rest, maxChars);
      chunks.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    current = rest;
  }
  flush();
  return chunks;
}

function safeCut(s: string, max: number): number {
  let cut = max;
  if (/[\uD800-\uDBFF]/.test(s.charAt(cut - 1))) cut--;
  const entity = /&[a-z]{0,4}$/.exec(s.slice(Math.max(0, cut - 5), cut));
  if (entity && entity[0].length < cut) cut -= entity[0].length;
  return cut;
}
