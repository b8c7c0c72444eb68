// The bot's version, kept in one place: package.json. Read at run time relative to this module, so it is the
// same from src/ (tests), dist/ (npm start) and the Docker image (/app/dist next to /app/package.json).
import { readFileSync } from 'node:fs';

function readVersion(): string {
  const url = new URL('../package.json', import.meta.url);
  try {
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown };
    if (typeof pkg.version !== 'string') throw new Error('no "version" field');
    return pkg.version;
  } catch (cause) {
    throw new Error(`reading the version from ${url.pathname}`, { cause });
  }
}

export const VERSION: string = readVersion();
