// `node dist/main.js --check` (npm run check-config) against the fake Slack and fake AWS: a good config passes
// with a short report; every kind of problem is listed in one run, with exit code 2.
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { writeConfig } from '../support/bot.js';
import { configYaml, DEV_ACCOUNT, DEV_TEMPLATE, PROD_ACCOUNT, PROD_TEMPLATE } from '../support/scenario.js';

/** `node dist/main.js --check` as `npm run check-config` runs it: its exit code and everything it printed. */
async function runCheck(env: Record<string, string>): Promise<{ code: number | null; output: string; stdout: string }> {
  const proc = spawn(process.execPath, ['dist/main.js', '--check'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  proc.stdout.on('data', (d) => {
    output += d;
    stdout += d;
  });
  proc.stderr.on('data', (d) => {
    output += d;
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearTimeout(timer);
  return { code, output, stdout };
}

const PROD_ROLE = `arn:aws:iam::${PROD_ACCOUNT}:role/promote-bot`;

describe('check-config', () => {
  let aws: FakeAws;
  let slack: FakeSlack;

  beforeEach(async () => {
    aws = await startFakeAws();
    slack = await startFakeSlack();
    slack.userGroups.set('S0LEADS', ['U0LEAD1', 'U0LEAD2']);
    aws.putStack({ name: 'api-dev', account: DEV_ACCOUNT, template: DEV_TEMPLATE, parameters: { Env: 'dev' } });
    aws.putStack({ name: 'api-prod', account: PROD_ACCOUNT, template: PROD_TEMPLATE, parameters: { Env: 'prod' } });
    // web has no roles: its stacks are read with the bot's own credentials (the fake's default account).
    aws.putStack({ name: 'web-dev', template: DEV_TEMPLATE, parameters: { Env: 'dev' } });
    aws.putStack({ name: 'web-prod', template: PROD_TEMPLATE, parameters: { Env: 'prod' } });
  });
  afterEach(async () => {
    await slack.close();
    await aws.close();
  });

  const check = (config = configYaml(), env: Record<string, string> = {}) =>
    runCheck({
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: 'test-signing-secret',
      SLACK_API_URL: slack.url,
      PROMOTE_CONFIG: writeConfig(config),
      AWS_ENDPOINT_URL: aws.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    }).then(({ code, output, stdout }) => {
      // Kept for the README's sample: CHECK_CONFIG_PRINT=1 npx vitest run test/e2e/check-config.test.ts
      if (process.env.CHECK_CONFIG_PRINT) process.stdout.write(output);
      return { code, output, stdout };
    });

  it('passes a good config with a short OK report, assuming each role with SourceIdentity', async () => {
    const { code, output, stdout } = await check();
    expect(output).toMatch(/^OK: all \d+ checks passed\.$/m);
    expect(code).toBe(0);
    expect(output).not.toMatch(/✗/);
    for (const stack of ['api-dev', 'api-prod', 'web-dev', 'web-prod'])
      expect(output).toContain(`: ${stack}: UPDATE_COMPLETE`);
    expect(output).toMatch(/✓ group +S0LEADS: 2 members/);
    expect(output).toMatch(/✓ channel +C0PROMOTE: #channel-c0promote, the bot is a member/);
    expect(output).toMatch(/✓ slack +bot token: @promote-bot \(U0PROMOTEBOT\)/);
    const prodAssumes = aws.assumeRoleCalls.filter((c) => c.RoleArn === PROD_ROLE);
    expect(prodAssumes.length).toBeGreaterThan(0);
    expect(prodAssumes[0]).toMatchObject({ SourceIdentity: 'promote-bot-check', ExternalId: 'promote-ext' });
    // Short: one line per check, a header and the verdict, all on stdout.
    expect(stdout.trim().split('\n')).toHaveLength(14);
  });

  it('lists a missing stack, a denied role, an unknown group and a channel without the bot in one run', async () => {
    const missing = configYaml({
      reviewers: ['U0ALICE', 'U0BOB', 'S0LEADS', 'S0NOBODY'],
      extra: '',
    }).replace('stack: web-prod', 'stack: web-production');
    aws.denyAssumeRole(PROD_ROLE);
    slack.channels.set('C0WEB', { name: 'web-deploys', is_member: false });

    const { code, output } = await check(missing);
    expect(code).toBe(2);
    const problems = output.split('\n').filter((l) => l.includes('✗'));
    expect(problems).toHaveLength(4);
    expect(problems.find((l) => l.includes('web/prod: web-production'))).toMatch(
      /does not exist in us-east-1 \(the bot's own credentials\)/,
    );
    expect(problems.find((l) => l.includes(PROD_ROLE))).toMatch(/may not assume the role .*trust policy/);
    expect(problems.find((l) => l.includes('S0NOBODY'))).toMatch(
      /no such user group \(reviewers of api\.prod\.approvals, api\.prod\.rollback\)/,
    );
    expect(problems.find((l) => l.includes('C0WEB'))).toMatch(/the bot is not in #web-deploys: \/invite @promote-bot/);
    // The stack behind the denied role is not reported again, and the verdict counts the four.
    expect(output).toMatch(/– stack +api\/prod: api-prod: not checked: the role cannot be assumed/);
    expect(output).toMatch(/^4 problems: promote-bot would not work as configured\.$/m);
  });

  it('names the rejected bot token and skips the Slack checks that need it', async () => {
    const { code, output } = await check(configYaml(), { SLACK_BOT_TOKEN: 'xoxb-revoked' });
    expect(code).toBe(2);
    expect(output).toMatch(/✗ slack +bot token: SLACK_BOT_TOKEN rejected by Slack: invalid_auth/);
    expect(output).toMatch(/– group +S0LEADS: not checked: the bot token does not work/);
    expect(output).toMatch(/^1 problem: /m);
  });

  it('reports every settings problem without asking AWS or Slack', async () => {
    const { code, output } = await check('services:\n  api:\n    stages:\n      dev: { stack: 1bad }\n', {
      SLACK_SIGNING_SECRET: '',
    });
    expect(code).toBe(2);
    expect(output).toContain('SLACK_SIGNING_SECRET');
    expect(output).toContain('stages.dev.stack: must be a CloudFormation stack name');
    expect(slack.calls).toHaveLength(0);
    expect(aws.calls).toHaveLength(0);
  });
});
