// Parsing of /promote and /rollback text. Pure: always returns a result, never throws. The text comes
// already unescaped by the Slack layer; refusals are values (./refusals.ts), rendered by the Slack views.
import type { PromoteConfig, ServiceConfig, StageConfig } from './config-model.js';
import type { Refusal, UsageRefusal } from './refusals.js';

export type PromoteCommand =
  | { kind: 'promote'; service: string; from?: string; to: string }
  | { kind: 'status'; service?: string }
  | { kind: 'history'; service: string; stage?: string }
  | { kind: 'unhold'; service: string; stage: string }
  | { kind: 'unlock'; service: string; stage: string }
  | { kind: 'help' }
  | { kind: 'usage'; refusal: UsageRefusal };

export type RollbackCommand =
  | { kind: 'rollback'; service: string; stage?: string; release?: string }
  | { kind: 'help' }
  | { kind: 'usage'; refusal: UsageRefusal };

const usage = (refusal: UsageRefusal) => ({ kind: 'usage' as const, refusal });

/** Words after `/promote` that are not a service name (config refuses services named like them). */
export const PROMOTE_SUBCOMMANDS = ['help', 'status', 'history', 'unhold', 'unlock'] as const;
const HELP = ['help', '-h', '--help', '?'];

/**
 * `->`, `=>`, `-->` (and the em/en dash that macOS and iOS smart punctuation make of `--`), the unicode
 * arrows (➡️ carries a U+FE0F variation selector), `:arrow_right:` in case the emoji arrives as its
 * shortcode, and ` to ` between words only: `\bto\b` would split a stage named `go-to-prod`.
 */
const ARROW =
  /(?<!\s)\s*(?:(?<![-‐‑‒–—―])[-‐‑‒–—―]+>|(?<!=)=+>|[→⇒⇨⟶⟹➔➜➝➞➡]\uFE0F?|:arrow_right:)\s*|(?<!\s)\s+to\s+/iu;
// The look-behinds keep ARROW linear: without them a run of n dashes (or `=`, or spaces) is rescanned from
// each of its n positions when no `>` follows, so 40,000 dashes took most of a second. A match can only start
// where a run starts, and a match starting inside a run would also have matched from the run's start.

/**
 * Longest command text read. Slack documents no bound for a slash command's `text`; it recommends keeping a
 * message's text under 4,000 characters (chat.postMessage, docs.slack.dev/reference/methods/chat.postMessage),
 * and a real command is well under 200. Anything longer is refused before any parsing, which bounds the work
 * done before the ack whatever arrives. Counted on the text once unescaped.
 */
export const MAX_COMMAND_TEXT = 4000;

function tooLong(text: string): { kind: 'usage'; refusal: UsageRefusal } | undefined {
  if (text.length <= MAX_COMMAND_TEXT) return undefined;
  return usage({ code: 'too_long', length: text.length, max: MAX_COMMAND_TEXT });
}

function words(text: string): string[] {
  return text
    .replace(/[\u00a0\u2000-\u200b]/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

export function parsePromoteText(text: string): PromoteCommand {
  const long = tooLong(text);
  if (long) return long;
  const w = words(text);
  if (w.length === 0 || HELP.includes(w[0]!.toLowerCase())) return { kind: 'help' };
  const [head, ...rest] = w;
  const verb = head!.toLowerCase();
  if (verb === 'status') {
    if (rest.length > 1) return usage({ code: 'status_args' });
    return { kind: 'status', service: rest[0] };
  }
  if (verb === 'history') {
    if (rest.length < 1 || rest.length > 2) return usage({ code: 'history_args' });
    return { kind: 'history', service: rest[0]!, stage: rest[1] };
  }
  if (verb === 'unhold' || verb === 'unlock') {
    if (rest.length !== 2) return usage({ code: verb === 'unhold' ? 'unhold_args' : 'unlock_args' });
    return { kind: verb, service: rest[0]!, stage: rest[1]! };
  }
  const service = head!;
  const path = rest.join(' ');
  if (!path) return usage({ code: 'missing_stage', service });
  const stages = readStages(path);
  if (!stages) return usage({ code: 'unreadable_stages', text: path });
  return { kind: 'promote', service, ...stages };
}

/** `dev→prod`, `dev to prod`, `from dev to prod`, `dev prod`, `to prod`, `prod`; undefined when unreadable. */
function readStages(path: string): { from?: string; to: string } | undefined {
  const text = path.replace(/^from\s+/i, '');
  if (ARROW.test(text)) {
    const parts = text.split(ARROW);
    if (parts.length !== 2 || parts.some((p) => p === '' || /\s/.test(p))) return undefined;
    return { from: parts[0]!, to: parts[1]! };
  }
  const parts = text.split(' ');
  if (parts.length === 1) return { to: parts[0]! };
  if (parts.length === 2 && parts[0]!.toLowerCase() === 'to') return { to: parts[1]! };
  if (parts.length === 2) return { from: parts[0]!, to: parts[1]! };
  return undefined;
}

export function parseRollbackText(text: string): RollbackCommand {
  const long = tooLong(text);
  if (long) return long;
  const w = words(text);
  if (w.length === 0 || HELP.includes(w[0]!.toLowerCase())) return { kind: 'help' };
  const [service, ...rest] = w;
  if (rest.length === 0) return { kind: 'rollback', service: service! };
  if (rest.at(-1)!.toLowerCase() === 'to') return usage({ code: 'missing_release' });
  if (rest.length === 1) return { kind: 'rollback', service: service!, stage: rest[0] };
  if (rest.length === 3 && rest[1]!.toLowerCase() === 'to') {
    return { kind: 'rollback', service: service!, stage: rest[0], release: rest[2] };
  }
  if (rest.length === 2 && rest[0]!.toLowerCase() === 'to') {
    return { kind: 'rollback', service: service!, release: rest[1] };
  }
  return usage({ code: 'unreadable_rollback', text: rest.join(' ') });
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** `stg` for `staging`, `prod` for `production`: the longer name with letters left out, same first letter. */
function abbreviates(short: string, long: string): boolean {
  if (short.length < 2 || short.length >= long.length || short[0] !== long[0]) return false;
  let i = 0;
  for (const ch of long) if (ch === short[i]) i++;
  return i === short.length;
}

/** The candidate nearest to `name` (ignoring case), if any is near enough to be worth suggesting. */
export function closest(name: string, candidates: string[]): string | undefined {
  const a = name.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const b = c.toLowerCase();
    const d = editDistance(a, b);
    // A few typos, but never every letter replaced (`qa` is not a typo of `ab`); or an abbreviation.
    const near =
      (d <= Math.max(2, Math.floor(a.length / 3)) && d < Math.min(a.length, b.length)) ||
      abbreviates(a, b) ||
      abbreviates(b, a);
    if (near && (!best || d < best.d)) best = { c, d };
  }
  return best?.c;
}

/** Exact name first, then ignoring case (config refuses names that differ only in case). */
function lookup(names: string[], name: string): string | undefined {
  return names.find((n) => n === name) ?? names.find((n) => n.toLowerCase() === name.toLowerCase());
}

export type Resolved<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

function suggestion(name: string, known: string[]): { suggestion?: string } {
  const near = closest(name, known);
  return near === undefined ? {} : { suggestion: near };
}

const refuse = (refusal: Refusal): { ok: false; refusal: Refusal } => ({ ok: false, refusal });

/**
 * Whether `channel` may see `service` in /promote status and history: a service without a `channels` list is
 * everyone's; one with a list only its channels' (in a direct message, whose IDs start with D, never).
 */
export function channelMayUse(service: Pick<ServiceConfig, 'channels'>, channel: string): boolean {
  if (!service.channels) return true;
  return !channel.startsWith('D') && service.channels.includes(channel);
}

export function resolveService(config: PromoteConfig, name: string, channel: string): Resolved<ServiceConfig> {
  // Own keys only: `config.services[name]` would find `constructor` or `toString` on Object.prototype.
  const known = Object.keys(config.services);
  const key = lookup(known, name);
  const service = key === undefined ? undefined : config.services[key];
  if (!service) return refuse({ code: 'unknown_service', name, ...suggestion(name, known), known });
  if (service.channels && !service.channels.includes(channel)) {
    return refuse({ code: 'channel_not_allowed', service: service.name, channels: service.channels });
  }
  return { ok: true, value: service };
}

export function resolveStage(service: ServiceConfig, name: string): Resolved<StageConfig> {
  const known = service.stages.map((s) => s.name);
  const stageName = lookup(known, name);
  const stage = service.stages.find((s) => s.name === stageName);
  if (!stage) return refuse({ code: 'unknown_stage', name, ...suggestion(name, known), known });
  return { ok: true, value: stage };
}

/** Checks a promotion path against the config: `prod→dev` or skipping a stage is refused. */
export function resolvePath(
  service: ServiceConfig,
  fromName: string | undefined,
  toName: string,
): Resolved<{ from: StageConfig; to: StageConfig }> {
  const to = resolveStage(service, toName);
  if (!to.ok) return to;
  const allowed = to.value.promotesFrom;
  if (allowed.length === 0) return refuse({ code: 'first_stage', service: service.name, stage: to.value.name });
  if (fromName === undefined) {
    const from = resolveStage(service, allowed[0]!);
    return from.ok ? { ok: true, value: { from: from.value, to: to.value } } : from;
  }
  const from = resolveStage(service, fromName);
  if (!from.ok) return from;
  if (from.value.name === to.value.name) {
    return refuse({ code: 'same_stage', service: service.name, stage: to.value.name });
  }
  if (!allowed.includes(from.value.name)) {
    return refuse({
      code: 'path_not_allowed',
      service: service.name,
      from: from.value.name,
      to: to.value.name,
      allowed,
    });
  }
  return { ok: true, value: { from: from.value, to: to.value } };
}
