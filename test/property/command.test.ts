// Property tests of /promote and /rollback parsing and resolution: whatever Slack sends (random, hostile,
// 40,000 characters long), parsing never throws, and every refusal echoed back is inert mrkdwn.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePromoteConfig } from '../../src/config.js';
import {
  parsePromoteText,
  parseRollbackText,
  resolvePath,
  resolveService,
  resolveStage,
} from '../../src/domain/command.js';
import { escapeMrkdwn, unescapeSlack } from '../../src/slack/escape.js';
import { renderRefusal } from '../../src/slack/views/refusals.js';
import { usageText } from '../../src/slack/views/usage.js';
import { expectInert, hostile, hostileShort, RUNS, VALID_CHANNELS } from './hostile.js';

const CONFIG = (() => {
  const r = parsePromoteConfig(
    `
services:
  api:
    channels: [C0PROMOTE, C0OTHER]
    stages:
      dev: { stack: api-dev }
      stg: { stack: api-stg, approvals: { required: 1, reviewers: [U0ALICE] } }
      prod: { stack: api-prod, promotesFrom: [stg], approvals: { required: 1, reviewers: [S0LEADS] } }
  web:
    stages:
      dev: { stack: web-dev }
      prod: { stack: web-prod, approvals: { required: 0 } }
`,
    'us-east-1',
  );
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.value;
})();

/** What the app acks for a usage problem (src/app.ts). */
const usageAck = (problem: string) => `${problem}.\n${usageText(CONFIG)}`;

/** Slack HTML-escapes & < > in command text; hostile senders may not. */
const commandText = fc.oneof(hostile, hostile.map(escapeMrkdwn));
const channel = fc.oneof(fc.constantFrom<string>(...VALID_CHANNELS, 'D0DM'), hostileShort);

describe('parsePromoteText and parseRollbackText', () => {
  it('never throw, and say what they did not understand in inert, short mrkdwn', () => {
    fc.assert(
      fc.property(commandText, (sent) => {
        const text = unescapeSlack(sent);
        const p = parsePromoteText(text);
        expect(['promote', 'status', 'history', 'unhold', 'unlock', 'help', 'usage']).toContain(p.kind);
        if (p.kind === 'usage') {
          expectInert(usageAck(renderRefusal(p.refusal)), 'promote usage');
          expect(renderRefusal(p.refusal).length).toBeLessThanOrEqual(600); // 100 characters echoed, each up to 5 once escaped (`&amp;`)
        }
        const r = parseRollbackText(text);
        expect(['rollback', 'help', 'usage']).toContain(r.kind);
        if (r.kind === 'usage') {
          expectInert(usageAck(renderRefusal(r.refusal)), 'rollback usage');
          expect(renderRefusal(r.refusal).length).toBeLessThanOrEqual(600); // 100 characters echoed, each up to 5 once escaped (`&amp;`)
        }
      }),
      RUNS,
    );
  });

  it('refuse any text over 4,000 characters, and read what is under it', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const p = parsePromoteText(text);
        if (text.length > 4000) expect(p).toMatchObject({ kind: 'usage', refusal: { code: 'too_long' } });
        else if (p.kind === 'usage') expect(p.refusal.code).not.toBe('too_long');
      }),
      RUNS,
    );
  });

  // Names as promote.yml allows them (not `to`/`from`, which read as words, nor ending in `-`, which an
  // arrow would absorb): every way of writing the path reads back the same names.
  const name = fc
    .stringMatching(/^[a-zA-Z0-9][-a-zA-Z0-9_]{0,20}$/)
    .filter(
      (n) =>
        !n.endsWith('-') && !['to', 'from', 'help', 'status', 'history', 'unhold', 'unlock'].includes(n.toLowerCase()),
    );
  const separator = fc.constantFrom(
    '->',
    '-&gt;',
    ' -&gt; ',
    '=>',
    '=&gt;',
    '→',
    ' → ',
    ' to ',
    ' ',
    '  ',
    '➡️',
    '—>',
    ' :arrow_right: ',
  );

  it('read back the service and stages of a well-formed command, however the arrow is written', () => {
    fc.assert(
      fc.property(name, name, name, separator, fc.boolean(), (service, from, to, sep, withFrom) => {
        fc.pre(!(from.includes('-') && sep.startsWith('-')));
        const text = `${service} ${withFrom ? 'from ' : ''}${from}${sep}${to}`;
        expect(parsePromoteText(unescapeSlack(text))).toEqual({ kind: 'promote', service, from, to });
      }),
      RUNS,
    );
  });
});

describe('resolving names against the config', () => {
  it('never throws, and every refusal is inert mrkdwn that echoes at most 100 characters of input', () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, channel, (service, from, to, ch) => {
        const s = resolveService(CONFIG, service, ch);
        if (!s.ok) {
          expectInert(renderRefusal(s.refusal), 'service refusal');
          expect(renderRefusal(s.refusal).length).toBeLessThanOrEqual(800);
          return;
        }
        const st = resolveStage(s.value, to);
        if (!st.ok) expectInert(renderRefusal(st.refusal), 'stage refusal');
        const p = resolvePath(s.value, from, to);
        if (!p.ok) {
          expectInert(renderRefusal(p.refusal), 'path refusal');
          expect(renderRefusal(p.refusal).length).toBeLessThanOrEqual(800);
        }
      }),
      RUNS,
    );
  });

  it('finds every configured name whatever its case, and only in its allowed channels', () => {
    const names = Object.values(CONFIG.services).flatMap((s) => s.stages.map((st) => [s.name, st.name] as const));
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.constantFrom<string>(...VALID_CHANNELS, 'C0ELSE'),
        ([svc, stage], ch) => {
          const s = resolveService(CONFIG, svc.toUpperCase(), ch);
          const allowed = CONFIG.services[svc]!.channels;
          expect(s.ok).toBe(!allowed || allowed.includes(ch));
          const st = resolveStage(CONFIG.services[svc]!, stage.toUpperCase());
          expect(st.ok && st.value.name).toBe(stage);
        },
      ),
      RUNS,
    );
  });
});
