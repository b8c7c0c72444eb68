// The JSON logger: bound fields (child), and Bolt's and the Slack SDK's lines through it.
import { LogLevel } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { slackLibraryLogger } from '../../src/slack/library-logger.js';

function captured() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', (l) => lines.push(JSON.parse(l)));
  return { log, lines };
}

describe('createLogger', () => {
  it('child() binds fields to every line; a line’s own fields win; the parent is unchanged', () => {
    const { log, lines } = captured();
    const op = log.child({ promotionId: 'p1', service: 'api' });
    op.info('planned', { service: 'web' });
    op.child({ step: 'execute' }).warn('slow');
    log.info('plain');
    expect(lines.map(({ time: _t, ...l }) => l)).toEqual([
      { level: 'info', msg: 'planned', promotionId: 'p1', service: 'web' },
      { level: 'warn', msg: 'slow', promotionId: 'p1', service: 'api', step: 'execute' },
      { level: 'info', msg: 'plain' },
    ]);
  });

  it('keeps an error’s cause chain', () => {
    const { log, lines } = captured();
    log.error('failed', { err: new Error('posting', { cause: new Error('invalid_auth') }) });
    expect(lines[0]).toMatchObject({ error: 'Error: posting', causes: ['Error: invalid_auth'] });
  });
});

describe('slackLibraryLogger', () => {
  it('turns the SDK’s argument lists into our lines, with a source, dropping lines below its level', () => {
    const { log, lines } = captured();
    const bolt = slackLibraryLogger(log, LogLevel.WARN, 'bolt');
    bolt.info('An incoming event was not acknowledged');
    bolt.warn('http request failed', { status: 503 });
    bolt.error('WebSocket error!', new Error('ECONNREFUSED'));
    bolt.error('WebSocket error occurred:', { message: 'Unexpected server response: 400' });
    bolt.setLevel(LogLevel.DEBUG);
    expect(bolt.getLevel()).toBe(LogLevel.DEBUG);
    bolt.setName('socket-mode');
    bolt.debug('connected');
    expect(lines.map(({ time: _t, ...l }) => l)).toEqual([
      { level: 'warn', msg: 'http request failed', source: 'bolt', detail: { status: 503 } },
      { level: 'error', msg: 'WebSocket error!', source: 'bolt', error: 'Error: ECONNREFUSED', causes: [] },
      { level: 'error', msg: 'WebSocket error occurred: Unexpected server response: 400', source: 'bolt' },
      { level: 'debug', msg: 'connected', source: 'socket-mode' },
    ]);
  });
});
