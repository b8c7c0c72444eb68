// /promote and /rollback text, as tables: what Slack sends (HTML-escaped, odd whitespace, unicode arrows) and
// what it means, then the resolution against a real parsed config. The domain returns refusals as values;
// the Slack layer unescapes the text before parsing and renders the refusals, so both are checked here.
import { describe, expect, it } from 'vitest';
import { type PromoteConfig, parsePromoteConfig } from '../../src/config.js';
import {
  channelMayUse,
  closest,
  editDistance,
  type PromoteCommand,
  parsePromoteText as parsePromote,
  parseRollbackText as parseRollback,
  type RollbackCommand,
  resolvePath,
  resolveService,
  resolveStage,
} from '../../src/domain/command.js';
import { unescapeSlack } from '../../src/slack/escape.js';
import { renderRefusal } from '../../src/slack/views/refusals.js';
import { usageText } from '../../src/slack/views/usage.js';

/** What the command handlers do with the text Slack sends: unescape it once, then parse it. */
const parsePromoteText = (text: string) => parsePromote(unescapeSlack(text));
const parseRollbackText = (text: string) => parseRollback(unescapeSlack(text));

/** api: dev → stg → prod (prod only from stg), locked to one channel; web: dev → prod; batch: prod from qa or dev. */
const CONFIG_YAML = `
services:
  api:
    channels: [C0PROMOTE, C0OTHER]
    stages:
      dev: { stack: api-dev }
      stg: { stack: api-stg, approvals: { required: 1, reviewers: [U0ALICE] } }
      prod:
        stack: api-prod
        promotesFrom: [stg]
        approvals: { required: 2, reviewers: [U0ALICE, U0BOB, S0LEADS] }
  web:
    stages:
      dev: { stack: web-dev }
      prod: { stack: web-prod, approvals: { required: 1, reviewers: [U0ALICE] } }
  batch:
    stages:
      dev: { stack: batch-dev }
      qa: { stack: batch-qa, approvals: { required: 0 } }
      prod: { stack: batch-prod, promotesFrom: [qa, dev], approvals: { required: 0 } }
  go-to-market:
    stages:
      staging: { stack: gtm-staging }
      production: { stack: gtm-production, approvals: { required: 0 } }
`;

function loadConfig(): PromoteConfig {
  const r = parsePromoteConfig(CONFIG_YAML, 'us-east-1');
  if (!r.ok) throw new Error(`test config is invalid:\n${r.problems.join('\n')}`);
  return r.value;
}
const config = loadConfig();
const CHANNEL = 'C0PROMOTE';

/** Mrkdwn that pings nobody: no `<` or `>` except our own channel links, every `&` an entity. */
function expectInert(text: string): void {
  const withoutChannelLinks = text.replace(/<#C[A-Z0-9]+>/g, '');
  expect(withoutChannelLinks).not.toMatch(/[<>]/);
  expect(withoutChannelLinks.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
}

const HOSTILE = [
  '<!channel>',
  '<!here>',
  '<@U0BOSS>',
  '<!subteam^S0ALL>',
  '<https://evil.example|click>',
  'a&b',
  '&lt;!channel&gt;',
];

describe('parsePromoteText', () => {
  const promote = (service: string, to: string, from?: string): PromoteCommand => ({
    kind: 'promote',
    service,
    from,
    to,
  });

  it.each<[string, PromoteCommand]>([
    // every spelling of "from → to"
    ['api dev→stg', promote('api', 'stg', 'dev')],
    ['api dev->stg', promote('api', 'stg', 'dev')],
    ['api dev=>stg', promote('api', 'stg', 'dev')],
    ['api dev to stg', promote('api', 'stg', 'dev')],
    ['api dev stg', promote('api', 'stg', 'dev')],
    ['api from dev to stg', promote('api', 'stg', 'dev')],
    // Slack HTML-escapes & < > in command text
    ['api dev-&gt;stg', promote('api', 'stg', 'dev')],
    ['api dev=&gt;stg', promote('api', 'stg', 'dev')],
    ['api dev --&gt; stg', promote('api', 'stg', 'dev')],
    ['api dev -&gt; stg', promote('api', 'stg', 'dev')],
    // spaces around arrows, or not
    ['api dev → stg', promote('api', 'stg', 'dev')],
    ['api dev →stg', promote('api', 'stg', 'dev')],
    ['api dev→ stg', promote('api', 'stg', 'dev')],
    ['api dev  ->   stg', promote('api', 'stg', 'dev')],
    // unicode arrows and smart punctuation (macOS/iOS turn `--` into an em dash)
    ['api dev⇒stg', promote('api', 'stg', 'dev')],
    ['api dev⟶stg', promote('api', 'stg', 'dev')],
    ['api dev⟹stg', promote('api', 'stg', 'dev')],
    ['api dev➔stg', promote('api', 'stg', 'dev')],
    ['api dev➜stg', promote('api', 'stg', 'dev')],
    ['api dev➡stg', promote('api', 'stg', 'dev')],
    ['api dev➡️stg', promote('api', 'stg', 'dev')],
    ['api dev —> stg', promote('api', 'stg', 'dev')],
    ['api dev–>stg', promote('api', 'stg', 'dev')],
    ['api dev-->stg', promote('api', 'stg', 'dev')],
    ['api dev==>stg', promote('api', 'stg', 'dev')],
    ['api dev :arrow_right: stg', promote('api', 'stg', 'dev')],
    // odd whitespace
    ['  api   dev→stg  ', promote('api', 'stg', 'dev')],
    ['api\tdev\tstg', promote('api', 'stg', 'dev')],
    ['api\ndev\n→\nstg\n', promote('api', 'stg', 'dev')],
    ['api\u00a0dev\u00a0→\u00a0stg', promote('api', 'stg', 'dev')],
    ['api\u2009dev\u2009to\u2009stg', promote('api', 'stg', 'dev')],
    ['api\u3000dev→stg', promote('api', 'stg', 'dev')],
    ['api dev\u200b→stg', promote('api', 'stg', 'dev')],
    ['\r\napi dev stg\r\n', promote('api', 'stg', 'dev')],
    // case is kept here; resolution ignores it
    ['API Dev→Prod', promote('API', 'Prod', 'Dev')],
    ['api dev TO stg', promote('api', 'stg', 'dev')],
    ['api FROM dev To stg', promote('api', 'stg', 'dev')],
    // only the target: the source comes from the config
    ['api prod', promote('api', 'prod')],
    ['api to prod', promote('api', 'prod')],
    ['api TO prod', promote('api', 'prod')],
    [' api  prod ', promote('api', 'prod')],
    // `to` only counts as a word: names containing it are names
    ['api tokyo', promote('api', 'tokyo')],
    ['api toronto→tokyo', promote('api', 'tokyo', 'toronto')],
    ['go-to-market staging→production', promote('go-to-market', 'production', 'staging')],
    ['go-to-market production', promote('go-to-market', 'production')],
    ['api dev-to-prod', promote('api', 'dev-to-prod')],
    // hostile service names come back raw (unescaped once): every reply escapes them
    ['&lt;!channel&gt; dev→prod', promote('<!channel>', 'prod', 'dev')],
    ['a&amp;b prod', promote('a&b', 'prod')],
    ['&amp;lt;x prod', promote('&lt;x', 'prod')],
  ])('%j', (text, expected) => {
    expect(parsePromoteText(text)).toEqual(expected);
  });

  it.each<[string, PromoteCommand]>([
    ['', { kind: 'help' }],
    ['   ', { kind: 'help' }],
    ['\n\t', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['HELP', { kind: 'help' }],
    ['Help me please', { kind: 'help' }],
    ['-h', { kind: 'help' }],
    ['--help', { kind: 'help' }],
    ['?', { kind: 'help' }],
    ['status', { kind: 'status', service: undefined }],
    ['STATUS', { kind: 'status', service: undefined }],
    ['status api', { kind: 'status', service: 'api' }],
    ['  Status   api  ', { kind: 'status', service: 'api' }],
    ['history api', { kind: 'history', service: 'api', stage: undefined }],
    ['history api prod', { kind: 'history', service: 'api', stage: 'prod' }],
    ['History API Prod', { kind: 'history', service: 'API', stage: 'Prod' }],
    ['unhold api prod', { kind: 'unhold', service: 'api', stage: 'prod' }],
    ['UNHOLD web prod', { kind: 'unhold', service: 'web', stage: 'prod' }],
  ])('%j', (text, expected) => {
    expect(parsePromoteText(text)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ['api', /^say which stage to promote api to\.$/],
    ['  api  ', /^say which stage to promote api to\.$/],
    ['api dev stg prod', /^cannot read the stages in "dev stg prod"\.$/],
    ['api dev→stg→prod', /^cannot read the stages in "dev→stg→prod"\.$/],
    ['api dev -> stg -> prod', /^cannot read the stages in/],
    ['api dev→', /^cannot read the stages in "dev→"\.$/],
    ['api →prod', /^cannot read the stages in "→prod"\.$/],
    ['api →', /^cannot read the stages in "→"\.$/],
    ['api -&gt;', /^cannot read the stages in "-&gt;"\.$/],
    ['api dev → → prod', /^cannot read the stages in/],
    ['api dev → prod now', /^cannot read the stages in "dev → prod now"\.$/],
    ['api please dev → prod', /^cannot read the stages in "please dev → prod"\.$/],
    ['api dev to stg please', /^cannot read the stages in/],
    ['api dev &gt; prod', /^cannot read the stages in "dev &gt; prod"\.$/],
    ['status api prod', /^status takes at most a service name\.$/],
    ['history', /^history takes a service and an optional stage\.$/],
    ['history api prod extra', /^history takes a service and an optional stage\.$/],
    ['unhold', /^unhold takes a service and a stage\.$/],
    ['unhold api', /^unhold takes a service and a stage\.$/],
    ['unhold api prod now', /^unhold takes a service and a stage\.$/],
  ])('%j → usage', (text, problem) => {
    const r = parsePromoteText(text);
    expect(r.kind).toBe('usage');
    expect(r.kind === 'usage' && renderRefusal(r.refusal)).toMatch(problem);
  });

  it.each(HOSTILE)('escapes %j in a usage problem', (hostile) => {
    // As Slack sends it: & < > HTML-escaped.
    const sent = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    for (const text of [`${hostile}`, `api ${hostile} x y`, `api dev→${hostile}→prod`]) {
      const r = parsePromoteText(sent(text));
      expect(r.kind).toBe('usage');
      if (r.kind === 'usage') expectInert(renderRefusal(r.refusal));
    }
  });
});

describe('parseRollbackText', () => {
  it.each<[string, RollbackCommand]>([
    ['', { kind: 'help' }],
    ['  ', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['--help', { kind: 'help' }],
    ['api', { kind: 'rollback', service: 'api' }],
    ['  api  ', { kind: 'rollback', service: 'api' }],
    ['api prod', { kind: 'rollback', service: 'api', stage: 'prod' }],
    ['API Prod', { kind: 'rollback', service: 'API', stage: 'Prod' }],
    ['api\tprod', { kind: 'rollback', service: 'api', stage: 'prod' }],
    ['api prod to r1a2b3c', { kind: 'rollback', service: 'api', stage: 'prod', release: 'r1a2b3c' }],
    ['api prod TO r1a2b3c', { kind: 'rollback', service: 'api', stage: 'prod', release: 'r1a2b3c' }],
    ['api\u00a0prod\u00a0to\u00a0r1', { kind: 'rollback', service: 'api', stage: 'prod', release: 'r1' }],
    ['api to r1a2b3c', { kind: 'rollback', service: 'api', release: 'r1a2b3c' }],
    ['&lt;!channel&gt; prod', { kind: 'rollback', service: '<!channel>', stage: 'prod' }],
  ])('%j', (text, expected) => {
    expect(parseRollbackText(text)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ['api to', /^say which release to roll back to\.$/],
    ['api prod to', /^say which release to roll back to\.$/],
    ['api prod r1', /^cannot read "prod r1"\.$/],
    ['api prod to r1 now', /^cannot read "prod to r1 now"\.$/],
    ['api prod → r1', /^cannot read "prod → r1"\.$/],
    ['api prod from r1', /^cannot read "prod from r1"\.$/],
    ['api prod to r1 to r2', /^cannot read/],
  ])('%j → usage', (text, problem) => {
    const r = parseRollbackText(text);
    expect(r.kind).toBe('usage');
    expect(r.kind === 'usage' && renderRefusal(r.refusal)).toMatch(problem);
  });

  it.each(HOSTILE)('escapes %j in a usage problem', (hostile) => {
    const sent = hostile.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const r = parseRollbackText(`api prod ${sent} x`);
    expect(r.kind).toBe('usage');
    if (r.kind === 'usage') expectInert(renderRefusal(r.refusal));
  });
});

describe('parsing never throws', () => {
  const odd = [
    '\u0000',
    '\ud800',
    '😀 → 🚀',
    '→',
    '->',
    'to',
    'to to to',
    '   →   ',
    '&',
    '&amp;',
    '&gt;&gt;&gt;',
    '<<<>>>',
    `api ${'→'.repeat(1000)}`,
    `api ${'dev '.repeat(2000)}`,
    'x'.repeat(10_000),
    '\\',
    '$(rm -rf /)',
    '`api` `dev`',
    'api\u202edev→prod',
    'status status status',
    'history history',
    'unhold unhold unhold',
    'api from',
    'api from to',
    'api to',
  ];
  it.each(odd)('%j', (text) => {
    expect(['promote', 'status', 'history', 'unhold', 'unlock', 'help', 'usage']).toContain(
      parsePromoteText(text).kind,
    );
    expect(['rollback', 'help', 'usage']).toContain(parseRollbackText(text).kind);
  });
});

describe('command text length', () => {
  const refused = (text: string) => ({ code: 'too_long', length: unescapeSlack(text).length, max: 4000 });

  it.each<[string, string]>([
    ['40,000 dashes', `api ${'-'.repeat(39_996)}`],
    ['40,000 spaces', `api dev${' '.repeat(39_990)}stg`],
    ['20,000 arrows', `api ${'->'.repeat(19_998)}`],
    ['10,000 escaped arrows', `api ${'&gt;'.repeat(9_999)}`],
    ['40,000 equals signs', `api ${'='.repeat(39_996)}`],
    ['dashes then spaces then a dash', `api dev${'-'.repeat(20_000)}${' '.repeat(19_992)}-`],
  ])('refuses %s before parsing it', (_name, text) => {
    expect(text.length).toBeGreaterThan(4000);
    expect(parsePromoteText(text)).toEqual({ kind: 'usage', refusal: refused(text) });
    expect(parseRollbackText(text)).toEqual({ kind: 'usage', refusal: refused(text) });
  });

  it('reads text of exactly 4,000 characters, and refuses one more', () => {
    const to = 'x'.repeat(4000 - 'api dev->'.length);
    expect(parsePromoteText(`api dev->${to}`)).toEqual({ kind: 'promote', service: 'api', from: 'dev', to });
    expect(parsePromoteText(`api dev->${to}y`).kind).toBe('usage');
  });

  // Inputs under the limit that used to make ARROW rescan a run from each of its positions: the result is
  // what matters here (the time is measured in the report, not asserted).
  it.each<[string, string, PromoteCommand]>([
    ['a run of dashes', `api ${'-'.repeat(3990)}`, { kind: 'promote', service: 'api', to: '-'.repeat(3990) }],
    ['a run of equals signs', `api ${'='.repeat(3990)}`, { kind: 'promote', service: 'api', to: '='.repeat(3990) }],
    [
      'a run of en dashes ending in an arrow',
      `api dev${'–'.repeat(3980)}>stg`,
      { kind: 'promote', service: 'api', from: 'dev', to: 'stg' },
    ],
    [
      'a run of dashes before a real arrow',
      `api dev${'-'.repeat(1990)}=>stg`,
      { kind: 'promote', service: 'api', from: `dev${'-'.repeat(1990)}`, to: 'stg' },
    ],
    [
      'many arrows (echoed shortened)',
      `api ${'->'.repeat(1990)}`,
      { kind: 'usage', refusal: { code: 'unreadable_stages', text: '->'.repeat(1990) } },
    ],
  ])('parses %s in one pass', (_name, text, expected) => {
    expect(parsePromoteText(text)).toEqual(expected);
  });

  it('echoes at most 100 characters of an unknown name back', () => {
    const service = resolveService(config, `<!channel>${'x'.repeat(3000)}`, CHANNEL);
    expect(service.ok).toBe(false);
    if (!service.ok) {
      expect(renderRefusal(service.refusal)).toBe(
        `Unknown service "&lt;!channel&gt;${'x'.repeat(89)}…". Known services: api, web, batch, go-to-market.`,
      );
    }
    const rollback = parseRollbackText(`api dev to ${'y '.repeat(1000)}`);
    expect(rollback.kind).toBe('usage');
    if (rollback.kind === 'usage')
      expect(renderRefusal(rollback.refusal)).toBe(`cannot read "dev to ${'y '.repeat(46)}…".`);
  });
});

describe('unescapeSlack', () => {
  it.each<[string, string]>([
    ['dev-&gt;prod', 'dev->prod'],
    ['&lt;!channel&gt;', '<!channel>'],
    ['a &amp; b', 'a & b'],
    // `&amp;gt;` is what Slack sends for a typed `&gt;`: one unescape, not two
    ['&amp;gt;', '&gt;'],
    ['&amp;amp;', '&amp;'],
    ['no entities', 'no entities'],
    ['&quot;&#39;', '&quot;&#39;'],
  ])('%j → %j', (text, expected) => {
    expect(unescapeSlack(text)).toBe(expected);
  });
});

describe('editDistance and closest', () => {
  it.each<[string, string, number]>([
    ['', '', 0],
    ['prod', '', 4],
    ['', 'prod', 4],
    ['prod', 'prod', 0],
    ['prod', 'prdo', 2],
    ['kitten', 'sitting', 3],
    ['flaw', 'lawn', 2],
    ['stg', 'staging', 4],
  ])('editDistance(%j, %j) = %i, both ways', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  const STAGES = ['dev', 'stg', 'prod'];
  it.each<[string, string[], string | undefined]>([
    ['prdo', STAGES, 'prod'],
    ['prd', STAGES, 'prod'],
    ['porduction', ['staging', 'production'], 'production'],
    ['PROD', STAGES, 'prod'],
    ['dve', STAGES, 'dev'],
    ['stag', STAGES, 'stg'],
    ['production', STAGES, 'prod'],
    ['staging', STAGES, 'stg'],
    ['development', STAGES, 'dev'],
    ['stg', ['staging', 'production'], 'staging'],
    ['prod', ['staging', 'production'], 'production'],
    ['pr', ['prod', 'preprod'], 'prod'],
    ['apx', ['api', 'web'], 'api'],
    ['wbe', ['api', 'web'], 'web'],
    ['qa', STAGES, undefined],
    ['x', ['qa'], undefined],
    ['ab', ['qa'], undefined],
    ['p', STAGES, undefined],
    ['', STAGES, undefined],
    ['<!channel>', ['api', 'web'], undefined],
    ['anything', [], undefined],
  ])('closest(%j, %j) = %j', (name, candidates, expected) => {
    expect(closest(name, candidates)).toBe(expected);
  });
});

describe('resolveService', () => {
  it.each<[string, string, string]>([
    ['api', CHANNEL, 'api'],
    ['api', 'C0OTHER', 'api'],
    ['API', CHANNEL, 'api'],
    ['Api', CHANNEL, 'api'],
    ['web', 'C0ANYWHERE', 'web'],
    ['web', 'D0DIRECT', 'web'],
    ['GO-TO-MARKET', CHANNEL, 'go-to-market'],
  ])('%j in %s → %s', (name, channel, expected) => {
    const r = resolveService(config, name, channel);
    expect(r.ok && r.value.name).toBe(expected);
  });

  it.each<[string, string, string]>([
    ['apx', CHANNEL, 'Unknown service "apx". Did you mean "api"? Known services: api, web, batch, go-to-market.'],
    ['wbe', CHANNEL, 'Unknown service "wbe". Did you mean "web"? Known services: api, web, batch, go-to-market.'],
    ['payments', CHANNEL, 'Unknown service "payments". Known services: api, web, batch, go-to-market.'],
    ['api', 'C0ELSEWHERE', 'api can only be promoted or rolled back from <#C0PROMOTE>, <#C0OTHER>.'],
    ['API', 'D0DIRECT', 'api can only be promoted or rolled back from <#C0PROMOTE>, <#C0OTHER>.'],
    // Object.prototype members are not services (they used to resolve, then crash on `.stages`)
    ['constructor', CHANNEL, 'Unknown service "constructor". Known services: api, web, batch, go-to-market.'],
    ['toString', CHANNEL, 'Unknown service "toString". Known services: api, web, batch, go-to-market.'],
    ['__proto__', CHANNEL, 'Unknown service "__proto__". Known services: api, web, batch, go-to-market.'],
    ['hasOwnProperty', CHANNEL, 'Unknown service "hasOwnProperty". Known services: api, web, batch, go-to-market.'],
  ])('%j in %s → refused', (name, channel, refusal) => {
    const r = resolveService(config, name, channel);
    expect(r.ok || renderRefusal(r.refusal)).toBe(refusal);
  });

  it.each(HOSTILE)('escapes %j in the refusal', (name) => {
    const r = resolveService(config, name, CHANNEL);
    expect(r.ok).toBe(false);
    if (!r.ok) expectInert(renderRefusal(r.refusal));
  });
});

describe('resolveStage', () => {
  const api = config.services.api!;
  it.each<[string, string]>([
    ['dev', 'dev'],
    ['prod', 'prod'],
    ['PROD', 'prod'],
    ['Stg', 'stg'],
  ])('%j → %s', (name, expected) => {
    const r = resolveStage(api, name);
    expect(r.ok && r.value.name).toBe(expected);
  });

  it.each<[string, string]>([
    ['prdo', 'Unknown stage "prdo". Did you mean "prod"? Known stages: dev, stg, prod.'],
    ['production', 'Unknown stage "production". Did you mean "prod"? Known stages: dev, stg, prod.'],
    ['staging', 'Unknown stage "staging". Did you mean "stg"? Known stages: dev, stg, prod.'],
    ['qa', 'Unknown stage "qa". Known stages: dev, stg, prod.'],
    ['constructor', 'Unknown stage "constructor". Known stages: dev, stg, prod.'],
  ])('%j → refused', (name, refusal) => {
    const r = resolveStage(api, name);
    expect(r.ok || renderRefusal(r.refusal)).toBe(refusal);
  });

  it.each(HOSTILE)('escapes %j in the refusal', (name) => {
    const r = resolveStage(api, name);
    expect(r.ok).toBe(false);
    if (!r.ok) expectInert(renderRefusal(r.refusal));
  });
});

describe('resolvePath', () => {
  it.each<[string, string | undefined, string, [string, string]]>([
    ['api', undefined, 'stg', ['dev', 'stg']],
    ['api', undefined, 'prod', ['stg', 'prod']],
    ['api', 'dev', 'stg', ['dev', 'stg']],
    ['api', 'stg', 'prod', ['stg', 'prod']],
    ['api', 'STG', 'PROD', ['stg', 'prod']],
    ['web', undefined, 'prod', ['dev', 'prod']],
    ['web', 'dev', 'prod', ['dev', 'prod']],
    // several sources allowed: the first listed is the default
    ['batch', undefined, 'prod', ['qa', 'prod']],
    ['batch', 'qa', 'prod', ['qa', 'prod']],
    ['batch', 'dev', 'prod', ['dev', 'prod']],
    ['batch', undefined, 'qa', ['dev', 'qa']],
  ])('%s %s→%s', (service, from, to, [fromName, toName]) => {
    const r = resolvePath(config.services[service]!, from, to);
    expect(r.ok && [r.value.from.name, r.value.to.name]).toEqual([fromName, toName]);
  });

  it.each<[string, string | undefined, string, string]>([
    ['api', 'prod', 'dev', 'api/dev is the first stage: nothing promotes into it.'],
    ['api', 'stg', 'dev', 'api/dev is the first stage: nothing promotes into it.'],
    ['api', undefined, 'dev', 'api/dev is the first stage: nothing promotes into it.'],
    ['api', 'dev', 'prod', 'api/prod can only be promoted from stg, not from dev.'],
    ['api', 'prod', 'stg', 'api/stg can only be promoted from dev, not from prod.'],
    ['api', 'stg', 'stg', 'api: stg → stg is the same stage.'],
    ['api', 'Prod', 'prod', 'api: prod → prod is the same stage.'],
    ['batch', 'prod', 'qa', 'batch/qa can only be promoted from dev, not from prod.'],
    ['web', 'prod', 'dev', 'web/dev is the first stage: nothing promotes into it.'],
    ['api', 'dev', 'qa', 'Unknown stage "qa". Known stages: dev, stg, prod.'],
    ['api', 'dve', 'stg', 'Unknown stage "dve". Did you mean "dev"? Known stages: dev, stg, prod.'],
    ['api', 'dev', 'porduction', 'Unknown stage "porduction". Known stages: dev, stg, prod.'],
    ['api', 'staging', 'prod', 'Unknown stage "staging". Did you mean "stg"? Known stages: dev, stg, prod.'],
  ])('%s %s→%s → refused', (service, from, to, refusal) => {
    const r = resolvePath(config.services[service]!, from, to);
    expect(r.ok || renderRefusal(r.refusal)).toBe(refusal);
  });

  it.each(HOSTILE)('escapes %j as either end of the path', (name) => {
    const api = config.services.api!;
    for (const r of [resolvePath(api, name, 'prod'), resolvePath(api, 'stg', name)]) {
      expect(r.ok).toBe(false);
      if (!r.ok) expectInert(renderRefusal(r.refusal));
    }
  });
});

describe('from Slack text to a checked path', () => {
  /** What the /promote handler does before any I/O: parse, then resolve service and path. */
  function check(text: string, channel = CHANNEL): string {
    const cmd = parsePromoteText(text);
    if (cmd.kind !== 'promote') return cmd.kind === 'usage' ? `usage: ${renderRefusal(cmd.refusal)}` : cmd.kind;
    const svc = resolveService(config, cmd.service, channel);
    if (!svc.ok) return `refused: ${renderRefusal(svc.refusal)}`;
    const path = resolvePath(svc.value, cmd.from, cmd.to);
    return path.ok
      ? `${svc.value.name} ${path.value.from.name}→${path.value.to.name}`
      : `refused: ${renderRefusal(path.refusal)}`;
  }

  it.each<[string, string]>([
    ['api stg→prod', 'api stg→prod'],
    ['api stg-&gt;prod', 'api stg→prod'],
    ['API STG =&gt; PROD', 'api stg→prod'],
    ['api prod', 'api stg→prod'],
    ['api to prod', 'api stg→prod'],
    ['api stg', 'api dev→stg'],
    ['web prod', 'web dev→prod'],
    ['api\u00a0stg\u00a0→\u00a0prod', 'api stg→prod'],
    ['go-to-market staging to production', 'go-to-market staging→production'],
    ['api dev→prod', 'refused: api/prod can only be promoted from stg, not from dev.'],
    ['api prod→dev', 'refused: api/dev is the first stage: nothing promotes into it.'],
    ['api prod→stg', 'refused: api/stg can only be promoted from dev, not from prod.'],
    ['api dev', 'refused: api/dev is the first stage: nothing promotes into it.'],
    ['api dev to', 'refused: Unknown stage "to". Known stages: dev, stg, prod.'],
    [
      'apx stg→prod',
      'refused: Unknown service "apx". Did you mean "api"? Known services: api, web, batch, go-to-market.',
    ],
    ['api stg→prdo', 'refused: Unknown stage "prdo". Did you mean "prod"? Known stages: dev, stg, prod.'],
    ['constructor prod', 'refused: Unknown service "constructor". Known services: api, web, batch, go-to-market.'],
    [
      '&lt;!channel&gt; dev→prod',
      'refused: Unknown service "&lt;!channel&gt;". Known services: api, web, batch, go-to-market.',
    ],
    ['api stg→&lt;!here&gt;', 'refused: Unknown stage "&lt;!here&gt;". Known stages: dev, stg, prod.'],
    ['api', 'usage: say which stage to promote api to.'],
    ['api dev→stg→prod', 'usage: cannot read the stages in "dev→stg→prod".'],
    ['', 'help'],
  ])('%j → %s', (text, expected) => {
    expect(check(text)).toBe(expected);
  });

  it('refuses a service from a channel it is not allowed in, whatever the path', () => {
    expect(check('api stg→prod', 'C0RANDOM')).toBe(
      'refused: api can only be promoted or rolled back from <#C0PROMOTE>, <#C0OTHER>.',
    );
  });
});

describe('usageText', () => {
  it('shows every command form and every service with its promotion path', () => {
    const text = usageText(config);
    for (const form of [
      '`/promote &lt;service&gt; &lt;from&gt;→&lt;to&gt;`',
      '`/promote &lt;service&gt; &lt;to&gt;`',
      '`/promote status [service]`',
      '`/promote history &lt;service&gt; [stage]`',
      '`/promote unhold &lt;service&gt; &lt;stage&gt;`',
      '`/rollback &lt;service&gt; [stage]`',
      '`/rollback &lt;service&gt; &lt;stage&gt; to &lt;release&gt;`',
    ]) {
      expect(text).toContain(form);
    }
    // `->` and `<service>` as typed would be read by Slack as `<…>` control sequences.
    expectInert(text);
    expect(text).toContain('• api: dev → stg → prod');
    expect(text).toContain('• web: dev → prod');
    expect(text).toContain('• batch: dev → qa → prod');
    expect(text).toContain('• go-to-market: staging → production');
  });
});

describe('refusals are data: names as typed, nothing pre-rendered', () => {
  it.each<[string, () => unknown, unknown]>([
    [
      'unknown service with a suggestion',
      () => resolveService(config, 'apx', CHANNEL),
      { code: 'unknown_service', name: 'apx', suggestion: 'api', known: ['api', 'web', 'batch', 'go-to-market'] },
    ],
    [
      'a hostile service name, kept raw',
      () => resolveService(config, '<!channel>', CHANNEL),
      { code: 'unknown_service', name: '<!channel>', known: ['api', 'web', 'batch', 'go-to-market'] },
    ],
    [
      'channel not allowed',
      () => resolveService(config, 'api', 'C0ELSEWHERE'),
      { code: 'channel_not_allowed', service: 'api', channels: ['C0PROMOTE', 'C0OTHER'] },
    ],
    [
      'unknown stage',
      () => resolveStage(config.services.api!, 'prdo'),
      { code: 'unknown_stage', name: 'prdo', suggestion: 'prod', known: ['dev', 'stg', 'prod'] },
    ],
    [
      'disallowed path',
      () => resolvePath(config.services.api!, 'dev', 'prod'),
      { code: 'path_not_allowed', service: 'api', from: 'dev', to: 'prod', allowed: ['stg'] },
    ],
    [
      'first stage',
      () => resolvePath(config.services.api!, undefined, 'dev'),
      { code: 'first_stage', service: 'api', stage: 'dev' },
    ],
    [
      'same stage',
      () => resolvePath(config.services.api!, 'stg', 'STG'),
      { code: 'same_stage', service: 'api', stage: 'stg' },
    ],
  ])('%s', (_name, run, refusal) => {
    expect(run()).toEqual({ ok: false, refusal });
  });

  it.each<[string, unknown]>([
    ['api', { code: 'missing_stage', service: 'api' }],
    ['<@U0BOSS> a b c', { code: 'unreadable_stages', text: 'a b c' }],
    ['unhold api', { code: 'unhold_args' }],
  ])('/promote %j → usage refusal', (text, refusal) => {
    expect(parsePromote(text)).toEqual({ kind: 'usage', refusal });
  });

  it.each<[string, unknown]>([
    ['api prod to', { code: 'missing_release' }],
    ['api prod <!here> x', { code: 'unreadable_rollback', text: 'prod <!here> x' }],
  ])('/rollback %j → usage refusal', (text, refusal) => {
    expect(parseRollback(text)).toEqual({ kind: 'usage', refusal });
  });
});

describe('channelMayUse', () => {
  it.each<[string[] | undefined, string, boolean]>([
    [undefined, 'C0ANY', true],
    [undefined, 'D0DIRECT', true],
    [['C0PROMOTE'], 'C0PROMOTE', true],
    [['C0PROMOTE'], 'C0OTHER', false],
    [['C0PROMOTE'], 'D0DIRECT', false],
    [['D0DIRECT'], 'D0DIRECT', false], // a restricted service never shows in a direct message
  ])('channels %j, asked from %s → %s', (channels, channel, expected) => {
    expect(channelMayUse({ channels }, channel)).toBe(expected);
  });
});
