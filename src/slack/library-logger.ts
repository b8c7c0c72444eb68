// Bolt's and the Slack SDK's own log lines (the @slack/logger interface their `logger` options take) through
// the bot's logger, so stdout has one JSON format.
import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../log.js';

const RANK: Record<LogLevel, number> = {
  [LogLevel.DEBUG]: 10,
  [LogLevel.INFO]: 20,
  [LogLevel.WARN]: 30,
  [LogLevel.ERROR]: 40,
};

/**
 * Their messages are lists of anything (strings, errors, objects): strings are joined into `msg`, an error
 * becomes `err`, other values go under `detail`; `source` names the library. Lines below `floor` are dropped
 * (Bolt is chatty at info); Bolt may move the floor with setLevel (its `logLevel` option).
 */
export function slackLibraryLogger(log: Logger, floor: LogLevel = LogLevel.WARN, name = 'slack'): BoltLogger {
  let current = floor;
  let source = name;
  const emit = (lvl: LogLevel, parts: unknown[]) => {
    if (RANK[lvl] < RANK[current]) return;
    const words: string[] = [];
    let err: unknown;
    const detail: unknown[] = [];
    for (const p of parts) {
      if (typeof p === 'string') words.push(p);
      else if (p instanceof Error && err === undefined) err = p;
      // e.g. a WebSocket ErrorEvent: not an Error, but it says what happened
      else if (typeof p === 'object' && p !== null && typeof (p as { message?: unknown }).message === 'string')
        words.push((p as { message: string }).message);
      else detail.push(p);
    }
    const fields: Record<string, unknown> = { source };
    if (err !== undefined) fields.err = err;
    if (detail.length) fields.detail = detail.length === 1 ? detail[0] : detail;
    log[lvl](words.join(' ') || (err instanceof Error ? err.message : ''), fields);
  };
  return {
    debug: (...m: unknown[]) => emit(LogLevel.DEBUG, m),
    info: (...m: unknown[]) => emit(LogLevel.INFO, m),
    warn: (...m: unknown[]) => emit(LogLevel.WARN, m),
    error: (...m: unknown[]) => emit(LogLevel.ERROR, m),
    setLevel: (l: LogLevel) => {
      current = l;
    },
    getLevel: () => current,
    setName: (n: string) => {
      source = n;
    },
  };
}
