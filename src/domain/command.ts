// Parsing of /promote and /rollback text. Pure: always returns a result, never throws.
import type { PromoteConfig, ServiceConfig, StageConfig } from '../config.js';
import { escapeMrkdwn as esc } from '../slack/escape.js';

export type PromoteCommand =
  | { kind: 'promote'; service: string; from?: string; to: string }
  | { kind: 'status'; service?: string }
  | { kind: 'history'; service: string; stage?: string }
  | { kind: 'unhold'; service: string; stage: string }
  | { kind: 'help' }
  | { kind: 'usage'; problem: string };

export type RollbackCommand =
  | { kind: 'rollback'; service: string; stage?: string; release?: string }
  | { kind: 'help' }
  | { kind: 'usage'; problem: string };

/** Slack HTML-escapes &, < and > in slash-command text, so `dev->prod` arrives as `dev-&gt;prod`. */
export function unescapeSlack(text: string): string {
  return text.replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}

const ARROWS = /\s*(?:→|⟶|➔|->|=>|—>|–>|⇒|\bto\b)\s*/i;

function words(text: string): string[] {
  return unescapeSlack(text)
    .replace(/[\u00a0\u2000-\u200b]/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

export function parsePromoteText(text: string): PromoteCommand {
  const w = words(text);
  if (w.length === 0 || ['help', '-h', '--help', '?'].includes(w[0]!.toLowerCase())) return { kind: 'help' };
  const [head, ...rest] = w;
  const verb = head!.toLowerCase();
  if (verb === 'status') {
    if (rest.length > 1) return { kind: 'usage', problem: 'status takes at most a service name' };
    return { kind: 'status', service: rest[0] };
  }
  if (verb === 'history') {
    if (rest.length < 1 || rest.length > 2)
      return { kind: 'usage', problem: 'history takes a service and an optional stage' };
    return { kind: 'history', service: rest[0]!, stage: rest[1] };
  }
  if (verb === 'unhold') {
    if (rest.length !== 2) return { kind: 'usage', problem: 'unhold takes a service and a stage' };
    return { kind: 'unhold', service: rest[0]!, stage: rest[1]! };
  }
  const service = head!;
  const path = rest.join(' ').trim();
  if (!path) return { kind: 'usage', problem: `say which stage to promote ${esc(service)} to` };
  const arrowParts = path.split(ARROWS).filter((p) => p !== '');
  let from: string | undefined;
  let to: string | undefined;
  if (ARROWS.test(path)) {
    if (arrowParts.length !== 2 || arrowParts.some((p) => /\s/.test(p))) {
      return { kind: 'usage', problem: `cannot read the stages in "${esc(path)}"` };
    }
    [from, to] = arrowParts;
  } else {
    const parts = path.split(/\s+/);
    if (parts.length === 1) to = parts[0];
    else if (parts.length === 2) [from, to] = parts;
    else return { kind: 'usage', problem: `cannot read the stages in "${esc(path)}"` };
  }
  return { kind: 'promote', service, from, to: to! };
}

export function parseRollbackText(text: string): RollbackCommand {
  const w = words(text);
  if (w.length === 0 || ['help', '-h', '--help', '?'].includes(w[0]!.toLowerCase())) return { kind: 'help' };
  const [service, ...rest] = w;
  if (rest.length === 0) return { kind: 'rollback', service: service! };
  if (rest.length === 1) return { kind: 'rollback', service: service!, stage: rest[0] };
  if (rest.length === 3 && rest[1]!.toLowerCase() === 'to') {
    return { kind: 'rollback', service: service!, stage: rest[0], release: rest[2] };
  }
  if (rest.length === 2 && rest[0]!.toLowerCase() === 'to') {
    return { kind: 'rollback', service: service!, release: rest[1] };
  }
  return { kind: 'usage', problem: `cannot read "${esc(rest.join(' '))}"` };
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

export function closest(name: string, candidates: string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.c : undefined;
}

export type Resolved<T> = { ok: true; value: T } | { ok: false; refusal: string };

function suggest(what: string, name: string, known: string[]): string {
  const near = closest(name, known);
  return `Unknown ${what} "${esc(name)}".${near ? ` Did you mean "${near}"?` : ''} Known ${what}s: ${known.join(', ')}.`;
}

export function resolveService(config: PromoteConfig, name: string, channel: string): Resolved<ServiceConfig> {
  const service = config.services[name] ?? config.services[name.toLowerCase()];
  if (!service) return { ok: false, refusal: suggest('service', name, Object.keys(config.services)) };
  if (service.channels && !service.channels.includes(channel)) {
    return {
      ok: false,
      refusal: `${service.name} can only be promoted or rolled back from ${service.channels.map((c) => `<#${c}>`).join(', ')}.`,
    };
  }
  return { ok: true, value: service };
}

export function resolveStage(service: ServiceConfig, name: string): Resolved<StageConfig> {
  const stage = service.stages.find((s) => s.name === name || s.name === name.toLowerCase());
  if (!stage)
    return {
      ok: false,
      refusal: suggest(
        'stage',
        name,
        service.stages.map((s) => s.name),
      ),
    };
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
  if (allowed.length === 0) {
    return { ok: false, refusal: `${service.name}/${to.value.name} is the first stage: nothing promotes into it.` };
  }
  if (fromName === undefined) {
    const from = resolveStage(service, allowed[0]!);
    return from.ok ? { ok: true, value: { from: from.value, to: to.value } } : from;
  }
  const from = resolveStage(service, fromName);
  if (!from.ok) return from;
  if (from.value.name === to.value.name) {
    return { ok: false, refusal: `${service.name}: ${from.value.name} → ${to.value.name} is the same stage.` };
  }
  if (!allowed.includes(from.value.name)) {
    return {
      ok: false,
      refusal: `${service.name}/${to.value.name} can only be promoted from ${allowed.join(' or ')}, not from ${from.value.name}.`,
    };
  }
  return { ok: true, value: { from: from.value, to: to.value } };
}

export function usageText(config: PromoteConfig): string {
  const lines = Object.values(config.services).map((s) => `• ${s.name}: ${s.stages.map((st) => st.name).join(' → ')}`);
  return [
    '*Usage*',
    '`/promote <service> <from>→<to>` (also `->`, `=>`, `to`, or `<from> <to>`); `/promote <service> <to>` promotes from the stage before it',
    '`/promote status [service]` · `/promote history <service> [stage]` · `/promote unhold <service> <stage>`',
    '`/rollback <service> [stage]` · `/rollback <service> <stage> to <release>`',
    '*Services*',
    ...lines,
  ].join('\n');
}
