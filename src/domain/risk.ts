// Risk-tiered approvals: which approval rule a plan needs. Pure: the stage's rule and the classified plan in,
// the chosen rule (with the changes that chose it) out. A stage's `destructive` tier is used instead of its
// normal rule when the plan deletes or replaces data, may do so, or changes permissions.
import { changesPermissions } from './classify.js';
import type {
  ApprovalRule,
  ChosenRule,
  ClassifiedChange,
  Plan,
  RiskKind,
  RiskyChange,
  TieredApprovalRule,
} from './types.js';

/**
 * What makes one change need the destructive tier, or undefined when it does not:
 * - a data-bearing resource (or one whose type CloudFormation left out) removed and not retained (a snapshot
 *   is taken, but the live data is gone): `deletes`;
 * - a data-bearing resource replaced (`Replacement: True`), even when the old one is retained or snapshotted:
 *   the service moves to a new, empty resource: `replaces`;
 * - a data-bearing resource that may be replaced (Conditional, Dynamic, or not said): `may-replace`;
 * - any change of permissions (IAM, resource policies, security groups, Lambda permissions), whatever its
 *   impact: `permissions`.
 * Replacing or removing a resource that holds no data (a function, a topic) is not destructive.
 */
export function riskOf(c: ClassifiedChange): RiskKind | undefined {
  if (c.dataBearing) {
    if (c.action === 'Remove' && c.policyAction !== 'Retain') return 'deletes';
    if (c.replacement === 'True') return 'replaces';
    if (c.impact === 'may-replace') return 'may-replace';
  }
  return changesPermissions(c) ? 'permissions' : undefined;
}

/** The changes of a plan that need the destructive tier, in the plan's order (worst first). */
export function riskyChanges(plan: Plan | undefined): RiskyChange[] {
  const risky: RiskyChange[] = [];
  for (const c of plan?.changes ?? []) {
    const kind = riskOf(c);
    if (kind) risky.push({ logicalId: c.logicalId, kind });
  }
  return risky;
}

/** The rule a plan needs: the destructive tier when the stage has one and the plan has a risky change. */
export function chooseRule(rules: TieredApprovalRule, plan: Plan | undefined): ChosenRule {
  const because = rules.destructive ? riskyChanges(plan) : [];
  if (rules.destructive && because.length > 0) {
    return {
      tier: 'destructive',
      required: rules.destructive.required,
      reviewers: [...rules.destructive.reviewers],
      because,
    };
  }
  return { tier: 'normal', required: rules.required, reviewers: [...rules.reviewers], because: [] };
}

/**
 * The rule an operation is reviewed under now: the stage's rule (as configured now) of the tier chosen for its
 * plan. When the config no longer has a destructive tier, the one announced with the plan still applies: a
 * config change never lowers the bar of a plan already shown.
 */
export function ruleFor(rules: TieredApprovalRule, chosen: ChosenRule | undefined): ApprovalRule {
  const base: ApprovalRule = {
    required: rules.required,
    reviewers: rules.reviewers,
    allowSelfApproval: rules.allowSelfApproval,
    expiresAfterMs: rules.expiresAfterMs,
  };
  if (chosen?.tier !== 'destructive') return base;
  const tier = rules.destructive ?? chosen;
  return { ...base, required: tier.required, reviewers: tier.reviewers };
}
