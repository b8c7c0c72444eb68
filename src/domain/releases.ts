// The release history of a stage and what /rollback undoes. Pure: releases in, a choice (or a refusal) out.
// A rollback undoes the newest promotion still in effect; a rolled-back release is never re-applied unless
// it is named (`/rollback <service> <stage> to <release>`). Which releases are in effect is derived from
// the history itself: every rollback release records what it undid (`undoes`) or re-applied (`reapplies`).
import type { Refusal } from './refusals.js';
import type { RollbackTarget, SourceRelease } from './types.js';

export type { RollbackTarget } from './types.js';

export interface StageSnapshot {
  /** gzip + base64 of the template body */
  templateGz: string;
  parameters: Array<{ key: string; value: string }>;
  fingerprint: string;
}

export interface Release {
  id: string;
  promotionId: string;
  kind: 'promote' | 'rollback';
  service: string;
  stage: string;
  from?: string;
  /** What the stage ran just before this release, and just after it */
  before: StageSnapshot;
  after: StageSnapshot;
  /**
   * Multi-stack stages: every stack's snapshots, in the stage's order (`before`/`after` above are the first
   * stack's). A stack the operation did not change has the same before and after.
   */
  stacks?: Array<{ stack: string; before: StageSnapshot; after: StageSnapshot }>;
  /** Rollbacks: the release this one undid (a plain `/rollback`) */
  undoes?: string;
  /** Rollbacks: the release named with `to <release>`, whose template this one re-applied */
  reapplies?: string;
  sourceFingerprint?: string;
  changeSetArn?: string;
  requester: string;
  approvers: string[];
  startedAt: string;
  endedAt: string;
  counts?: { added: number; modified: number; removed: number; replaced: number };
}

/**
 * What stack `stack` ran before (`before`) or after (`after`) a release. A release recorded while the stage
 * had one stack holds it as `before`/`after`; undefined when the release does not know the stack.
 */
export function stackSnapshot(
  release: Release,
  side: 'before' | 'after',
  stack: string,
  firstStack: string,
): StageSnapshot | undefined {
  if (release.stacks) return release.stacks.find((s) => s.stack === stack)?.[side];
  return stack === firstStack ? release[side] : undefined;
}

/** The release and side a rollback target's snapshot comes from (see chooseRollbackTarget). */
export function snapshotSource(t: RollbackTarget): { release: string; side: 'before' | 'after' } | undefined {
  if (t.reapplies) return { release: t.reapplies, side: 'after' };
  if (t.undoes) return { release: t.undoes, side: 'before' };
  return undefined;
}

export type RollbackChoice =
  | {
      ok: true;
      target: RollbackTarget;
      snapshot: StageSnapshot;
      /** Plain text for logs, the audit and the change set description */
      label: string;
    }
  | { ok: false; refusal: Refusal };

/** A release whose effect is in place, and what ran before it. */
interface InEffect {
  id: string;
  before: StageSnapshot;
}

export interface ReleaseState {
  /** Releases in effect, oldest first: the last one is what the stage runs now */
  inEffect: InEffect[];
  /** Rolled-back release ID → the rollback release that undid it */
  undoneBy: Map<string, string>;
}

/**
 * Replays the history (newest first, as stored) oldest to newest. A promotion is put in effect; a rollback
 * that undid a release takes it (and anything newer) out of effect; a rollback to a named release still in
 * effect takes out everything newer than it; a rollback to a named release no longer in effect re-applies
 * it, and is itself in effect (undoing it puts back what ran before it). Rollbacks recorded before
 * `undoes` existed undid the newest release in effect.
 */
export function replayReleases(newestFirst: readonly Release[]): ReleaseState {
  const inEffect: InEffect[] = [];
  const undoneBy = new Map<string, string>();
  const undoFrom = (index: number, by: string) => {
    for (const e of inEffect.splice(index)) undoneBy.set(e.id, by);
  };
  for (const r of [...newestFirst].reverse()) {
    if (r.kind === 'promote') {
      inEffect.push({ id: r.id, before: r.before });
    } else if (r.reapplies !== undefined) {
      const at = inEffect.findIndex((e) => e.id === r.reapplies);
      if (at >= 0) undoFrom(at + 1, r.id);
      else {
        undoFrom(inEffect.length, r.id);
        inEffect.push({ id: r.id, before: r.before });
      }
    } else if (r.undoes !== undefined) {
      // Not found: the undone release is older than the releases kept.
      const at = inEffect.findIndex((e) => e.id === r.undoes);
      if (at >= 0) undoFrom(at, r.id);
    } else if (inEffect.length > 0) {
      undoFrom(inEffect.length - 1, r.id);
    }
  }
  return { inEffect, undoneBy };
}

/**
 * What `/rollback` puts back. Without `requested`, it undoes the newest release still in effect; with
 * it, it re-applies that release (rolled back or not). Refusals: no release recorded, an unknown release,
 * nothing left to undo.
 */
export function chooseRollbackTarget(
  newestFirst: readonly Release[],
  requested: string | undefined,
  where: { service: string; stage: string },
): RollbackChoice {
  if (newestFirst.length === 0) return { ok: false, refusal: { code: 'no_releases', ...where } };
  const { inEffect } = replayReleases(newestFirst);
  const runsNow = inEffect.at(-1)?.id;
  if (requested !== undefined) {
    const named = newestFirst.find((r) => r.id === requested);
    if (!named) {
      const known = newestFirst.map((r) => r.id);
      return { ok: false, refusal: { code: 'unknown_release', ...where, name: requested, known } };
    }
    return {
      ok: true,
      target: { reapplies: named.id, runsNow, putsBack: named.id },
      snapshot: named.after,
      label: `release ${named.id}`,
    };
  }
  const top = inEffect.at(-1);
  if (!top) {
    return { ok: false, refusal: { code: 'nothing_to_undo', ...where, oldest: newestFirst.at(-1)!.id } };
  }
  const below = inEffect.at(-2)?.id;
  return {
    ok: true,
    target: { undoes: top.id, runsNow: top.id, putsBack: below },
    snapshot: top.before,
    label: `what ran before release ${top.id}`,
  };
}

/**
 * The release that put a template in place: the newest release (promotion or rollback) after which the stage
 * ran a template with this fingerprint. Undefined when none matches (deployed outside the bot, or its release
 * is older than the ones kept).
 */
export function releaseRunning(newestFirst: readonly Release[], fingerprint: string): SourceRelease | undefined {
  const r = newestFirst.find((r) => r.after.fingerprint === fingerprint);
  if (!r) return undefined;
  return {
    id: r.id,
    kind: r.kind,
    ...(r.kind === 'promote' && r.from ? { from: r.from } : {}),
    requester: r.requester,
    at: r.endedAt,
  };
}
