// The JSON logger: bound fields (child), Bolt's and the Slack SDK's lines through it, Node's process warnings.
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
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

describe('logProcessWarnings', () => {
  // In a fresh Node process, on the built bot as `npm start` runs it: Node's own printer is what is replaced.
  const script = `
    const { createLogger, logProcessWarnings } = await import(process.argv[1]);
    logProcessWarnings(createLogger('info'));
    process.emitWarning('NodeVersionSupportWarning: later versions will require node >=22.');
    process.emitWarning('Buffer() is deprecated', { type: 'DeprecationWarning', code: 'DEP0005' });
  `;

  it('logs them as JSON lines (with their name and code) instead of Node printing them on stderr', async () => {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script, pathToFileURL('dist/log.js').href],
        { timeout: 20_000 },
        (err, out, errOut) => (err ? reject(err) : resolve({ stdout: out, stderr: errOut })),
      ),
    );
    expect(stderr).toBe('');
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map(({ time: _t, ...l }) => l)).toEqual([
      {
        level: 'warn',
        msg: 'NodeVersionSupportWarning: later versions will require node >=22.',
        source: 'node',
        warning: 'Warning',
      },
      { level: 'warn', msg: 'Buffer() is deprecated', source: 'node', warning: 'DeprecationWarning', code: 'DEP0005' },
    ]);
  });
});
