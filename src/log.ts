// Structured log lines (one JSON object per line) on stdout; errors keep their cause chain.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose every line also carries `fields` (e.g. `{ promotionId }`); a line's own fields win. */
  child(fields: Record<string, unknown>): Logger;
}

/** An error and its causes as plain data, for a log line. */
export function errorFields(e: unknown): Record<string, unknown> {
  const chain: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur; i++) {
    chain.push(cur instanceof Error ? `${cur.name}: ${cur.message}` : String(cur));
    cur = (cur as { cause?: unknown }).cause;
  }
  return { error: chain[0], causes: chain.slice(1) };
}

export function createLogger(
  level: Level = 'info',
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const make = (bound: Record<string, unknown>): Logger => {
    const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
      if (RANK[lvl] < RANK[level]) return;
      const f = fields && 'err' in fields ? { ...fields, ...errorFields(fields.err), err: undefined } : fields;
      write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...bound, ...f })}\n`);
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

/**
 * Node.js prints process warnings (a deprecation; the AWS SDK's notice that its later versions need a newer
 * Node.js) as plain text on stderr, through a `'warning'` listener of its own, "by default"
 * (https://nodejs.org/api/process.html#event-warning). Here they become log lines like every other
 * (`"source":"node"`), so stderr carries no line a JSON log pipeline cannot read. Node's printer is the only
 * listener when this runs (the composition root, right after the logger exists); should a Node.js version print
 * otherwise, a warning is printed as before and logged too.
 */
export function logProcessWarnings(log: Logger, proc: NodeJS.Process = process): void {
  proc.removeAllListeners('warning');
  proc.on('warning', (w: Error & { code?: string }) =>
    log.warn(w.message, { source: 'node', warning: w.name, ...(w.code ? { code: w.code } : {}) }),
  );
}
