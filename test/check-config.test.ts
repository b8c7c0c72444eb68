// checkConfig's report from probes given as plain functions: faults that are not one stack's (no credentials at
// all) said once, a role confirmed only by a stack read through it, stacks that cannot take a change set, scopes.
import { describe, expect, it } from 'vitest';
import { type CheckProbes, checkConfig, formatReport } from '../src/check-config.js';
import { type PromoteConfig, parsePromoteConfig, type StageConfig } from '../src/config.js';

const CONFIG = `
services:
  api:
    channels: [C0DEPLOYS]
    stages:
      dev: { stack: api-dev, role: 'arn:aws:iam::111111111111:role/promote-bot' }
      stg: { stack: api-stg, role: 'arn:aws:iam::111111111111:role/promote-bot', approvals: { required: 0 } }
      prod:
        stack: api-prod
        role: arn:aws:iam::333333333333:role/promote-bot
        approvals: { required: 1, reviewers: [S0LEADS] }
`;

function config(): PromoteConfig {
  const r = parsePromoteConfig(CONFIG, 'eu-west-1');
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.value;
}

/** Everything answers well unless a test says otherwise. */
function probes(over: Partial<CheckProbes> = {}): CheckProbes {
  return {
    stackStatus: async () => 'UPDATE_COMPLETE',
    whoAmI: async () => ({ ok: true, user: 'promote-bot', userId: 'U0BOT', team: 'Acme' }),
    group: async () => ({ ok: true, members: 3 }),
    channel: async () => ({ ok: true, name: 'deploys', member: true, archived: false }),
    ...over,
  };
}

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('checkConfig', () => {
  it('passes when everything answers well', async () => {
    const report = await checkConfig(config(), probes());
    expect(report.problems).toBe(0);
    expect(report.lines.map((l) => `${l.kind} ${l.result}`)).toEqual([
      'config ok',
      'slack ok',
      'role ok',
      'role ok',
      'stack ok',
      'stack ok',
      'stack ok',
      'group ok',
      'channel ok',
    ]);
    expect(formatReport(report, 'promote.yml')).toMatch(/\nOK: all 9 checks passed\.\n$/);
  });

  it('says "no credentials" once, not once per stack, and confirms no role', async () => {
    const report = await checkConfig(
      config(),
      probes({
        stackStatus: async () => {
          throw awsError('CredentialsProviderError', 'Could not load credentials from any providers');
        },
      }),
    );
    const problems = report.lines.filter((l) => l.result === 'problem');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.detail).toMatch(/found no AWS credentials/);
    expect(report.lines.filter((l) => l.kind === 'role').map((l) => l.result)).toEqual(['skipped', 'skipped']);
    expect(report.lines.filter((l) => l.kind === 'stack').map((l) => l.detail)).toEqual([
      problems[0]!.detail,
      'not checked: as above',
      'not checked: as above',
    ]);
  });

  it('confirms a role through any one of its stacks; a timeout names the stack', async () => {
    const report = await checkConfig(
      config(),
      probes({
        stackStatus: async (stage: StageConfig) => {
          if (stage.stack === 'api-stg') throw awsError('TimeoutError', 'Connection timed out after 3000 ms');
          return stage.stack === 'api-prod' ? 'ROLLBACK_COMPLETE' : 'UPDATE_COMPLETE';
        },
      }),
    );
    const text = formatReport(report, 'promote.yml');
    expect(text).toMatch(/✓ role +arn:aws:iam::111111111111:role\/promote-bot: assumed/);
    expect(text).toMatch(/✗ stack +api\/stg: api-stg: .*got no answer in time \(TimeoutError\)/);
    expect(text).toMatch(/✗ stack +api\/prod: api-prod: stack api-prod never finished creating \(ROLLBACK_COMPLETE\)/);
    expect(text).toMatch(/\n2 problems: promote-bot would not work as configured\.\n$/);
  });

  it('names a missing scope and an archived channel', async () => {
    const report = await checkConfig(
      config(),
      probes({
        group: async () => ({ ok: false, error: 'missing_scope', needed: 'usergroups:read' }),
        channel: async () => ({ ok: true, name: 'old-deploys', member: true, archived: true }),
      }),
    );
    const details = report.lines.filter((l) => l.result === 'problem').map((l) => l.detail);
    expect(details).toEqual([
      'the app lacks the usergroups:read scope to list its members: add it to the app (manifest.yml) and reinstall it (reviewers of api.prod.approvals, api.prod.rollback)',
      '#old-deploys is archived (channels of api)',
    ]);
  });

  it('checks the groups only a destructive tier names, saying where they are used', async () => {
    const text = CONFIG.replace(
      'approvals: { required: 1, reviewers: [S0LEADS] }',
      'approvals: { required: 1, reviewers: [S0LEADS], destructive: { required: 2, reviewers: [S0LEADS, S0SECURITY] } }',
    );
    expect(text).toContain('S0SECURITY');
    const parsed = parsePromoteConfig(text, 'eu-west-1');
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const asked: string[] = [];
    const report = await checkConfig(
      parsed.value,
      probes({
        group: async (id: string) => {
          asked.push(id);
          return id === 'S0SECURITY' ? { ok: false, error: 'no_such_subteam' } : { ok: true, members: 3 };
        },
      }),
    );
    expect(asked.sort()).toEqual(['S0LEADS', 'S0SECURITY']);
    const problem = report.lines.find((l) => l.result === 'problem');
    expect(problem?.detail).toContain('(reviewers of api.prod.approvals.destructive)');
  });
});

describe('checkConfig: a stage of several stacks', () => {
  it('checks every stack of it, each on its own line', async () => {
    const r = parsePromoteConfig(
      `
services:
  shop:
    stages:
      dev: { stacks: [shop-infra-dev, shop-app-dev] }
      prod: { stacks: [shop-infra-prod, shop-app-prod], approvals: { required: 0 } }
`,
      'eu-west-1',
    );
    if (!r.ok) throw new Error(r.problems.join('\n'));
    const asked: string[] = [];
    const report = await checkConfig(
      r.value,
      probes({
        stackStatus: async (stage: StageConfig) => {
          asked.push(stage.stack);
          return stage.stack === 'shop-app-prod' ? undefined : 'UPDATE_COMPLETE';
        },
      }),
    );
    expect(asked.sort()).toEqual(['shop-app-dev', 'shop-app-prod', 'shop-infra-dev', 'shop-infra-prod']);
    expect(report.lines.filter((l) => l.kind === 'stack').map((l) => `${l.result} ${l.subject}`)).toEqual([
      'ok shop/dev: shop-infra-dev',
      'ok shop/dev: shop-app-dev',
      'ok shop/prod: shop-infra-prod',
      'problem shop/prod: shop-app-prod',
    ]);
    expect(report.lines[0]?.detail).toMatch(/^1 service, 2 stages/);
  });
});
