// Reads and validates everything the bot is configured with: the environment (design contract) and
// promote.yml. Pure: takes the env object and the file text, returns every problem at once.
import { parse as parseYaml } from 'yaml';
import { type ZodType, z } from 'zod';
import { PROMOTE_SUBCOMMANDS } from './domain/command.js';
import {
  type PromoteConfig,
  RATE_SETTING_KEYS,
  SETTING_KEYS,
  type ServiceConfig,
  type StageConfig,
} from './domain/config-model.js';
import { parseDuration } from './domain/duration.js';
import type { ApprovalRule, TieredApprovalRule } from './domain/types.js';
import { parseRedisTarget, type RedisTarget } from './store/redis-target.js';

export type { PromoteConfig, ServiceConfig, StageConfig } from './domain/config-model.js';

export interface EnvSettings {
  slackBotToken: string;
  slackAppToken?: string;
  slackSigningSecret?: string;
  slackApiUrl: string;
  port: number;
  redisUrl?: string;
  /** Which Redis (single, Sentinel or Cluster) from REDIS_URL and friends; undefined: the in-memory store */
  redis?: RedisTarget;
  configPath: string;
  /** Key prefix in Redis, so several bots (or tests) can share one Redis */
  redisPrefix: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** How long start-up keeps trying an unreachable Slack API (and, in Socket Mode, to connect) before giving up */
  slackStartupTimeoutMs: number;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: string[] };

const DEFAULT_EXPIRY = '24h';
const DEFAULT_ROLLBACK_EXPIRY = '1h';

/**
 * Settings that become setTimeout/setInterval delays (sweeper, lease renewal, event polling). Node runs a
 * timer over 2^31-1 ms (~24.8 days) after 1 ms instead, so `sweepEvery: 30d` would spin; 1d is far beyond
 * any sensible value and keeps `pollMax × 4` in range too.
 */
const TIMER_KEYS = ['leaseTtl', 'sweepEvery', 'pollMin', 'pollMax'] as const;
const MAX_TIMER_MS = 86_400_000;

const idList = (pattern: RegExp, what: string) =>
  z.array(z.string().regex(pattern, `must be a Slack ${what} ID`)).min(1, 'must not be empty');

/** 10 years: longer is a typo, and far longer overflows the Date an expiry becomes (RangeError on approval). */
const MAX_DURATION_MS = 3650 * 86_400_000;

const duration = z
  .string()
  .refine((s) => (parseDuration(s) ?? 0) > 0, { message: 'must be a duration such as 30m, 4h or 1d' })
  .refine((s) => (parseDuration(s) ?? 0) <= MAX_DURATION_MS, { message: 'must be at most 3650d' });

const reviewerId = z.string().regex(/^[UWS][A-Z0-9]+$/, 'must be a Slack user ID (U…/W…) or user-group ID (S…)');

/** The tier used instead of a rule when the plan deletes or replaces data or changes permissions. */
const destructiveSchema = z
  .object({
    required: z.number().int().min(1),
    reviewers: z.array(reviewerId).optional(),
  })
  .strict();

const approvalsSchema = z
  .object({
    required: z.number().int().min(0),
    reviewers: z.array(reviewerId).default([]),
    allowSelfApproval: z.boolean().default(false),
    expiresAfter: duration.default(DEFAULT_EXPIRY),
    destructive: destructiveSchema.optional(),
  })
  .strict();

const rollbackSchema = z
  .object({
    required: z.number().int().min(0).optional(),
    reviewers: z.array(reviewerId).optional(),
    allowSelfApproval: z.boolean().optional(),
    expiresAfter: duration.optional(),
    destructive: destructiveSchema.optional(),
  })
  .strict();

const stackName = z.string().regex(/^[a-zA-Z][-a-zA-Z0-9]*$/, 'must be a CloudFormation stack name');

/**
 * CloudWatch alarms as CloudFormation rollback triggers (RollbackConfiguration in the CloudFormation API
 * reference: at most 5 triggers, MonitoringTimeInMinutes 0–180). An alarm ARN is
 * arn:<partition>:cloudwatch:<region>:<account>:alarm:<name> (CloudWatch's ARN format in the Service
 * Authorization Reference).
 */
const MAX_ROLLBACK_TRIGGERS = 5;
const MAX_MONITORING_MINUTES = 180;
const alarmArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:cloudwatch:[a-z]{2}(-[a-z]+)+-\d:\d{12}:alarm:[^\s]{1,255}$/,
    'must be a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)',
  );
const monitorFor = z.string().refine(
  (s) => {
    const ms = s.trim() === '0' ? 0 : parseDuration(s);
    return ms !== undefined && ms % 60_000 === 0 && ms <= MAX_MONITORING_MINUTES * 60_000;
  },
  { message: `must be whole minutes from 0m to ${MAX_MONITORING_MINUTES}m (3h), such as 10m` },
);
const monitoringSchema = z
  .object({
    alarms: z
      .array(alarmArn)
      .max(
        MAX_ROLLBACK_TRIGGERS,
        `at most ${MAX_ROLLBACK_TRIGGERS} alarms (CloudFormation's limit of rollback triggers)`,
      )
      .default([]),
    monitorFor: monitorFor.default('0m'),
  })
  .strict();

/** monitorFor in minutes ('0' and '0m' are 0). */
function monitoringMinutes(text: string): number {
  return text.trim() === '0' ? 0 : parseDuration(text)! / 60_000;
}

const stageSchema = z
  .object({
    stack: stackName.optional(),
    /** Several stacks deployed in this order (instead of `stack`), paired by position between stages */
    stacks: z.array(stackName).min(1, 'must name at least one stack').optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')
      .optional(),
    role: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')
      .optional(),
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2–1224 characters of [A-Za-z0-9_+=,.@:/-]')
      .optional(),
    templateBucket: z.string().min(3).optional(),
    promotesFrom: z.array(z.string()).min(1).optional(),
    approvals: approvalsSchema.optional(),
    rollback: rollbackSchema.optional(),
    keepReleases: z.number().int().min(1).max(200).default(20),
    monitoring: monitoringSchema.optional(),
  })
  .strict();

type StageInput = z.infer<typeof stageSchema>;

const serviceSchema = z
  .object({
    channels: idList(/^[CGD][A-Z0-9]+$/, 'channel').optional(),
    stages: z.record(
      z.string().regex(/^[a-z0-9][-a-z0-9_]*$/i, 'stage names are letters, digits, - and _'),
      stageSchema,
    ),
  })
  .strict();

/** A request rate: a positive number, at most 10,000 (more is a typo, and no budget of ours is near it). */
const rate = z
  .number({ message: 'must be a number such as 4 or 0.5' })
  .positive('must be greater than 0')
  .max(10_000, 'must be at most 10000');

const settingsSchema = z
  .object({
    ...(Object.fromEntries(SETTING_KEYS.map((k) => [k, duration.optional()])) as Record<
      (typeof SETTING_KEYS)[number],
      z.ZodOptional<typeof duration>
    >),
    ...(Object.fromEntries(RATE_SETTING_KEYS.map((k) => [k, rate.optional()])) as Record<
      (typeof RATE_SETTING_KEYS)[number],
      z.ZodOptional<typeof rate>
    >),
  })
  .strict();

const configSchema = z
  .object({
    settings: settingsSchema.optional(),
    services: z.record(
      z.string().regex(/^[a-z0-9][-a-z0-9_.]*$/i, 'service names are letters, digits, -, _ and .'),
      serviceSchema,
    ),
  })
  .strict();

/** Turns zod issues into `path: message` lines, the format the README documents. */
function describeIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    const at = (p: string) => (p ? p : '(top level)');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key`);
    }
    if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
      return [`${at(path)}: required`];
    }
    // A bad record key (a service or stage name) reports only "Invalid key in record"; the rule it broke is inside.
    if (issue.code === 'invalid_key') {
      return [`${at(path)}: ${issue.issues[0]?.message ?? issue.message}`];
    }
    return [`${at(path)}: ${issue.message.replace(/^Invalid input: /, '')}`];
  });
}

function check<T>(schema: ZodType<T>, input: unknown): Checked<T> {
  const r = schema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: describeIssues(r.error.issues) };
}

/** Users and groups that could approve; groups may hold any number of people, so they make the bound open. */
function quorumProblem(path: string, rule: { required: number; reviewers: string[] }): string | undefined {
  if (rule.required === 0) return undefined;
  if (rule.reviewers.length === 0) return `${path}.reviewers: required when ${path}.required is ${rule.required}`;
  const hasGroup = rule.reviewers.some((r) => r.startsWith('S'));
  const users = new Set(rule.reviewers.filter((r) => !r.startsWith('S'))).size;
  if (!hasGroup && rule.required > users) {
    return `${path}.required: ${rule.required} approvals can never be reached with ${users} reviewer${users === 1 ? '' : 's'}`;
  }
  return undefined;
}

/** A rule with its destructive tier, which takes the rule's reviewers, self-approval and expiry unless it names reviewers. */
function withTier(
  rule: ApprovalRule,
  destructive: { required: number; reviewers?: string[] } | undefined,
): TieredApprovalRule {
  if (!destructive) return rule;
  return {
    ...rule,
    destructive: { ...rule, required: destructive.required, reviewers: destructive.reviewers ?? rule.reviewers },
  };
}

/** A rule's quorum, and its destructive tier's: reachable, and never asking for less than the rule itself. */
function ruleProblems(path: string, rule: TieredApprovalRule): string[] {
  const problems = [quorumProblem(path, rule)];
  const tier = rule.destructive;
  if (tier) {
    problems.push(quorumProblem(`${path}.destructive`, tier));
    if (tier.required < rule.required) {
      problems.push(
        `${path}.destructive.required: ${tier.required} is fewer than ${path}.required (${rule.required}); the destructive rule may only ask for more`,
      );
    }
  }
  return problems.filter((p): p is string => p !== undefined);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object read key by key: the keys that parse, and the names of those that do not (or all, if not an object). */
interface Fields<T> {
  value: Partial<T>;
  broken: Set<string>;
}

function readFields<T>(shape: Record<string, ZodType>, raw: unknown): Fields<T> {
  const value: Record<string, unknown> = {};
  const broken = new Set<string>();
  for (const [key, schema] of Object.entries(shape)) {
    const r = isRecord(raw) ? schema.safeParse(raw[key]) : undefined;
    if (r?.success) value[key] = r.data;
    else broken.add(key);
  }
  return { value: value as Partial<T>, broken };
}

/** A service as far as it could be read. Stages keep their YAML order, which is the promotion path. */
interface ServiceInput {
  channels?: string[];
  stages: [string, Fields<StageInput>][];
}

/**
 * What a config that failed the schema still says, field by field. zod reports schema issues only, so without
 * this one typo would hide every cross-field problem (references, quorums) and the bot would be restarted
 * once per problem instead of fixed in one go.
 */
function readableParts(raw: unknown): { services: [string, ServiceInput][]; settings?: Record<string, unknown> } {
  const root = isRecord(raw) ? raw : {};
  const services: [string, ServiceInput][] = [];
  for (const [name, svc] of Object.entries(isRecord(root.services) ? root.services : {})) {
    if (!isRecord(svc) || !isRecord(svc.stages)) continue;
    const stages = Object.entries(svc.stages).map(
      ([stage, s]) => [stage, readFields<StageInput>(stageSchema.shape, s)] as [string, Fields<StageInput>],
    );
    services.push([name, { stages }]);
  }
  return { services, settings: readFields(settingsSchema.shape, root.settings ?? {}).value };
}

/** Commands match names case-insensitively, so `api` and `API` would be ambiguous. */
function caseClashes(names: string[], pathOf: (name: string) => string): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const name of names) {
    const first = seen.get(name.toLowerCase());
    if (first) problems.push(`${pathOf(name)}: differs from ${first} only in case (commands ignore case)`);
    else seen.set(name.toLowerCase(), name);
  }
  return problems;
}

function settingsProblems(settings: Record<string, number>): string[] {
  const problems = TIMER_KEYS.filter((k) => (settings[k] ?? 0) > MAX_TIMER_MS).map(
    (k) => `settings.${k}: at most 1d (it is a timer delay)`,
  );
  const { pollMin, pollMax } = settings;
  if (pollMin !== undefined && pollMax !== undefined && pollMin > pollMax) {
    problems.push('settings.pollMin: must not be longer than settings.pollMax');
  }
  return problems;
}

/**
 * One stage with its defaults applied, and the cross-field problems of the fields that parsed (a broken
 * field has its schema problem already; checking it again would only add noise).
 */
function buildStage(
  service: string,
  names: string[],
  index: number,
  { value: s, broken }: Fields<StageInput>,
  defaultRegion: string | undefined,
): { stage: StageConfig; problems: string[] } {
  const name = names[index]!;
  const path = `services.${service}.stages.${name}`;
  const problems: string[] = [];
  // JavaScript objects list integer-like keys first, so the YAML order (the promotion path) would be lost.
  if (/^\d+$/.test(name)) problems.push(`${path}: a stage name must not be only digits (its order would be lost)`);
  const region = s.region ?? defaultRegion;
  if (!region && !broken.has('region')) problems.push(`${path}.region: required (no AWS_REGION is set)`);
  const promotesFrom = s.promotesFrom ?? (index > 0 && !broken.has('promotesFrom') ? [names[index - 1]!] : []);
  for (const from of promotesFrom) {
    const at = names.indexOf(from);
    if (at === -1) problems.push(`${path}.promotesFrom: no stage "${from}" in service ${service}`);
    else if (from === name) problems.push(`${path}.promotesFrom: a stage cannot promote from itself`);
    else if (at > index)
      problems.push(`${path}.promotesFrom: ${from} comes after ${name}; stages are listed in promotion order`);
  }
  if (!s.approvals && !broken.has('approvals') && promotesFrom.length > 0) {
    problems.push(`${path}.approvals: required for a stage that can be promoted to (use required: 0 to skip review)`);
  }
  const approvals: TieredApprovalRule = withTier(
    {
      required: s.approvals?.required ?? 0,
      reviewers: s.approvals?.reviewers ?? [],
      allowSelfApproval: s.approvals?.allowSelfApproval ?? false,
      expiresAfterMs: parseDuration(s.approvals?.expiresAfter ?? DEFAULT_EXPIRY)!,
    },
    s.approvals?.destructive,
  );
  const rbReviewers = s.rollback?.reviewers ?? approvals.reviewers;
  const rollback: TieredApprovalRule = withTier(
    {
      // A stage nobody reviews cannot demand a rollback approval by default.
      required: s.rollback?.required ?? (rbReviewers.length > 0 ? 1 : 0),
      reviewers: rbReviewers,
      allowSelfApproval: s.rollback?.allowSelfApproval ?? approvals.allowSelfApproval,
      expiresAfterMs: parseDuration(s.rollback?.expiresAfter ?? DEFAULT_ROLLBACK_EXPIRY)!,
    },
    s.rollback?.destructive,
  );
  if (!broken.has('approvals')) {
    problems.push(...ruleProblems(`${path}.approvals`, approvals));
    if (!broken.has('rollback')) problems.push(...ruleProblems(`${path}.rollback`, rollback));
  }
  // Exactly one of `stack` and `stacks`: a stage deploys one stack, or several in the order listed.
  if (s.stack !== undefined && s.stacks !== undefined) {
    problems.push(`${path}: has both stack and stacks; use one (stacks: [a, b] for several stacks in order)`);
  } else if (s.stack === undefined && s.stacks === undefined && !broken.has('stack') && !broken.has('stacks')) {
    problems.push(`${path}.stack: required`);
  }
  const stacks = s.stacks ?? (s.stack !== undefined ? [s.stack] : []);
  const repeated = stacks.find((x, i) => stacks.indexOf(x) !== i);
  if (repeated) problems.push(`${path}.stacks: ${repeated} is listed twice`);
  const stage: StageConfig = {
    name,
    index,
    stack: stacks[0] ?? '',
    stacks,
    region: region ?? '',
    role: s.role,
    externalId: s.externalId,
    templateBucket: s.templateBucket,
    promotesFrom,
    approvals,
    rollback,
    keepReleases: s.keepReleases ?? 20,
  };
  if (s.monitoring) {
    stage.monitoring = {
      alarms: [...new Set(s.monitoring.alarms)],
      minutes: monitoringMinutes(s.monitoring.monitorFor),
    };
  }
  return { stage, problems };
}

/**
 * Stacks are paired by position between the stages of a service (the first stack of dev is promoted to the
 * first stack of prod…), so every stage must list as many as the others.
 */
function stackCountProblems(service: string, stages: StageConfig[]): string[] {
  const counted = stages.filter((s) => s.stacks.length > 0);
  const first = counted[0];
  if (!first) return [];
  return counted
    .filter((s) => s.stacks.length !== first.stacks.length)
    .map(
      (s) =>
        `services.${service}.stages.${s.name}.stacks: lists ${s.stacks.length} stack${s.stacks.length === 1 ? '' : 's'} but ${first.name} lists ${first.stacks.length}; stacks are paired by position, so every stage of a service needs the same number`,
    );
}

/** Validates promote.yml text. `defaultRegion` is AWS_REGION (or AWS_DEFAULT_REGION). */
export function parsePromoteConfig(text: string, defaultRegion?: string): Checked<PromoteConfig> {
  let raw: unknown;
  try {
    // merge: YAML users share approval rules between stages with `<<: *anchor`, which YAML 1.2 leaves out.
    raw = parseYaml(text, { merge: true });
  } catch (e) {
    return { ok: false, problems: [`(file): not valid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  const parsed = configSchema.safeParse(raw ?? {});
  const problems = parsed.success ? [] : describeIssues(parsed.error.issues);
  // Every problem at once: the checks below also run on whatever is well-formed when the schema failed.
  const input = parsed.success
    ? {
        services: Object.entries(parsed.data.services).map(([name, svc]): [string, ServiceInput] => [
          name,
          {
            channels: svc.channels,
            stages: Object.entries(svc.stages).map(([stage, s]) => [stage, { value: s, broken: new Set<string>() }]),
          },
        ]),
        settings: parsed.data.settings,
      }
    : readableParts(raw);

  const rawServices = isRecord(raw) ? raw.services : undefined;
  if (isRecord(rawServices) && Object.keys(rawServices).length === 0) {
    problems.push('services: must name at least one service');
  }
  problems.push(
    ...caseClashes(
      input.services.map(([name]) => name),
      (n) => `services.${n}`,
    ),
  );
  const services: [string, ServiceConfig][] = [];
  for (const [serviceName, svc] of input.services) {
    if ((PROMOTE_SUBCOMMANDS as readonly string[]).includes(serviceName.toLowerCase())) {
      problems.push(`services.${serviceName}: is a /promote subcommand, so /promote could not name this service`);
    }
    const names = svc.stages.map(([name]) => name);
    if (names.length === 0) problems.push(`services.${serviceName}.stages: must name at least one stage`);
    problems.push(...caseClashes(names, (n) => `services.${serviceName}.stages.${n}`));
    const stages = svc.stages.map(([, fields], index) => {
      const built = buildStage(serviceName, names, index, fields, defaultRegion);
      problems.push(...built.problems);
      return built.stage;
    });
    problems.push(...stackCountProblems(serviceName, stages));
    services.push([serviceName, { name: serviceName, channels: svc.channels, stages }]);
  }
  const settings: Record<string, number> = Object.fromEntries(
    Object.entries(input.settings ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === 'number' ? v : parseDuration(v as string)!]),
  );
  problems.push(...settingsProblems(settings));
  return problems.length
    ? { ok: false, problems }
    : { ok: true, value: { services: Object.fromEntries(services), settings } };
}

const envSchema = z.object({
  SLACK_BOT_TOKEN: z.string().regex(/^xox[a-z]-/, 'must be a bot token (xoxb-…)'),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, 'must be an app-level token (xapp-…)')
    .optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  // z.url() alone takes `localhost:3000/api` as a URL whose scheme is "localhost:".
  SLACK_API_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://slack.com/api/' })
    .default('https://slack.com/api/'),
  PORT: z.coerce
    .number({ error: 'must be a port number (0–65535)' })
    .int('must be a port number (0–65535)')
    .min(0, 'must be a port number (0–65535)')
    .max(65535, 'must be a port number (0–65535)')
    .default(3000),
  // REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_SENTINEL_PASSWORD, REDIS_CLUSTER_NODES: checked
  // together by parseRedisTarget (src/store/redis-target.ts).
  REDIS_URL: z.string().optional(),
  PROMOTE_CONFIG: z.string().min(1).default('promote.yml'),
  PROMOTE_REDIS_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^{}]*$/, 'must not contain { or } (the store sets its own Redis Cluster hash tags)')
    .default('promote:'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  SLACK_STARTUP_TIMEOUT: duration.default('60s'),
});

/** Reads the design-contract environment variables. Empty strings count as unset. */
export function readEnv(env: Record<string, string | undefined>): Checked<EnvSettings> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = check(envSchema, cleaned);
  const problems = r.ok ? [] : [...r.problems];
  const redis = parseRedisTarget(cleaned);
  if (!redis.ok) problems.push(...redis.problems);
  // Checked on the raw values, so that a bad bot token does not hide a missing secret.
  if (!cleaned.SLACK_APP_TOKEN && !cleaned.SLACK_SIGNING_SECRET) {
    problems.push('SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  }
  if (!r.ok || !redis.ok || problems.length) return { ok: false, problems };
  const e = r.value;
  return {
    ok: true,
    value: {
      slackBotToken: e.SLACK_BOT_TOKEN,
      slackAppToken: e.SLACK_APP_TOKEN,
      slackSigningSecret: e.SLACK_SIGNING_SECRET,
      slackApiUrl: e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/`,
      port: e.PORT,
      redisUrl: e.REDIS_URL,
      redis: redis.value,
      configPath: e.PROMOTE_CONFIG,
      redisPrefix: e.PROMOTE_REDIS_PREFIX,
      logLevel: e.LOG_LEVEL,
      slackStartupTimeoutMs: parseDuration(e.SLACK_STARTUP_TIMEOUT)!,
    },
  };
}

/** Env plus config file: every problem of both, at once. `readText` throws when the file is missing. */
export function loadSettings(
  env: Record<string, string | undefined>,
  readText: (path: string) => string,
): Checked<{ env: EnvSettings; config: PromoteConfig }> {
  const e = readEnv(env);
  const problems = e.ok ? [] : [...e.problems];
  const configPath = env.PROMOTE_CONFIG || 'promote.yml';
  let text: string | undefined;
  try {
    text = readText(configPath);
  } catch (err) {
    problems.push(
      `PROMOTE_CONFIG: cannot read ${configPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let config: PromoteConfig | undefined;
  if (text !== undefined) {
    const c = parsePromoteConfig(text, env.AWS_REGION || env.AWS_DEFAULT_REGION);
    if (c.ok) config = c.value;
    else problems.push(...c.problems.map((p) => `${configPath}: ${p}`));
  }
  if (problems.length || !e.ok || !config) return { ok: false, problems };
  return { ok: true, value: { env: e.value, config } };
}

export function findStage(service: ServiceConfig, name: string): StageConfig | undefined {
  return service.stages.find((s) => s.name === name);
}
