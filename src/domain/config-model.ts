// The parsed configuration as the domain sees it: plain data, built and checked by src/config.ts.
import type { Monitoring, TieredApprovalRule } from './types.js';

export interface StageConfig {
  name: string;
  /** Position in the service's promotion path (0 = first) */
  index: number;
  /** The first (or only) stack: `stacks[0]` */
  stack: string;
  /** Every stack of the stage in deployment order (one for `stack:`); paired by position between stages */
  stacks: string[];
  region: string;
  role?: string;
  externalId?: string;
  /** S3 bucket (in the target account) for templates over CloudFormation's 51,200-byte TemplateBody limit */
  templateBucket?: string;
  /** Stages this one may be promoted from (empty for the first stage) */
  promotesFrom: string[];
  /** With its optional `destructive` tier (see domain/risk.ts) */
  approvals: TieredApprovalRule;
  rollback: TieredApprovalRule;
  /** Releases kept for /rollback and /promote history */
  keepReleases: number;
  /** CloudWatch alarms CloudFormation watches during a promotion's execution (rollback triggers) */
  monitoring?: Monitoring;
}

export interface ServiceConfig {
  name: string;
  /** Channel IDs allowed to run commands for this service; undefined = any channel */
  channels?: string[];
  /** In promotion-path order */
  stages: StageConfig[];
}

/** Tuning knobs of `settings:` in promote.yml, each a duration. */
export const SETTING_KEYS = [
  'leaseTtl',
  'stallAfter',
  'sweepEvery',
  'progressEvery',
  'progressNoteAfter',
  'pollMin',
  'pollMax',
  'planningTimeout',
  'retention',
  'awsRequestTimeout',
] as const;

export type SettingKey = (typeof SETTING_KEYS)[number];

/** Request budgets of `settings:` in promote.yml, each a plain number (a rate), not a duration. */
export const RATE_SETTING_KEYS = ['awsCallsPerSecond', 'slackUpdatesPerMinute'] as const;

export type RateSettingKey = (typeof RATE_SETTING_KEYS)[number];

export interface PromoteConfig {
  services: Record<string, ServiceConfig>;
  /**
   * Operational tuning: durations in milliseconds, rates as given; every key optional, defaults in
   * src/workflows/deps.ts (durations) and src/main.ts (rates)
   */
  settings: Partial<Record<SettingKey | RateSettingKey, number>>;
}
