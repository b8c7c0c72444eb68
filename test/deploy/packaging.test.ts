// What ships: the Docker image, the Compose file, the licence and the changelog agree with each other and with
// package.json. No Docker engine runs here, so the files themselves are read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { startFlags } from '../support/bot.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  version: string;
  license: string;
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const minNode = Number(/^>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): Array<{ op: string; args: string }> {
  return read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

describe('Dockerfile', () => {
  const lines = dockerfile();
  const args = new Map(
    lines.filter((l) => l.op === 'ARG').map((l) => l.args.split('=') as [string, string | undefined]),
  );
  const images = lines
    .filter((l) => l.op === 'FROM')
    .map((l) => l.args.split(/\s+/)[0]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? ''));

  it('builds in stages, every stage on a Node.js LTS line the engines range accepts (22 or 24)', () => {
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) {
      const major = Number(/^node:(\d+)/.exec(image)?.[1]);
      expect([22, 24], image).toContain(major);
      expect(major).toBeGreaterThanOrEqual(minNode);
    }
  });

  it('runs the compiled bot with source maps and the flags of npm start, directly (exec form), as an unprivileged user', () => {
    const cmd = lines.filter((l) => l.op === 'CMD').at(-1)!;
    expect(JSON.parse(cmd.args)).toEqual(['node', '--enable-source-maps', ...startFlags(), 'dist/main.js']);
    expect(lines.filter((l) => l.op === 'USER').at(-1)?.args).toBe('node');
  });

  it('has a HEALTHCHECK with a start period that probes /healthz without curl', () => {
    const hc = lines.find((l) => l.op === 'HEALTHCHECK')!;
    expect(hc.args).toMatch(/--start-period=\d+s/);
    expect(hc.args).toContain('/healthz');
    expect(hc.args).toMatch(/CMD \["node", "-e"/);
  });

  it('puts package.json in the runtime image, where the version is read from', () => {
    const runtime = lines.slice(lines.map((l) => l.op).lastIndexOf('FROM'));
    expect(
      runtime.some((l) => l.op === 'COPY' && !l.args.startsWith('--from') && l.args.includes('package.json')),
    ).toBe(true);
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/^\*\*\//, ''));

  it('keeps secrets, local config, dependencies, build and test output and the repository out of the context', () => {
    expect(patterns).toEqual(
      expect.arrayContaining(['.env', 'promote.yml', 'node_modules', 'dist', 'test', 'coverage', '.git']),
    );
  });
});

describe('build', () => {
  it('tsconfig.build.json emits source maps for --enable-source-maps', () => {
    const parsed = ts.getParsedCommandLineOfConfigFile(
      join(ROOT, 'tsconfig.build.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    expect(parsed?.options.sourceMap).toBe(true);
    expect(parsed?.options.noEmit).toBe(false);
  });

  it('keeps engines honest: Node.js types no newer than the oldest Node.js it accepts', () => {
    expect(pkg.engines.node).toMatch(/^>=\s*\d+$/);
    const typesMajor = Number(/(\d+)/.exec(pkg.devDependencies['@types/node'] ?? '')?.[1]);
    expect(typesMajor).toBeLessThanOrEqual(minNode);
  });
});

describe('deploy/docker-compose.yml', () => {
  const doc = parseDocument(read('deploy/docker-compose.yml'));
  const compose = doc.toJS() as {
    services: Record<string, Record<string, unknown>>;
    volumes?: Record<string, unknown>;
  };
  const bot = compose.services.bot!;
  const redis = compose.services.redis!;

  it('parses', () => {
    expect(doc.errors.map(String)).toEqual([]);
  });

  it('mounts the config read-only where PROMOTE_CONFIG points and reads the rest from an env file', () => {
    const env = bot.environment as Record<string, string>;
    expect(bot.volumes).toContain(`./promote.yml:${env.PROMOTE_CONFIG}:ro`);
    expect(bot.env_file).toBeDefined();
  });

  it('runs the bot on the Redis service, which keeps an append-only file on a named volume', () => {
    const env = bot.environment as Record<string, string>;
    expect(new URL(env.REDIS_URL!).hostname).toBe('redis');
    expect((redis.command as string[]).join(' ')).toContain('--appendonly yes');
    const volume = (redis.volumes as string[]).find((v) => v.endsWith(':/data'))!;
    expect(Object.keys(compose.volumes ?? {})).toContain(volume.split(':')[0]);
    expect(Object.keys(bot.depends_on as object)).toContain('redis');
  });

  it('builds the image from the repository root', () => {
    expect((bot.build as { context: string }).context).toBe('..');
  });
});

describe('licence and changelog', () => {
  it('package.json names the licence LICENSE carries', () => {
    expect(pkg.license).toBe('Apache-2.0');
    expect(read('LICENSE')).toMatch(/Apache License\s+Version 2\.0, January 2004/);
  });

  it("CHANGELOG.md has an Unreleased section and one for package.json's version", () => {
    const changelog = read('CHANGELOG.md');
    expect(changelog).toMatch(/^## \[Unreleased\]$/m);
    expect(changelog).toMatch(
      new RegExp(`^## \\[${pkg.version.replace(/\./g, '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}$`, 'm'),
    );
  });
});
