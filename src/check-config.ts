// `npm run check-config` / `node dist/main.js --check`: validates the environment and promote.yml (loadSettings),
// then asks AWS and Slack whether what the config names is there: every stack in its account and region (read
// through its stage role, so the role is assumed with SourceIdentity as the bot does), every reviewer user group,
// and the bot's membership of every allowed channel. Every problem is reported at once; exit code 0 or 2.
// checkConfig builds the report from probes passed in; runCheckConfig wires the real adapters (src/aws, src/slack).
import { webApi } from '@slack/bolt';
import { createAwsClients, sourceIdentity } from './aws/clients.js';
import { describeStack } from './aws/cloudformation.js';
import { classifyAwsError, explainAwsFault } from './aws/errors.js';
import { canTakeChangeSet, isInProgress, whyNotUpdatable } from './aws/stack-status.js';
import { loadSettings, type PromoteConfig, type StageConfig } from './config.js';
import { createSlackClient } from './slack/port.js';
import {
  type ChannelProbe,
  type GroupProbe,
  type ProbeFailure,
  probeChannel,
  probeGroup,
  type WhoAmI,
  whoAmI,
} from './slack/probe.js';
import { VERSION } from './version.js';

/** Who the roles are assumed as: CloudTrail shows this SourceIdentity for the check's calls. */
export const CHECK_ACTOR = 'promote-bot-check';

export interface CheckProbes {
  /** DescribeStacks of the stage's stack through its role (if any): its status, or undefined when it does not exist. Throws AWS faults. */
  stackStatus(stage: StageConfig): Promise<string | undefined>;
  whoAmI(): Promise<WhoAmI>;
  group(id: string): Promise<GroupProbe>;
  channel(id: string): Promise<ChannelProbe>;
}

export type CheckKind = 'config' | 'slack' | 'role' | 'stack' | 'group' | 'channel';

export interface CheckLine {
  kind: CheckKind;
  /** ok: checked and fine; problem: the bot would fail on it; skipped: not checkable because of another problem */
  result: 'ok' | 'problem' | 'skipped';
  subject: string;
  detail: string;
}

export interface CheckReport {
  lines: CheckLine[];
  problems: number;
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

const accountOf = (role: string | undefined) => (role ? /^arn:[\w-]+:iam::(\d{12}):/.exec(role)?.[1] : undefined);

function whereIs(stage: StageConfig): string {
  const account = accountOf(stage.role);
  return account ? `account ${account}, ${stage.region}` : `${stage.region} (the bot's own credentials)`;
}

/** Where a reviewer group or channel is used, for the person fixing promote.yml. */
function usesOf(config: PromoteConfig) {
  const groups = new Map<string, string[]>();
  const channels = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, id: string, where: string) => m.set(id, [...(m.get(id) ?? []), where]);
  for (const svc of Object.values(config.services)) {
    for (const ch of svc.channels ?? []) add(channels, ch, svc.name);
    for (const stage of svc.stages) {
      for (const rule of ['approvals', 'rollback'] as const) {
        for (const r of new Set(stage[rule].reviewers)) {
          if (r.startsWith('S')) add(groups, r, `${svc.name}.${stage.name}.${rule}`);
        }
        // The destructive tier's own reviewers (the inherited ones are listed above).
        const tier = stage[rule].destructive;
        for (const r of new Set(tier?.reviewers ?? [])) {
          if (r.startsWith('S') && !stage[rule].reviewers.includes(r)) {
            add(groups, r, `${svc.name}.${stage.name}.${rule}.destructive`);
          }
        }
      }
    }
  }
  return { groups, channels };
}

function slackFailure(f: ProbeFailure, what: string): string {
  if (f.error === 'missing_scope') {
    return `the app lacks the ${f.needed ?? 'needed'} scope to ${what}: add it to the app (manifest.yml) and reinstall it`;
  }
  return `Slack answered ${f.error} when asked to ${what}`;
}

function groupDetail(p: GroupProbe, usedBy: string[]): { ok: boolean; detail: string } {
  if (p.ok) return { ok: true, detail: `${p.members} member${p.members === 1 ? '' : 's'}` };
  const where = `(reviewers of ${usedBy.join(', ')})`;
  if (p.error === 'no_such_subteam') return { ok: false, detail: `no such user group ${where}: check its ID` };
  if (p.error === 'plan_upgrade_required') {
    return { ok: false, detail: `user groups need a paid Slack plan ${where}: name users instead` };
  }
  return { ok: false, detail: `${slackFailure(p, 'list its members')} ${where}` };
}

function channelDetail(p: ChannelProbe, bot: string, usedBy: string[]): { ok: boolean; detail: string } {
  const services = `(channels of ${usedBy.join(', ')})`;
  if (p.ok) {
    if (p.archived) return { ok: false, detail: `#${p.name} is archived ${services}` };
    if (!p.member) return { ok: false, detail: `the bot is not in #${p.name}: /invite @${bot} there` };
    return { ok: true, detail: `#${p.name}, the bot is a member` };
  }
  if (p.error === 'channel_not_found') {
    return {
      ok: false,
      detail: `not found, or a private channel the bot is not in ${services}: /invite @${bot} there`,
    };
  }
  return { ok: false, detail: `${slackFailure(p, 'read the channel')} ${services}` };
}

interface StageResult {
  stage: StageConfig;
  service: string;
  status?: string;
  fault?: ReturnType<typeof classifyAwsError>;
}

/** Checks everything `config` names, through `probes`; every problem is a line, none stops the others. */
export async function checkConfig(config: PromoteConfig, probes: CheckProbes): Promise<CheckReport> {
  const stages = Object.values(config.services).flatMap((svc) =>
    svc.stages.map((stage) => ({ service: svc.name, stage })),
  );
  // Every stack of every stage (a stage with `stacks:` has several): each is checked, and reported, as a stage of
  // its own stack.
  const stacks = stages.flatMap(({ service, stage }) =>
    stage.stacks.map((stack) => ({ service, stage: { ...stage, stack } })),
  );
  const { groups, channels } = usesOf(config);
  const lines: CheckLine[] = [
    {
      kind: 'config',
      result: 'ok',
      subject: 'promote.yml',
      detail: [
        count(Object.keys(config.services).length, 'service'),
        count(stages.length, 'stage'),
        count(channels.size, 'channel'),
        count(groups.size, 'reviewer group'),
      ].join(', '),
    },
  ];

  const [me, results] = await Promise.all([
    probes.whoAmI(),
    Promise.all(
      stacks.map(async ({ service, stage }): Promise<StageResult> => {
        try {
          return { service, stage, status: await probes.stackStatus(stage) };
        } catch (err) {
          return { service, stage, fault: classifyAwsError(err) };
        }
      }),
    ),
  ]);

  // Slack: the token first; without a working token nothing else on Slack can be asked.
  if (!me.ok) {
    const detail =
      me.error === 'invalid_auth' ||
      me.error === 'not_authed' ||
      me.error === 'token_revoked' ||
      me.error === 'account_inactive'
        ? `SLACK_BOT_TOKEN rejected by Slack: ${me.error}`
        : `could not ask Slack who the bot is (auth.test): ${me.error}`;
    lines.push({ kind: 'slack', result: 'problem', subject: 'bot token', detail });
  } else {
    lines.push({
      kind: 'slack',
      result: 'ok',
      subject: 'bot token',
      detail: `@${me.user} (${me.userId}) in ${me.team}`,
    });
  }

  // AWS: one line per role (however many stages use it), then one per stack. A role is assumed when a stack
  // could be read through it; refused when AWS denied the AssumeRole; else unknown (the stack line says why).
  const roles = new Map<string, { role: string; denied?: string; assumed: boolean }>();
  for (const r of results) {
    if (!r.stage.role) continue;
    const key = `${r.stage.role}|${r.stage.externalId ?? ''}`;
    const entry = roles.get(key) ?? { role: r.stage.role, assumed: false };
    if (r.fault?.reason === 'assume_role_denied') entry.denied ??= explainAwsFault(r.fault);
    if (!r.fault) entry.assumed = true;
    roles.set(key, entry);
  }
  for (const { role, denied, assumed } of roles.values()) {
    lines.push(
      denied
        ? { kind: 'role', result: 'problem', subject: role, detail: denied }
        : assumed
          ? {
              kind: 'role',
              result: 'ok',
              subject: role,
              detail: `assumed with SourceIdentity ${sourceIdentity(CHECK_ACTOR)}`,
            }
          : {
              kind: 'role',
              result: 'skipped',
              subject: role,
              detail: 'not confirmed: no stack could be read through it (below)',
            },
    );
  }
  const stackProblems = new Set<string>();
  for (const r of results) {
    const subject = `${r.service}/${r.stage.name}: ${r.stage.stack}`;
    const where = whereIs(r.stage);
    if (r.fault?.reason === 'assume_role_denied') {
      lines.push({ kind: 'stack', result: 'skipped', subject, detail: `not checked: the role cannot be assumed` });
    } else if (r.fault) {
      const detail = explainAwsFault(r.fault);
      // The same fault for every stack (no credentials at all) is one problem, said once.
      const repeated = stackProblems.has(detail);
      stackProblems.add(detail);
      lines.push({
        kind: 'stack',
        result: repeated ? 'skipped' : 'problem',
        subject,
        detail: repeated ? 'not checked: as above' : detail,
      });
    } else if (r.status === undefined) {
      lines.push({ kind: 'stack', result: 'problem', subject, detail: `does not exist in ${where}` });
    } else if (!canTakeChangeSet(r.status) && !isInProgress(r.status) && r.status !== 'UPDATE_ROLLBACK_FAILED') {
      lines.push({
        kind: 'stack',
        result: 'problem',
        subject,
        detail: `${whyNotUpdatable(r.stage.stack, r.status)} (${where})`,
      });
    } else {
      lines.push({ kind: 'stack', result: 'ok', subject, detail: `${r.status} in ${where}` });
    }
  }

  const slackChecks = async <P>(
    kind: 'group' | 'channel',
    ids: Map<string, string[]>,
    probe: (id: string) => Promise<P>,
    judge: (p: P, usedBy: string[]) => { ok: boolean; detail: string },
  ) => {
    if (!me.ok) {
      for (const id of ids.keys()) {
        lines.push({ kind, result: 'skipped', subject: id, detail: 'not checked: the bot token does not work' });
      }
      return;
    }
    const probed = await Promise.all([...ids].map(async ([id, usedBy]) => ({ id, ...judge(await probe(id), usedBy) })));
    for (const p of probed) lines.push({ kind, result: p.ok ? 'ok' : 'problem', subject: p.id, detail: p.detail });
  };
  const bot = me.ok ? me.user : 'promote-bot';
  await slackChecks('group', groups, probes.group, groupDetail);
  await slackChecks('channel', channels, probes.channel, (p, usedBy) => channelDetail(p, bot, usedBy));

  return { lines, problems: lines.filter((l) => l.result === 'problem').length };
}

const MARK = { ok: '✓', problem: '✗', skipped: '–' } as const;

/** The report as printed: one line per check, then the verdict. */
export function formatReport(report: CheckReport, configPath: string): string {
  const width = Math.max(...report.lines.map((l) => l.kind.length));
  const out = [`promote-bot ${VERSION} check-config: ${configPath}`];
  for (const l of report.lines) out.push(`  ${MARK[l.result]} ${l.kind.padEnd(width)}  ${l.subject}: ${l.detail}`);
  const checked = report.lines.filter((l) => l.result !== 'skipped').length;
  out.push(
    report.problems === 0
      ? `OK: all ${checked} checks passed.`
      : `${report.problems} problem${report.problems === 1 ? '' : 's'}: promote-bot would not work as configured.`,
  );
  return `${out.join('\n')}\n`;
}

export interface CheckIo {
  readText: (path: string) => string;
  write: (text: string) => void;
}

/**
 * The whole command: every settings problem (exit 2 without asking anyone), else every AWS and Slack problem.
 * `env` is the process environment, passed in by src/main.ts; the AWS SDK reads its own variables as for the bot.
 */
export async function runCheckConfig(env: Record<string, string | undefined>, io: CheckIo): Promise<0 | 2> {
  const settings = loadSettings(env, io.readText);
  const configPath = env.PROMOTE_CONFIG || 'promote.yml';
  if (!settings.ok) {
    io.write(
      `promote-bot ${VERSION} check-config: ${configPath}\n${settings.problems.map((p) => `  ✗ ${p}`).join('\n')}\n` +
        `${settings.problems.length} problem${settings.problems.length === 1 ? '' : 's'} in the settings; nothing was checked with AWS or Slack yet.\n`,
    );
    return 2;
  }
  const { env: e, config } = settings.value;
  // One attempt more than none and a short timeout: a check should answer in seconds, not retry for minutes.
  const aws = createAwsClients({
    forcePathStyle: !!(env.AWS_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3),
    maxAttempts: 2,
    requestTimeoutMs: 10_000,
  });
  const slack = createSlackClient(e.slackBotToken, { slackApiUrl: e.slackApiUrl, logLevel: webApi.LogLevel.ERROR });
  const report = await checkConfig(config, {
    stackStatus: async (stage) => {
      const cfn = aws.cloudFormation(
        { region: stage.region, role: stage.role, externalId: stage.externalId },
        CHECK_ACTOR,
      );
      return (await describeStack(cfn, stage.stack))?.StackStatus;
    },
    whoAmI: () => whoAmI(slack),
    group: (id) => probeGroup(slack, id),
    channel: (id) => probeChannel(slack, id),
  });
  io.write(formatReport(report, configPath));
  return report.problems === 0 ? 0 : 2;
}
