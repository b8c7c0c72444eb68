// promote.yml and the environment, as tables: what is accepted (with its defaults) and what is refused, with
// the path of every problem, all at once. Pure: YAML text and env objects in, values or problems out.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSettings, type PromoteConfig, parsePromoteConfig, readEnv, type StageConfig } from '../src/config.js';
import { parseDuration } from '../src/domain/duration.js';

const EXAMPLE_PATH = new URL('../promote.example.yml', import.meta.url);
const EXAMPLE = readFileSync(EXAMPLE_PATH, 'utf8');

const H = 3_600_000;
const A5XX = 'arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-5xx';
const ALAT = 'arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-latency';
const D = 24 * H;

/** A valid two-stage service; `prod` is the stage the rows below usually break. */
const base = (prod = 'approvals: { required: 1, reviewers: [U0ALICE] }', extra = '') => `
services:
  api:
    stages:
      dev:
        stack: api-dev
      prod:
        stack: api-prod
        ${prod}
${extra}`;

/** `null`: no AWS_REGION. */
function valid(text: string, region: string | null = 'us-east-1'): PromoteConfig {
  const r = parsePromoteConfig(text, region ?? undefined);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.problems.join('\n')}`);
  return r.value;
}

function problemsOf(text: string, region: string | null = 'us-east-1'): string[] {
  const r = parsePromoteConfig(text, region ?? undefined);
  if (r.ok) throw new Error('expected problems, the config was accepted');
  return r.problems;
}

const stage = (config: PromoteConfig, service: string, name: string): StageConfig => {
  const s = config.services[service]?.stages.find((st) => st.name === name);
  if (!s) throw new Error(`no stage ${service}/${name}`);
  return s;
};

describe('promote.example.yml (the shipped file)', () => {
  it('validates, with AWS_REGION for the stages that name no region', () => {
    const config = valid(EXAMPLE, 'eu-west-1');
    const api = config.services.api!;
    expect(api.channels).toEqual(['C0PROMOTE']);
    expect(api.stages.map((s) => s.name)).toEqual(['dev', 'stg', 'prod']);
    expect(api.stages.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(stage(config, 'api', 'dev')).toMatchObject({
      stack: 'api-dev',
      region: 'us-east-1',
      role: 'arn:aws:iam::111111111111:role/promote-bot',
      promotesFrom: [],
      approvals: { required: 0, reviewers: [] },
      rollback: { required: 0, reviewers: [] },
    });
    expect(stage(config, 'api', 'stg')).toMatchObject({
      region: 'eu-west-1',
      promotesFrom: ['dev'],
      approvals: {
        required: 1,
        reviewers: ['U0ALICE', 'U0BOB', 'U0CAROL'],
        expiresAfterMs: 24 * H,
        destructive: {
          required: 2,
          reviewers: ['U0ALICE', 'U0CAROL'],
          allowSelfApproval: false,
          expiresAfterMs: 24 * H,
        },
      },
    });
    expect(stage(config, 'api', 'prod')).toEqual({
      name: 'prod',
      index: 2,
      stack: 'api-prod',
      stacks: ['api-prod'],
      region: 'eu-west-1',
      role: 'arn:aws:iam::333333333333:role/promote-bot',
      externalId: 'promote-bot',
      templateBucket: 'api-prod-templates',
      promotesFrom: ['stg'],
      approvals: {
        required: 2,
        reviewers: ['U0ALICE', 'U0BOB', 'S0LEADS'],
        allowSelfApproval: false,
        expiresAfterMs: 4 * H,
      },
      rollback: {
        required: 1,
        reviewers: ['U0ALICE', 'U0BOB', 'S0LEADS'],
        allowSelfApproval: false,
        expiresAfterMs: 1 * H,
      },
      keepReleases: 20,
      monitoring: { alarms: ['arn:aws:cloudwatch:us-east-1:333333333333:alarm:api-5xx'], minutes: 10 },
    });
    expect(config.settings).toEqual({});
  });

  it('names exactly the stages that need AWS_REGION when it is not set', () => {
    expect(problemsOf(EXAMPLE, null)).toEqual([
      'services.api.stages.stg.region: required (no AWS_REGION is set)',
      'services.api.stages.prod.region: required (no AWS_REGION is set)',
    ]);
  });

  it('documents settings that are valid once uncommented, with the defaults it claims', () => {
    const [head, commented] = EXAMPLE.split(/^# settings:\n/m);
    expect(commented).toBeDefined();
    const text = `${head}settings:\n${commented!.replace(/^# /gm, '')}`;
    expect(valid(text).settings).toEqual({
      sweepEvery: 5_000,
      leaseTtl: 15_000,
      stallAfter: 90_000,
      awsRequestTimeout: 20_000,
      progressEvery: 2_000,
      progressNoteAfter: 8_000,
      pollMin: 500,
      pollMax: 2_000,
      planningTimeout: 15 * 60_000,
      retention: 90 * D,
      awsCallsPerSecond: 4,
      slackUpdatesPerMinute: 50,
    });
  });

  it('loads through loadSettings from its real path', () => {
    const r = loadSettings(
      {
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        PROMOTE_CONFIG: EXAMPLE_PATH.pathname,
        AWS_REGION: 'us-east-1',
      },
      (p) => readFileSync(p, 'utf8'),
    );
    expect(r.ok).toBe(true);
  });
});

describe('defaults of a minimal config', () => {
  const config = valid(base(), 'ap-south-1');
  const dev = stage(config, 'api', 'dev');
  const prod = stage(config, 'api', 'prod');

  it.each<[string, unknown, unknown]>([
    ['region from AWS_REGION', prod.region, 'ap-south-1'],
    ['first stage promotes from nothing', dev.promotesFrom, []],
    ['a stage promotes from the one before it', prod.promotesFrom, ['dev']],
    ['self-approval is off', prod.approvals.allowSelfApproval, false],
    ['approvals expire after 24h', prod.approvals.expiresAfterMs, 24 * H],
    ['rollback needs 1 approval when the stage has reviewers', prod.rollback.required, 1],
    ['rollback reviewers are the approvals reviewers', prod.rollback.reviewers, ['U0ALICE']],
    ['rollback inherits allowSelfApproval', prod.rollback.allowSelfApproval, false],
    ['rollback approvals expire after 1h', prod.rollback.expiresAfterMs, 1 * H],
    ['a stage nobody reviews needs no rollback approval', dev.rollback.required, 0],
    ['keepReleases is 20', prod.keepReleases, 20],
    ['no role', prod.role, undefined],
    ['no externalId', prod.externalId, undefined],
    ['no templateBucket', prod.templateBucket, undefined],
    ['any channel', config.services.api!.channels, undefined],
    ['no settings', config.settings, {}],
  ])('%s', (_what, actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

describe('accepted configs', () => {
  it.each<[string, string, (c: PromoteConfig) => unknown, unknown]>([
    [
      'groups make the reviewer bound open',
      base('approvals: { required: 5, reviewers: [U0ALICE, S0LEADS] }'),
      (c) => stage(c, 'api', 'prod').approvals.required,
      5,
    ],
    [
      'W… (Enterprise Grid) user IDs count as users',
      base('approvals: { required: 2, reviewers: [U0ALICE, W0BOB] }'),
      (c) => stage(c, 'api', 'prod').approvals.reviewers,
      ['U0ALICE', 'W0BOB'],
    ],
    [
      'monitoring: alarms and monitorFor in minutes',
      base(`approvals: { required: 0 }\n        monitoring: { alarms: [${A5XX}, ${A5XX}, ${ALAT}], monitorFor: 10m }`),
      (c) => stage(c, 'api', 'prod').monitoring,
      { alarms: [A5XX, ALAT], minutes: 10 },
    ],
    [
      'monitoring: monitorFor defaults to 0, and may be 3h (180 minutes)',
      base(`approvals: { required: 0 }\n        monitoring: { alarms: [${A5XX}] }`).replace(
        'stack: api-dev',
        'stack: api-dev\n        monitoring: { monitorFor: 3h }',
      ),
      (c) => [stage(c, 'api', 'prod').monitoring, stage(c, 'api', 'dev').monitoring],
      [
        { alarms: [A5XX], minutes: 0 },
        { alarms: [], minutes: 180 },
      ],
    ],
    [
      'monitoring: a GovCloud alarm, and monitorFor 0',
      base(
        'approvals: { required: 0 }\n        monitoring: { alarms: [arn:aws-us-gov:cloudwatch:us-gov-west-1:123456789012:alarm:x], monitorFor: 0m }',
      ),
      (c) => stage(c, 'api', 'prod').monitoring?.minutes,
      0,
    ],
    ['no monitoring: nothing is watched', base(), (c) => stage(c, 'api', 'prod').monitoring, undefined],
    [
      'required equal to the number of reviewers',
      base('approvals: { required: 3, reviewers: [U0A, U0B, U0C] }'),
      (c) => stage(c, 'api', 'prod').approvals.required,
      3,
    ],
    [
      'required 0 with no reviewers (no review), and then no rollback approval',
      base('approvals: { required: 0 }'),
      (c) => [stage(c, 'api', 'prod').approvals.required, stage(c, 'api', 'prod').rollback.required],
      [0, 0],
    ],
    [
      'rollback required 0 (no approval, recorded)',
      base('approvals: { required: 1, reviewers: [U0A] }\n        rollback: { required: 0 }'),
      (c) => stage(c, 'api', 'prod').rollback.required,
      0,
    ],
    [
      'rollback with its own reviewers, expiry and self-approval',
      base(
        'approvals: { required: 1, reviewers: [U0A] }\n        rollback: { required: 2, reviewers: [U0X, U0Y], expiresAfter: 15m, allowSelfApproval: true }',
      ),
      (c) => stage(c, 'api', 'prod').rollback,
      { required: 2, reviewers: ['U0X', 'U0Y'], allowSelfApproval: true, expiresAfterMs: 15 * 60_000 },
    ],
    [
      'a destructive tier with its own reviewers; self-approval and expiry from approvals',
      base(
        'approvals:\n          required: 1\n          reviewers: [U0A, U0B, U0C]\n          expiresAfter: 4h\n          allowSelfApproval: true\n          destructive: { required: 2, reviewers: [U0A, S0LEADS] }',
      ),
      (c) => stage(c, 'api', 'prod').approvals.destructive,
      { required: 2, reviewers: ['U0A', 'S0LEADS'], allowSelfApproval: true, expiresAfterMs: 4 * H },
    ],
    [
      'a destructive tier without reviewers takes the approvals reviewers',
      base('approvals: { required: 1, reviewers: [U0A, U0B], destructive: { required: 2 } }'),
      (c) => stage(c, 'api', 'prod').approvals.destructive?.reviewers,
      ['U0A', 'U0B'],
    ],
    [
      'no destructive tier unless configured (approvals and rollback)',
      base(),
      (c) => [stage(c, 'api', 'prod').approvals.destructive, stage(c, 'api', 'prod').rollback.destructive],
      [undefined, undefined],
    ],
    [
      'rollback.destructive takes the rollback reviewers and expiry',
      base(
        'approvals: { required: 1, reviewers: [U0A, U0B] }\n        rollback: { required: 1, reviewers: [U0X, U0Y], destructive: { required: 2 } }',
      ),
      (c) => stage(c, 'api', 'prod').rollback.destructive,
      { required: 2, reviewers: ['U0X', 'U0Y'], allowSelfApproval: false, expiresAfterMs: 1 * H },
    ],
    [
      'allowSelfApproval carries over to rollback',
      base('approvals: { required: 1, reviewers: [U0A], allowSelfApproval: true }'),
      (c) => stage(c, 'api', 'prod').rollback.allowSelfApproval,
      true,
    ],
    [
      'compound duration 1h30m',
      base('approvals: { required: 1, reviewers: [U0A], expiresAfter: 1h30m }'),
      (c) => stage(c, 'api', 'prod').approvals.expiresAfterMs,
      90 * 60_000,
    ],
    [
      'explicit region wins over AWS_REGION',
      base('region: eu-central-1\n        approvals: { required: 0 }'),
      (c) => stage(c, 'api', 'prod').region,
      'eu-central-1',
    ],
    [
      'GovCloud region and partition',
      base(
        'region: us-gov-west-1\n        role: arn:aws-us-gov:iam::123456789012:role/x\n        approvals: { required: 0 }',
      ),
      (c) => stage(c, 'api', 'prod').role,
      'arn:aws-us-gov:iam::123456789012:role/x',
    ],
    [
      'externalId with the characters STS allows',
      base('externalId: "a+b=c,d.e@f:g/h-i_j"\n        approvals: { required: 0 }'),
      (c) => stage(c, 'api', 'prod').externalId,
      'a+b=c,d.e@f:g/h-i_j',
    ],
    [
      'keepReleases bounds 1 and 200',
      base('keepReleases: 200\n        approvals: { required: 0 }').replace(
        'stack: api-dev',
        'stack: api-dev\n        keepReleases: 1',
      ),
      (c) => c.services.api!.stages.map((s) => s.keepReleases),
      [1, 200],
    ],
    [
      'channels allow-list with public, private and DM IDs',
      base().replace('  api:\n', '  api:\n    channels: [C0A, G0B, D0C]\n'),
      (c) => c.services.api!.channels,
      ['C0A', 'G0B', 'D0C'],
    ],
    [
      'several source stages; the first listed is the default',
      `services:
  api:
    stages:
      dev: { stack: a }
      qa: { stack: b, approvals: { required: 0 } }
      prod: { stack: c, promotesFrom: [qa, dev], approvals: { required: 0 } }`,
      (c) => stage(c, 'api', 'prod').promotesFrom,
      ['qa', 'dev'],
    ],
    [
      'a stage that skips one by promotesFrom',
      `services:
  api:
    stages:
      dev: { stack: a }
      stg: { stack: b, approvals: { required: 0 } }
      prod: { stack: c, promotesFrom: [dev], approvals: { required: 0 } }`,
      (c) => stage(c, 'api', 'prod').promotesFrom,
      ['dev'],
    ],
    [
      'stage order is the YAML order, not alphabetical',
      `services:
  api:
    stages:
      zeta: { stack: a }
      alpha: { stack: b, approvals: { required: 0 } }
      mid: { stack: c, approvals: { required: 0 } }`,
      (c) => c.services.api!.stages.map((s) => `${s.index}:${s.name}<-${s.promotesFrom.join()}`),
      ['0:zeta<-', '1:alpha<-zeta', '2:mid<-alpha'],
    ],
    [
      'several services',
      `${base()}  web:\n    stages:\n      only: { stack: web }\n`,
      (c) => Object.keys(c.services),
      ['api', 'web'],
    ],
    [
      'YAML anchors and merge keys share an approval rule',
      `services:
  api:
    stages:
      dev: { stack: a }
      stg:
        stack: b
        approvals: &strict { required: 2, reviewers: [U0A, U0B], expiresAfter: 2h }
      prod:
        stack: c
        approvals:
          <<: *strict
          required: 1`,
      (c) => stage(c, 'api', 'prod').approvals,
      { required: 1, reviewers: ['U0A', 'U0B'], allowSelfApproval: false, expiresAfterMs: 2 * H },
    ],
    [
      'every setting, as milliseconds',
      base(
        undefined,
        'settings:\n  leaseTtl: 15s\n  sweepEvery: 5s\n  progressEvery: 2s\n  progressNoteAfter: 12s\n  pollMin: 500ms\n  pollMax: 2s\n  planningTimeout: 15m\n  retention: 90d',
      ),
      (c) => c.settings,
      {
        leaseTtl: 15_000,
        sweepEvery: 5_000,
        progressEvery: 2_000,
        progressNoteAfter: 12_000,
        pollMin: 500,
        pollMax: 2_000,
        planningTimeout: 900_000,
        retention: 90 * D,
      },
    ],
    [
      'pollMin equal to pollMax',
      base(undefined, 'settings: { pollMin: 1s, pollMax: 1000ms }'),
      (c) => c.settings,
      { pollMin: 1000, pollMax: 1000 },
    ],
    ['a timer setting of exactly 1d', base(undefined, 'settings: { sweepEvery: 1d }'), (c) => c.settings.sweepEvery, D],
    [
      'a request rate, as a number',
      base(undefined, 'settings: { awsCallsPerSecond: 2.5 }'),
      (c) => c.settings.awsCallsPerSecond,
      2.5,
    ],
    [
      'retention beyond the timer bound (it is not a timer)',
      base(undefined, 'settings: { retention: 365d }'),
      (c) => c.settings.retention,
      365 * D,
    ],
  ])('%s', (_what, text, pick, expected) => {
    expect(pick(valid(text))).toEqual(expected);
  });
});

describe('refused configs: each problem with its path', () => {
  const P = 'services.api.stages.prod';
  it.each<[string, string, string[]]>([
    // structure
    ['empty file', '', ['services: required']],
    ['only a comment', '# nothing yet\n', ['services: required']],
    ['a list at the top', '- api\n', ['(top level): expected object, received array']],
    ['a scalar at the top', 'api\n', ['(top level): expected object, received string']],
    ['no services', 'services: {}', ['services: must name at least one service']],
    ['services is a list', 'services: [api]', ['services: expected record, received array']],
    ['a service without stages', 'services:\n  api: {}', ['services.api.stages: required']],
    [
      'a service with no stage',
      'services:\n  api:\n    stages: {}',
      ['services.api.stages: must name at least one stage'],
    ],
    [
      'a stage without stack',
      base('approvals: { required: 0 }').replace('stack: api-prod', 'region: us-east-1'),
      [`${P}.stack: required`],
    ],
    [
      'a stage that is not a mapping',
      base().replace(/prod:\n {8}stack: api-prod\n {8}.*\n/, 'prod: api-prod\n'),
      [`${P}: expected object, received string`],
    ],
    // unknown keys, at every level
    ['unknown top-level key', `${base()}servces: {}`, ['servces: unknown key']],
    [
      'unknown service key',
      base().replace('  api:\n', '  api:\n    chanels: [C0A]\n'),
      ['services.api.chanels: unknown key'],
    ],
    [
      'unknown stage key',
      base().replace('stack: api-dev', 'stack: api-dev\n        colour: blue'),
      ['services.api.stages.dev.colour: unknown key'],
    ],
    [
      'misspelt key in approvals',
      base('approvals: { requried: 1, reviewers: [U0A] }'),
      [`${P}.approvals.required: required`, `${P}.approvals.requried: unknown key`],
    ],
    [
      'unknown key in rollback',
      base('approvals: { required: 0 }\n        rollback: { approvers: [U0A] }'),
      [`${P}.rollback.approvers: unknown key`],
    ],
    ['unknown setting', base(undefined, 'settings: { sweepEvry: 5s }'), ['settings.sweepEvry: unknown key']],
    [
      'a rate that is not a number',
      base(undefined, 'settings: { awsCallsPerSecond: 4/s }'),
      ['settings.awsCallsPerSecond: must be a number such as 4 or 0.5'],
    ],
    [
      'a rate of zero',
      base(undefined, 'settings: { slackUpdatesPerMinute: 0 }'),
      ['settings.slackUpdatesPerMinute: must be greater than 0'],
    ],
    // names
    [
      'service name with a space',
      base().replace('  api:', '  "my api":'),
      ['services.my api: service names are letters, digits, -, _ and .'],
    ],
    [
      'service name that is a mention',
      base().replace('  api:', '  "<!channel>":'),
      ['services.<!channel>: service names are letters, digits, -, _ and .'],
    ],
    [
      'stage name with a slash',
      base().replace('      prod:', '      "prod/eu":'),
      ['services.api.stages.prod/eu: stage names are letters, digits, - and _'],
    ],
    [
      'service named like a /promote subcommand',
      base().replace('  api:', '  status:'),
      ['services.status: is a /promote subcommand, so /promote could not name this service'],
    ],
    [
      'service named help, in capitals',
      base().replace('  api:', '  HELP:'),
      ['services.HELP: is a /promote subcommand, so /promote could not name this service'],
    ],
    [
      'services differing only in case',
      `${base()}  API:\n    stages:\n      only: { stack: x }\n`,
      ['services.API: differs from api only in case (commands ignore case)'],
    ],
    [
      'stages differing only in case',
      base().replace('      prod:', '      Dev: { stack: x, approvals: { required: 0 } }\n      prod:'),
      ['services.api.stages.Dev: differs from dev only in case (commands ignore case)'],
    ],
    [
      'stages named only by digits',
      `services:\n  api:\n    stages:\n      "2": { stack: a, approvals: { required: 0 } }\n      "1": { stack: b, approvals: { required: 0 } }`,
      [
        'services.api.stages.1: a stage name must not be only digits (its order would be lost)',
        'services.api.stages.2: a stage name must not be only digits (its order would be lost)',
      ],
    ],
    // stage references
    [
      'promotesFrom an unknown stage',
      base('promotesFrom: [qa]\n        approvals: { required: 0 }'),
      [`${P}.promotesFrom: no stage "qa" in service api`],
    ],
    [
      'promotesFrom itself',
      base('promotesFrom: [prod]\n        approvals: { required: 0 }'),
      [`${P}.promotesFrom: a stage cannot promote from itself`],
    ],
    [
      'promotesFrom a later stage',
      base().replace(
        'stack: api-dev',
        'stack: api-dev\n        promotesFrom: [prod]\n        approvals: { required: 0 }',
      ),
      ['services.api.stages.dev.promotesFrom: prod comes after dev; stages are listed in promotion order'],
    ],
    [
      'promotesFrom empty',
      base('promotesFrom: []\n        approvals: { required: 0 }'),
      [`${P}.promotesFrom: Too small: expected array to have >=1 items`],
    ],
    [
      'a promotable stage without approvals',
      base(''),
      [`${P}.approvals: required for a stage that can be promoted to (use required: 0 to skip review)`],
    ],
    // approval quorums
    [
      'more approvals than users',
      base('approvals: { required: 3, reviewers: [U0ALICE] }'),
      [`${P}.approvals.required: 3 approvals can never be reached with 1 reviewer`],
    ],
    [
      'a user listed twice counts once',
      base('approvals: { required: 2, reviewers: [U0A, U0A] }'),
      [`${P}.approvals.required: 2 approvals can never be reached with 1 reviewer`],
    ],
    [
      'approvals without reviewers',
      base('approvals: { required: 1 }'),
      [`${P}.approvals.reviewers: required when ${P}.approvals.required is 1`],
    ],
    [
      'approvals with an empty reviewer list',
      base('approvals: { required: 2, reviewers: [] }'),
      [`${P}.approvals.reviewers: required when ${P}.approvals.required is 2`],
    ],
    [
      'a destructive tier asking for fewer approvals than the normal rule',
      base('approvals: { required: 2, reviewers: [U0A, U0B], destructive: { required: 1 } }'),
      [
        `${P}.approvals.destructive.required: 1 is fewer than ${P}.approvals.required (2); the destructive rule may only ask for more`,
      ],
    ],
    [
      'a destructive tier that can never be reached with its reviewers',
      base('approvals: { required: 1, reviewers: [U0A, U0B], destructive: { required: 2, reviewers: [U0A] } }'),
      [`${P}.approvals.destructive.required: 2 approvals can never be reached with 1 reviewer`],
    ],
    [
      'a destructive tier needing no approval',
      base('approvals: { required: 0, destructive: { required: 0 } }'),
      [`${P}.approvals.destructive.required: Too small: expected number to be >=1`],
    ],
    [
      'a destructive tier on a stage nobody reviews',
      base('approvals: { required: 0, destructive: { required: 1 } }'),
      [`${P}.approvals.destructive.reviewers: required when ${P}.approvals.destructive.required is 1`],
    ],
    [
      'a destructive tier with keys only the rule has',
      base('approvals: { required: 1, reviewers: [U0A, U0B], destructive: { required: 2, expiresAfter: 1h } }'),
      [`${P}.approvals.destructive.expiresAfter: unknown key`],
    ],
    [
      'rollback.destructive asking for fewer than rollback',
      base(
        'approvals: { required: 1, reviewers: [U0A, U0B] }\n        rollback: { required: 2, destructive: { required: 1 } }',
      ),
      [
        `${P}.rollback.destructive.required: 1 is fewer than ${P}.rollback.required (2); the destructive rule may only ask for more`,
      ],
    ],
    [
      'rollback needing more than the inherited reviewers',
      base('approvals: { required: 1, reviewers: [U0A, U0B] }\n        rollback: { required: 3 }'),
      [`${P}.rollback.required: 3 approvals can never be reached with 2 reviewers`],
    ],
    [
      'rollback needing an approval on an unreviewed stage',
      base('approvals: { required: 0 }\n        rollback: { required: 1 }'),
      [`${P}.rollback.reviewers: required when ${P}.rollback.required is 1`],
    ],
    [
      'required negative',
      base('approvals: { required: -1, reviewers: [U0A] }'),
      [`${P}.approvals.required: Too small: expected number to be >=0`],
    ],
    [
      'required fractional',
      base('approvals: { required: 1.5, reviewers: [U0A, U0B] }'),
      [`${P}.approvals.required: expected int, received number`],
    ],
    [
      'required as a string',
      base('approvals: { required: "2", reviewers: [U0A, U0B] }'),
      [`${P}.approvals.required: expected number, received string`],
    ],
    [
      'allowSelfApproval as a string',
      base('approvals: { required: 1, reviewers: [U0A], allowSelfApproval: "no" }'),
      [`${P}.approvals.allowSelfApproval: expected boolean, received string`],
    ],
    [
      'a reviewer by name',
      base('approvals: { required: 1, reviewers: [alice] }'),
      [`${P}.approvals.reviewers.0: must be a Slack user ID (U…/W…) or user-group ID (S…)`],
    ],
    [
      'a reviewer as a mention',
      base('approvals: { required: 1, reviewers: ["<@U0A>"] }'),
      [`${P}.approvals.reviewers.0: must be a Slack user ID (U…/W…) or user-group ID (S…)`],
    ],
    [
      'a channel ID as reviewer',
      base('approvals: { required: 1, reviewers: [U0A, C0B] }'),
      [`${P}.approvals.reviewers.1: must be a Slack user ID (U…/W…) or user-group ID (S…)`],
    ],
    // field formats
    [
      'a channel by name',
      base().replace('  api:\n', '  api:\n    channels: ["#deploys"]\n'),
      ['services.api.channels.0: must be a Slack channel ID'],
    ],
    [
      'an empty channel list',
      base().replace('  api:\n', '  api:\n    channels: []\n'),
      ['services.api.channels: must not be empty'],
    ],
    [
      'a stack name with an underscore',
      base().replace('stack: api-prod', 'stack: api_prod'),
      [`${P}.stack: must be a CloudFormation stack name`],
    ],
    [
      'a stack name starting with a digit',
      base().replace('stack: api-prod', 'stack: 1api'),
      [`${P}.stack: must be a CloudFormation stack name`],
    ],
    [
      'a region typo',
      base('region: us-east1\n        approvals: { required: 0 }'),
      [`${P}.region: must be an AWS region such as us-east-1`],
    ],
    [
      'a role that is a user ARN',
      base('role: arn:aws:iam::123456789012:user/bob\n        approvals: { required: 0 }'),
      [`${P}.role: must be an IAM role ARN`],
    ],
    [
      'a role with a short account',
      base('role: arn:aws:iam::1234:role/x\n        approvals: { required: 0 }'),
      [`${P}.role: must be an IAM role ARN`],
    ],
    [
      'an externalId of one character',
      base('externalId: x\n        approvals: { required: 0 }'),
      [`${P}.externalId: must be 2–1224 characters of [A-Za-z0-9_+=,.@:/-]`],
    ],
    [
      'an externalId with a space',
      base('externalId: "a b"\n        approvals: { required: 0 }'),
      [`${P}.externalId: must be 2–1224 characters of [A-Za-z0-9_+=,.@:/-]`],
    ],
    [
      'keepReleases 0',
      base('keepReleases: 0\n        approvals: { required: 0 }'),
      [`${P}.keepReleases: Too small: expected number to be >=1`],
    ],
    [
      'keepReleases 201',
      base('keepReleases: 201\n        approvals: { required: 0 }'),
      [`${P}.keepReleases: Too big: expected number to be <=200`],
    ],
    // durations
    [
      'expiresAfter in words',
      base('approvals: { required: 1, reviewers: [U0A], expiresAfter: 4 hours }'),
      [`${P}.approvals.expiresAfter: must be a duration such as 30m, 4h or 1d`],
    ],
    [
      'expiresAfter zero',
      base('approvals: { required: 1, reviewers: [U0A], expiresAfter: 0h }'),
      [`${P}.approvals.expiresAfter: must be a duration such as 30m, 4h or 1d`],
    ],
    [
      'expiresAfter as a bare number',
      base('approvals: { required: 1, reviewers: [U0A], expiresAfter: 3600 }'),
      [`${P}.approvals.expiresAfter: expected string, received number`],
    ],
    [
      'expiresAfter in years',
      base('approvals: { required: 1, reviewers: [U0A], expiresAfter: 99999999d }'),
      [`${P}.approvals.expiresAfter: must be at most 3650d`],
    ],
    [
      'rollback expiresAfter fractional',
      base('approvals: { required: 0 }\n        rollback: { required: 0, expiresAfter: 1.5h }'),
      [`${P}.rollback.expiresAfter: must be a duration such as 30m, 4h or 1d`],
    ],
    [
      'monitoring: an alarm that is not a CloudWatch alarm ARN',
      base(
        'approvals: { required: 0 }\n        monitoring: { alarms: [api-5xx, "arn:aws:sns:us-east-1:123456789012:topic"] }',
      ),
      [
        `${P}.monitoring.alarms.0: must be a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)`,
        `${P}.monitoring.alarms.1: must be a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)`,
      ],
    ],
    [
      'monitoring: six alarms (CloudFormation takes at most 5 rollback triggers)',
      base(
        `approvals: { required: 0 }\n        monitoring: { alarms: [${[1, 2, 3, 4, 5, 6].map((i) => `${A5XX}${i}`).join(', ')}] }`,
      ),
      [`${P}.monitoring.alarms: at most 5 alarms (CloudFormation's limit of rollback triggers)`],
    ],
    ...['181m', '4h', '90s', '10', 'soon'].map((d): [string, string, string[]] => [
      `monitoring: monitorFor ${d}`,
      base(`approvals: { required: 0 }\n        monitoring: { alarms: [${A5XX}], monitorFor: "${d}" }`),
      [`${P}.monitoring.monitorFor: must be whole minutes from 0m to 180m (3h), such as 10m`],
    ]),
    [
      'monitoring: an unknown key',
      base(`approvals: { required: 0 }\n        monitoring: { alarm: [${A5XX}] }`),
      [`${P}.monitoring.alarm: unknown key`],
    ],
    [
      'a setting that is not a duration',
      base(undefined, 'settings: { sweepEvery: often }'),
      ['settings.sweepEvery: must be a duration such as 30m, 4h or 1d'],
    ],
    [
      'a timer setting beyond 1d (Node would fire it at once)',
      base(undefined, 'settings: { sweepEvery: 30d }'),
      ['settings.sweepEvery: at most 1d (it is a timer delay)'],
    ],
    [
      'pollMin longer than pollMax',
      base(undefined, 'settings: { pollMin: 5s, pollMax: 2s }'),
      ['settings.pollMin: must not be longer than settings.pollMax'],
    ],
  ])('%s', (_what, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('needs a region for every stage when AWS_REGION is not set', () => {
    expect(problemsOf(base('approvals: { required: 0 }'), null)).toEqual([
      'services.api.stages.dev.region: required (no AWS_REGION is set)',
      `${P}.region: required (no AWS_REGION is set)`,
    ]);
  });

  it.each<[string, string, string]>([
    ['an unclosed flow sequence', 'services: [unclosed', 'Flow sequence'],
    [
      'a duplicated key',
      base().replace('stack: api-dev', 'stack: api-dev\n        stack: api-dev2'),
      'Map keys must be unique',
    ],
    ['a tab for indentation', 'services:\n\tapi: {}', 'Tabs are not allowed'],
    ['two documents', `${base()}\n---\n${base()}`, 'multiple documents'],
  ])('says the file is not YAML for %s, in one line', (_what, text, cause) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^\(file\): not valid YAML: [^\n]+$/);
    expect(problems[0]).toContain(cause);
  });

  it('lists every problem at once, schema and cross-field, each with its path', () => {
    const problems = problemsOf(`
settings:
  pollMin: 10s
  pollMax: 1s
  bogus: 1s
services:
  api:
    stages:
      dev: { stack: api-dev, colour: blue }
      prod:
        promotesFrom: [qa]
        approvals: { required: 3, reviewers: [U0ALICE] }
  web:
    stages:
      dev: { stack: web-dev }
      prod:
        stack: web-prod
        approvals: { required: 1, reviewers: [bob] }
        rollback: { required: 2 }
  status:
    stages:
      only: { stack: s }
`);
    expect(problems.sort()).toEqual(
      [
        'settings.bogus: unknown key',
        'settings.pollMin: must not be longer than settings.pollMax',
        'services.api.stages.dev.colour: unknown key',
        'services.api.stages.prod.stack: required',
        'services.api.stages.prod.promotesFrom: no stage "qa" in service api',
        'services.api.stages.prod.approvals.required: 3 approvals can never be reached with 1 reviewer',
        'services.web.stages.prod.approvals.reviewers.0: must be a Slack user ID (U…/W…) or user-group ID (S…)',
        'services.status: is a /promote subcommand, so /promote could not name this service',
      ].sort(),
    );
  });

  it('does not repeat a broken field as a cross-field problem', () => {
    // approvals is present but malformed: its schema problem is enough, not also "approvals: required".
    expect(problemsOf(base('approvals: { required: one }'))).toEqual([
      'services.api.stages.prod.approvals.required: expected number, received string',
    ]);
  });
});

describe('parseDuration', () => {
  it.each<[string, number | undefined]>([
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 30 * 60_000],
    ['4h', 4 * H],
    ['1d', D],
    ['1h30m', 90 * 60_000],
    ['1d2h3m4s5ms', D + 2 * H + 3 * 60_000 + 4_000 + 5],
    [' 4h ', 4 * H],
    ['0s', 0],
    ['', undefined],
    ['4', undefined],
    ['h', undefined],
    ['4 h', undefined],
    ['1h 30m', undefined],
    ['1.5h', undefined],
    ['-1h', undefined],
    ['4H', undefined],
    ['4w', undefined],
    ['4hours', undefined],
    ['PT4H', undefined],
    ['99999999999999999999d', undefined],
  ])('%j → %s', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });
});

describe('readEnv', () => {
  const HTTP = { SLACK_BOT_TOKEN: 'xoxb-1-2', SLACK_SIGNING_SECRET: 'shh' };
  const SOCKET = { SLACK_BOT_TOKEN: 'xoxb-1-2', SLACK_APP_TOKEN: 'xapp-1-A-2' };

  it('applies the documented defaults', () => {
    expect(readEnv(HTTP)).toEqual({
      ok: true,
      value: {
        slackBotToken: 'xoxb-1-2',
        slackAppToken: undefined,
        slackSigningSecret: 'shh',
        slackApiUrl: 'https://slack.com/api/',
        port: 3000,
        redisUrl: undefined,
        redis: undefined,
        configPath: 'promote.yml',
        redisPrefix: 'promote:',
        logLevel: 'info',
        slackStartupTimeoutMs: 60_000,
      },
    });
  });

  it.each<[string, Record<string, string | undefined>, Record<string, unknown>]>([
    [
      'Socket Mode with the app token, no signing secret needed',
      SOCKET,
      { slackAppToken: 'xapp-1-A-2', slackSigningSecret: undefined },
    ],
    ['HTTP mode with the signing secret', HTTP, { slackAppToken: undefined, slackSigningSecret: 'shh' }],
    [
      'both set: still valid (Socket Mode wins in app.ts)',
      { ...SOCKET, SLACK_SIGNING_SECRET: 's' },
      { slackAppToken: 'xapp-1-A-2', slackSigningSecret: 's' },
    ],
    [
      'empty strings count as unset',
      { ...HTTP, SLACK_APP_TOKEN: '', PORT: '', REDIS_URL: '', PROMOTE_CONFIG: '' },
      { slackAppToken: undefined, port: 3000, redisUrl: undefined, configPath: 'promote.yml' },
    ],
    ['undefined values count as unset', { ...HTTP, SLACK_APP_TOKEN: undefined }, { slackAppToken: undefined }],
    [
      'SLACK_API_URL gains its trailing slash',
      { ...HTTP, SLACK_API_URL: 'https://slack-gov.com/api' },
      { slackApiUrl: 'https://slack-gov.com/api/' },
    ],
    [
      'SLACK_API_URL over http to a local fake',
      { ...HTTP, SLACK_API_URL: 'http://127.0.0.1:4000/api/' },
      { slackApiUrl: 'http://127.0.0.1:4000/api/' },
    ],
    ['PORT as a number', { ...HTTP, PORT: '8080' }, { port: 8080 }],
    ['PORT 0 (any free port)', { ...HTTP, PORT: '0' }, { port: 0 }],
    [
      'REDIS_URL redis://',
      { ...HTTP, REDIS_URL: 'redis://localhost:6379/2' },
      { redisUrl: 'redis://localhost:6379/2' },
    ],
    [
      'REDIS_URL rediss:// (TLS)',
      { ...HTTP, REDIS_URL: 'rediss://u:p@cache:6380' },
      { redisUrl: 'rediss://u:p@cache:6380' },
    ],
    [
      'a Redis Cluster (REDIS_CLUSTER_NODES; REDIS_URL gives the password)',
      { ...HTTP, REDIS_URL: 'redis://:pw@cluster', REDIS_CLUSTER_NODES: 'n1:6379,n2:6379' },
      {
        redis: {
          mode: 'cluster',
          nodes: [
            { host: 'n1', port: 6379 },
            { host: 'n2', port: 6379 },
          ],
          tls: false,
          password: 'pw',
        },
      },
    ],
    [
      'PROMOTE_CONFIG',
      { ...HTTP, PROMOTE_CONFIG: '/etc/promote/promote.yml' },
      { configPath: '/etc/promote/promote.yml' },
    ],
    ['PROMOTE_REDIS_PREFIX', { ...HTTP, PROMOTE_REDIS_PREFIX: 'bot2:' }, { redisPrefix: 'bot2:' }],
    ['LOG_LEVEL', { ...HTTP, LOG_LEVEL: 'debug' }, { logLevel: 'debug' }],
    ['SLACK_STARTUP_TIMEOUT', { ...HTTP, SLACK_STARTUP_TIMEOUT: '2m' }, { slackStartupTimeoutMs: 120_000 }],
    [
      'unrelated variables are ignored',
      { ...HTTP, HOME: '/root', AWS_REGION: 'us-east-1' },
      { slackBotToken: 'xoxb-1-2' },
    ],
  ])('accepts: %s', (_what, env, expected) => {
    const r = readEnv(env);
    expect(r.ok ? r.value : r.problems).toMatchObject(expected);
  });

  it.each<[string, Record<string, string | undefined>, string[]]>([
    [
      'nothing set: every problem at once',
      {},
      [
        'SLACK_BOT_TOKEN: required',
        'SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
      ],
    ],
    ['no bot token', { SLACK_SIGNING_SECRET: 's' }, ['SLACK_BOT_TOKEN: required']],
    ['empty bot token', { SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: 's' }, ['SLACK_BOT_TOKEN: required']],
    [
      'HTTP mode without signing secret',
      { SLACK_BOT_TOKEN: 'xoxb-1' },
      ['SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)'],
    ],
    [
      'an app token as bot token, and no secret',
      { SLACK_BOT_TOKEN: 'xapp-1' },
      [
        'SLACK_BOT_TOKEN: must be a bot token (xoxb-…)',
        'SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
      ],
    ],
    [
      'a bot token as app token',
      { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xoxb-2' },
      ['SLACK_APP_TOKEN: must be an app-level token (xapp-…)'],
    ],
    [
      'SLACK_API_URL without a scheme',
      { ...HTTP, SLACK_API_URL: 'localhost:3000/api' },
      ['SLACK_API_URL: must be an http(s) URL such as https://slack.com/api/'],
    ],
    [
      'SLACK_API_URL over ftp',
      { ...HTTP, SLACK_API_URL: 'ftp://slack.com/api/' },
      ['SLACK_API_URL: must be an http(s) URL such as https://slack.com/api/'],
    ],
    ['PORT in words', { ...HTTP, PORT: 'eighty' }, ['PORT: must be a port number (0–65535)']],
    [
      'SLACK_STARTUP_TIMEOUT without a unit',
      { ...HTTP, SLACK_STARTUP_TIMEOUT: '60' },
      ['SLACK_STARTUP_TIMEOUT: must be a duration such as 30m, 4h or 1d'],
    ],
    ['PORT too big', { ...HTTP, PORT: '70000' }, ['PORT: must be a port number (0–65535)']],
    ['PORT negative', { ...HTTP, PORT: '-1' }, ['PORT: must be a port number (0–65535)']],
    ['PORT fractional', { ...HTTP, PORT: '3000.5' }, ['PORT: must be a port number (0–65535)']],
    [
      'REDIS_URL over http',
      { ...HTTP, REDIS_URL: 'http://cache:6379' },
      ['REDIS_URL: must be a redis:// or rediss:// URL'],
    ],
    [
      'REDIS_URL as host:port',
      { ...HTTP, REDIS_URL: 'cache:6379' },
      ['REDIS_URL: must be a redis:// or rediss:// URL'],
    ],
    [
      'Sentinels without the master name',
      { ...HTTP, REDIS_URL: 'redis://m', REDIS_SENTINELS: 's1:26379' },
      ['REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master group name, e.g. mymaster)'],
    ],
    [
      'PROMOTE_REDIS_PREFIX with a hash tag',
      { ...HTTP, PROMOTE_REDIS_PREFIX: '{bot}:' },
      ['PROMOTE_REDIS_PREFIX: must not contain { or } (the store sets its own Redis Cluster hash tags)'],
    ],
    [
      'PROMOTE_REDIS_PREFIX too long',
      { ...HTTP, PROMOTE_REDIS_PREFIX: 'p'.repeat(65) },
      ['PROMOTE_REDIS_PREFIX: Too big: expected string to have <=64 characters'],
    ],
    [
      'LOG_LEVEL unknown',
      { ...HTTP, LOG_LEVEL: 'verbose' },
      ['LOG_LEVEL: Invalid option: expected one of "debug"|"info"|"warn"|"error"'],
    ],
  ])('refuses: %s', (_what, env, expected) => {
    expect(readEnv(env)).toEqual({ ok: false, problems: expected });
  });
});

describe('loadSettings', () => {
  const ENV = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', AWS_REGION: 'us-east-1' };
  const files = (map: Record<string, string>) => {
    const read: string[] = [];
    const readText = (path: string) => {
      read.push(path);
      const text = map[path];
      if (text === undefined)
        throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
      return text;
    };
    return { read, readText };
  };

  it('reads promote.yml by default and returns env and config together', () => {
    const f = files({ 'promote.yml': base() });
    const r = loadSettings(ENV, f.readText);
    expect(f.read).toEqual(['promote.yml']);
    expect(r.ok && r.value.env.configPath).toBe('promote.yml');
    expect(r.ok && Object.keys(r.value.config.services)).toEqual(['api']);
  });

  it('reads the file PROMOTE_CONFIG names', () => {
    const f = files({ '/etc/promote.yml': base() });
    expect(loadSettings({ ...ENV, PROMOTE_CONFIG: '/etc/promote.yml' }, f.readText).ok).toBe(true);
    expect(f.read).toEqual(['/etc/promote.yml']);
  });

  it.each<[string, Record<string, string | undefined>, string]>([
    ['AWS_REGION', { ...ENV, AWS_REGION: 'eu-west-2' }, 'eu-west-2'],
    [
      'AWS_DEFAULT_REGION when AWS_REGION is unset',
      { ...ENV, AWS_REGION: undefined, AWS_DEFAULT_REGION: 'sa-east-1' },
      'sa-east-1',
    ],
    [
      'AWS_REGION over AWS_DEFAULT_REGION',
      { ...ENV, AWS_REGION: 'eu-west-2', AWS_DEFAULT_REGION: 'sa-east-1' },
      'eu-west-2',
    ],
  ])('takes the default region from %s', (_what, env, region) => {
    const r = loadSettings(env, files({ 'promote.yml': base() }).readText);
    expect(r.ok && r.value.config.services.api!.stages[0]!.region).toBe(region);
  });

  it.each<[string, Record<string, string | undefined>, Record<string, string>, string[]]>([
    ['a missing file, with the error code', ENV, {}, ['PROMOTE_CONFIG: cannot read promote.yml (ENOENT)']],
    [
      'a missing file it was pointed at',
      { ...ENV, PROMOTE_CONFIG: 'nope.yml' },
      {},
      ['PROMOTE_CONFIG: cannot read nope.yml (ENOENT)'],
    ],
    [
      'config problems, prefixed with the file',
      ENV,
      { 'promote.yml': base().replace('stack: api-prod', 'region: us-east-1') },
      ['promote.yml: services.api.stages.prod.stack: required'],
    ],
    [
      'env and config problems together',
      { PORT: 'eighty', AWS_REGION: 'us-east-1', PROMOTE_CONFIG: 'p.yml' },
      { 'p.yml': base().replace('stack: api-dev', 'stack: api-dev\n        colour: blue') },
      [
        'SLACK_BOT_TOKEN: required',
        'PORT: must be a port number (0–65535)',
        'SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
        'p.yml: services.api.stages.dev.colour: unknown key',
      ],
    ],
    [
      'env problems with an unreadable file',
      { AWS_REGION: 'us-east-1' },
      {},
      [
        'SLACK_BOT_TOKEN: required',
        'SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
        'PROMOTE_CONFIG: cannot read promote.yml (ENOENT)',
      ],
    ],
    [
      'env problems with a valid file',
      { SLACK_BOT_TOKEN: 'xoxb-1', AWS_REGION: 'us-east-1' },
      { 'promote.yml': base() },
      ['SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)'],
    ],
  ])('reports %s', (_what, env, map, expected) => {
    expect(loadSettings(env, files(map).readText)).toEqual({ ok: false, problems: expected });
  });
});

describe('stacks: several stacks per stage, paired by position', () => {
  const shop = (dev: string, prod: string) => `
services:
  shop:
    stages:
      dev: { ${dev} }
      prod: { ${prod}, approvals: { required: 1, reviewers: [U0ALICE] } }
`;
  const P = 'services.shop.stages';

  it('keeps them in deployment order; `stack` is the first, and a `stack:` stage has one', () => {
    const c = valid(shop('stacks: [shop-infra-dev, shop-app-dev]', 'stacks: [shop-infra-prod, shop-app-prod]'));
    expect(stage(c, 'shop', 'prod')).toMatchObject({
      stack: 'shop-infra-prod',
      stacks: ['shop-infra-prod', 'shop-app-prod'],
    });
    expect(stage(valid(base()), 'api', 'prod').stacks).toEqual(['api-prod']);
  });

  it.each([
    [
      'stack and stacks both',
      shop('stacks: [a-dev, b-dev]', 'stack: a-prod, stacks: [a-prod, b-prod]'),
      [`${P}.prod: has both stack and stacks; use one (stacks: [a, b] for several stacks in order)`],
    ],
    ['neither', shop('stack: a-dev', 'region: us-east-1'), [`${P}.prod.stack: required`]],
    [
      'a different number of stacks',
      shop('stacks: [a-dev, b-dev]', 'stacks: [a-prod]'),
      [
        `${P}.prod.stacks: lists 1 stack but dev lists 2; stacks are paired by position, so every stage of a service needs the same number`,
      ],
    ],
    [
      'a stack listed twice',
      shop('stacks: [a-dev, a-dev]', 'stacks: [a-prod, b-prod]'),
      [`${P}.dev.stacks: a-dev is listed twice`],
    ],
    ['an empty list', shop('stacks: []', 'stack: a-prod'), [`${P}.dev.stacks: must name at least one stack`]],
    [
      'a bad stack name',
      shop('stacks: [a-dev, 9b]', 'stacks: [a-prod, b-prod]'),
      [`${P}.dev.stacks.1: must be a CloudFormation stack name`],
    ],
  ])('refuses %s', (_what, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });
});
