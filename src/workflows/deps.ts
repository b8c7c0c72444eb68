// What the workflows need, passed as one plain object built by the composition root (src/main.ts).

import type { Stack } from '@aws-sdk/client-cloudformation';
import type { AwsClients, StageAccess } from '../aws/clients.js';
import type { Sleep } from '../aws/cloudformation.js';
import type { StackFollowers } from '../aws/stack-follower.js';
import type { PromoteConfig, StageConfig } from '../config.js';
import { isTerminal, type PromotionEvent, step } from '../domain/promotion.js';
import type { Refusal } from '../domain/refusals.js';
import { ruleFor } from '../domain/risk.js';
import type { ApprovalRule, Promotion } from '../domain/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ReviewerDirectory } from '../reviewers.js';
import type { SlackPort } from '../slack/port.js';
import { KEYS } from '../store/keys.js';
import type { Store } from '../store/types.js';

export interface Timing {
  /** Operation lease: another replica takes over this long after a crash */
  leaseMs: number;
  /** A replica whose current step has run this long stops renewing its lease (it is stuck) */
  stallMs: number;
  /** How often each replica looks for expired promotions and orphaned executions */
  sweepEveryMs: number;
  /** At most one progress update per this interval (Slack chat.update is Tier 3) */
  progressEveryMs: number;
  /**
   * When the progress message has not shown what changed for this long (every deployment shares Slack's
   * chat.update budget, so with many at once its updates wait), a short progress note is posted in the thread.
   */
  progressNoteAfterMs: number;
  /** Stack event polling backoff */
  pollMinMs: number;
  pollMaxMs: number;
  /** A promotion still planning after this long was interrupted (bot restarted mid-plan) */
  planningTimeoutMs: number;
  /** Finished promotions and their audit entries are kept this long */
  retentionMs: number;
}

export const DEFAULT_TIMING: Timing = {
  leaseMs: 15_000,
  stallMs: 90_000,
  sweepEveryMs: 5_000,
  progressEveryMs: 2_000,
  progressNoteAfterMs: 8_000,
  pollMinMs: 500,
  pollMaxMs: 2_000,
  planningTimeoutMs: 15 * 60_000,
  retentionMs: 90 * 86_400_000,
};

export interface Deps {
  config: PromoteConfig;
  store: Store;
  aws: AwsClients;
  slack: SlackPort;
  reviewers: ReviewerDirectory;
  log: Logger;
  now: () => Date;
  newId: () => string;
  sleep: Sleep;
  /** Identifies this process among replicas (lease holder) */
  replicaId: string;
  timing: Timing;
  /** True once this replica is shutting down: it takes no new work and gives its leases back */
  stopping: () => boolean;
  /** Prometheus metrics (src/metrics.ts) */
  metrics: Metrics;
  /** Stack followers sharing calls per account and region; default: one set per `aws` (sharedFollowers) */
  followers?: StackFollowers;
}

/** The same deps whose log lines all carry the operation's ID (`promotionId`). */
export function forOperation(deps: Deps, promotionId: string): Deps {
  return { ...deps, log: deps.log.child({ promotionId }) };
}

/** Ephemeral reply to the person who ran the command or clicked. */
export type Reply = (text: string) => Promise<void>;

export function stageOf(deps: Deps, p: Pick<Promotion, 'service' | 'to'>): StageConfig | undefined {
  return deps.config.services[p.service]?.stages.find((s) => s.name === p.to);
}

/** The rule an operation is reviewed under: its stage's, of the tier chosen for its plan (domain/risk.ts). */
export function ruleOf(deps: Deps, p: Promotion): ApprovalRule {
  const stage = stageOf(deps, p);
  if (!stage) return { required: 1, reviewers: [], allowSelfApproval: false, expiresAfterMs: 3_600_000 };
  return ruleFor(p.kind === 'rollback' ? stage.rollback : stage.approvals, p.rule);
}

export function accessOf(stage: StageConfig): StageAccess {
  return { region: stage.region, role: stage.role, externalId: stage.externalId };
}

/** The 12-digit account of a stage's role, if it has one. */
export function accountOf(stage: StageConfig): string | undefined {
  return stage.role?.match(/^arn:aws[a-z-]*:iam::(\d{12}):/)?.[1];
}

/** Where a promotion or rollback lands, with the stack's state when it was planned (to detect staleness). */
export function targetOf(stage: StageConfig, stack: Stack | undefined, name = stage.stack): Promotion['target'] {
  return {
    stack: name,
    region: stage.region,
    account: accountOf(stage),
    stackId: stack?.StackId,
    status: stack?.StackStatus,
    lastUpdatedTime: stack?.LastUpdatedTime?.toISOString(),
  };
}

/** One promotion at a time per target stack (account + region + stack name). */
export function lockKey(stage: StageConfig, stack = stage.stack): string {
  return KEYS.lock(accountOf(stage), stage.region, stack);
}

/** The locks of every stack of a stage, in its stacks' order: an operation on the stage holds them all. */
export function lockKeys(stage: StageConfig): string[] {
  return stage.stacks.map((s) => lockKey(stage, s));
}

export interface LockHolder {
  promotionId: string;
  user: string;
  since: string;
  service: string;
  stage: string;
  kind: string;
}

export async function audit(
  deps: Deps,
  p: Promotion | undefined,
  actor: string,
  action: string,
  detail?: Record<string, unknown>,
): Promise<void> {
  const entry = {
    at: deps.now().toISOString(),
    promotionId: p?.id,
    service: p?.service,
    stage: p?.to,
    actor,
    action,
    changeSetArn: p?.changeSet?.arn,
    fingerprint: p?.source?.fingerprint,
    detail,
  };
  deps.log.info('audit', { ...(p ? { promotionId: p.id } : {}), audit: entry });
  try {
    await deps.store.appendAudit(entry);
  } catch (err) {
    deps.log.error('writing audit entry', { err, audit: entry });
  }
}

export type Transition =
  | { ok: true; before: Promotion; after: Promotion }
  | { ok: false; refusal: Refusal; current?: Promotion };

/**
 * Applies an event atomically: read, decide (pure), compare-and-set; on a lost race read again and
 * decide again, so two replicas or two clicks never both move the same promotion.
 */
export async function transition(
  deps: Deps,
  id: string,
  event: PromotionEvent | ((p: Promotion) => PromotionEvent),
  actor = 'bot',
): Promise<Transition> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const p = await deps.store.getPromotion(id);
    if (!p) return { ok: false, refusal: { code: 'unknown_promotion' } };
    const ev = typeof event === 'function' ? event(p) : event;
    const r = step(p, ev, deps.now());
    if (!r.ok) return { ok: false, refusal: r.refusal, current: p };
    const stored = await deps.store.casPromotion(r.promotion, p.version, {
      // An ended operation stays in the active index until its end effects are done (the sweeper finds it).
      active: !isTerminal(r.promotion.state) || (r.promotion.pendingEffects?.length ?? 0) > 0,
      ttlMs: deps.timing.retentionMs,
    });
    if (stored) {
      if (r.promotion.state !== p.state) {
        await audit(deps, r.promotion, actor, `${p.state}->${r.promotion.state}`, { event: ev.type });
        observe(deps, p, r.promotion);
      }
      return { ok: true, before: p, after: r.promotion };
    }
  }
  throw new Error(`moving promotion ${id}: too much contention`);
}

const seconds = (from: string | undefined, to: string | undefined) =>
  from && to ? Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000) : undefined;

/** Metrics of a state change that was stored: outcomes where operations end, approval wait, execution time. */
function observe(deps: Deps, before: Promotion, after: Promotion): void {
  const kind = after.kind;
  if (before.state === 'awaiting_approval' && after.state === 'approved' && after.expiresAt) {
    // The review window opened when the plan was recorded: expiresAt is that moment plus the rule's expiry.
    const opened = new Date(Date.parse(after.expiresAt) - ruleOf(deps, after).expiresAfterMs).toISOString();
    const wait = seconds(opened, after.approvedAt);
    if (wait !== undefined) deps.metrics.approvalWait.observe({ kind }, wait);
  }
  if (isTerminal(after.state) && !isTerminal(before.state)) {
    (kind === 'rollback' ? deps.metrics.rollbacks : deps.metrics.promotions).inc({ outcome: after.state });
    const ran = seconds(after.execution?.startedAt, after.execution?.endedAt ?? after.updatedAt);
    if (ran !== undefined) deps.metrics.executionDuration.observe({ kind, outcome: after.state }, ran);
  }
}
