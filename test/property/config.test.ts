// Property tests of the config loader: whatever promote.yml and the environment hold (random text, random YAML,
// the right shape with hostile values), loading never throws, says what is wrong as text, and what it accepts
// carries only names that are safe to show in Slack.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadSettings, readEnv } from '../../src/config.js';
import { usageText } from '../../src/slack/views/usage.js';
import { expectInert, hostile, hostileShort, RUNS } from './hostile.js';

const GOOD_ENV = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret', AWS_REGION: 'us-east-1' };

function load(text: string, env: Record<string, string | undefined> = GOOD_ENV) {
  return loadSettings(env, () => text);
}

/** Either the loaded config, or a non-empty list of one-line problems. */
function expectChecked(r: ReturnType<typeof load>): void {
  if (r.ok) return;
  expect(r.problems.length).toBeGreaterThan(0);
  for (const p of r.problems) expect(typeof p).toBe('string');
}

/** Names promote.yml accepts for services and stages: nothing Slack would read as markup. */
const SAFE_NAME = /^[a-z0-9][-a-z0-9_.]*$/i;

function expectSafe(r: ReturnType<typeof load>): void {
  if (!r.ok) return;
  for (const [key, svc] of Object.entries(r.value.config.services)) {
    expect(key).toMatch(SAFE_NAME);
    expect(svc.name).toBe(key);
    for (const st of svc.stages) expect(st.name).toMatch(SAFE_NAME);
  }
  const usage = usageText(r.value.config);
  expectInert(usage, 'usage');
  expect(usage.length).toBeLessThanOrEqual(40_000);
}

/** Any YAML value: what a hand-edited file might hold anywhere. */
const yamlValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileShort,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileShort, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const durationLike = fc.oneof(fc.constantFrom('30m', '4h', '1d', '0s', '-1h', '99999999d', '1e9h', ''), hostileShort);
const reviewer = fc.oneof(fc.constantFrom('U0ALICE', 'W0BOB', 'S0LEADS', 'u0lower'), hostileShort);

/** promote.yml with the right shape and hostile names and values. */
const configShaped = fc.record({
  settings: fc.option(
    fc.dictionary(fc.constantFrom('leaseTtl', 'sweepEvery', 'pollMin', 'pollMax', 'bogus'), durationLike),
  ),
  services: fc.dictionary(
    fc.oneof(fc.constantFrom('api', 'web', 'status', 'API', 'constructor', '__proto__'), hostile),
    fc.record({
      channels: fc.option(fc.array(fc.oneof(fc.constant('C0PROMOTE'), hostileShort), { maxLength: 3 })),
      stages: fc.dictionary(
        fc.oneof(fc.constantFrom('dev', 'prod', 'DEV', '1', 'toString'), hostile),
        fc.record({
          stack: fc.oneof(fc.constant('api-dev'), hostile),
          region: fc.option(fc.oneof(fc.constant('eu-west-1'), hostileShort)),
          role: fc.option(fc.oneof(fc.constant('arn:aws:iam::123456789012:role/x'), hostileShort)),
          promotesFrom: fc.option(fc.array(fc.oneof(fc.constantFrom('dev', 'prod'), hostileShort), { maxLength: 2 })),
          approvals: fc.option(
            fc.record({
              required: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), hostileShort),
              reviewers: fc.array(reviewer, { maxLength: 4 }),
              expiresAfter: durationLike,
            }),
          ),
          keepReleases: fc.option(fc.oneof(fc.integer(), hostileShort)),
        }),
        { maxKeys: 4 },
      ),
    }),
    { maxKeys: 4 },
  ),
});

describe('loadSettings', () => {
  it('never throws on any file text', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const r = load(text);
        expectChecked(r);
        expectSafe(r);
      }),
      RUNS,
    );
  });

  it('never throws on any YAML document', () => {
    fc.assert(
      fc.property(yamlValue, (value) => {
        const r = load(stringify(value));
        expectChecked(r);
        expectSafe(r);
      }),
      RUNS,
    );
  });

  it('never throws on a config-shaped file with hostile names and values, and accepts only safe names', () => {
    fc.assert(
      fc.property(configShaped, (value) => {
        const r = load(stringify(value));
        expectChecked(r);
        expectSafe(r);
      }),
      RUNS,
    );
  });

  it('never throws on hostile environment values, or a file that cannot be read', () => {
    const keys = ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_API_URL', 'PORT', 'REDIS_URL'];
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...keys, 'PROMOTE_CONFIG', 'PROMOTE_REDIS_PREFIX', 'LOG_LEVEL'), hostile),
        hostileShort,
        (env, err) => {
          expectChecked(readEnv(env) as ReturnType<typeof load>);
          const r = loadSettings(env, () => {
            throw Object.assign(new Error(err), { code: err });
          });
          expect(r.ok).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('refuses a YAML alias bomb instead of expanding it', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
    }
    const r = load(`${levels.join('\n')}\nservices: {}\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('\n')).toMatch(/not valid YAML: .*alias/i);
  });
});
