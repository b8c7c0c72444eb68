// The domain knows no Slack and no AWS: no mrkdwn, no mentions, no escaping, no imports of the adapters.
// Reads the source files, so a refusal pre-rendered for Slack cannot creep back into src/domain.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DOMAIN = join(import.meta.dirname, '../../src/domain');
const files = readdirSync(DOMAIN, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));

const FORBIDDEN: [string, RegExp][] = [
  ['a user mention', /<@/],
  // (a regex look-behind, `(?<!`, is not one)
  ['a special mention or Slack control sequence', /(?<!\(\?)<!/],
  ['an HTML entity (escaping)', /&lt;|&gt;|&amp;/],
  ['mrkdwn', /mrkdwn/i],
  ['an import of the Slack adapter', /from\s+['"](\.\.\/)+slack\//],
  ['an import of the AWS adapter', /from\s+['"](\.\.\/)+aws\//],
  ['a Slack package', /from\s+['"]@slack\//],
  ['an import of the config reader', /from\s+['"]\.\.\/config\.js['"]/],
];

describe('src/domain', () => {
  it('has source files to check', () => {
    expect(files).toContain('promotion.ts');
    expect(files).toContain('refusals.ts');
  });

  it.each(files)('%s knows no Slack and no AWS', (file) => {
    const text = readFileSync(join(DOMAIN, file), 'utf8');
    const found = FORBIDDEN.filter(([, re]) => re.test(text)).map(([what]) => what);
    expect(found).toEqual([]);
  });
});

describe('the scan', () => {
  it.each([
    ['return refuse(`Only <@U0REQ> can cancel`);', 'a user mention'],
    ["import { escapeMrkdwn } from '../slack/escape.js';", 'mrkdwn'],
    ["import { describeStack } from '../aws/cloudformation.js';", 'an import of the AWS adapter'],
    ["text.replace(/&lt;/g, '<')", 'an HTML entity (escaping)'],
  ])('catches %j', (line, what) => {
    expect(FORBIDDEN.filter(([, re]) => re.test(line)).map(([w]) => w)).toContain(what);
  });
});
