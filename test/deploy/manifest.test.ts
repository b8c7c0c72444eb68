// manifest.yml against the code: the app it creates runs in Socket Mode (no request URLs), has the slash commands
// src/app.ts listens to, interactivity for its buttons and modal, and exactly the bot scopes of the Web API
// methods the code calls. The calls are found by reading the source (TypeScript's parser): `<x>.client.a.b(…)`
// or `client.a.b(…)` is Web API method `a.b`; WebClient's filesUploadV2 helper calls the two external-upload
// methods (@slack/web-api README, "Upload a file").
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROUTED } from '../../src/app.js';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/**
 * The bot-token scope each Web API method needs (docs.slack.dev/reference/methods/<method>, "Required scopes");
 * null: none. A method the code starts calling must be added here, and its scope to manifest.yml.
 */
/** Each method's scopes: public and private channels need one each (channels:*, groups:*). */
const SCOPE_OF_METHOD: Record<string, string | string[] | null> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.getPermalink': null,
  'usergroups.users.list': 'usergroups:read',
  'usergroups.list': 'usergroups:read',
  'users.info': 'users:read',
  'conversations.info': ['channels:read', 'groups:read'],
  'conversations.replies': ['channels:history', 'groups:history'],
  'views.open': null,
  'views.update': null,
  'views.publish': null,
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
};

/** WebClient helpers that are not one method. */
const HELPERS: Record<string, string[]> = {
  filesUploadV2: ['files.getUploadURLExternal', 'files.completeUploadExternal'],
};

/** Bolt's own call with the bot token: App.start() verifies it (auth.test). */
const BOLT_CALLS = ['auth.test'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The names in a property chain `a.b.c` ([a, b, c]); undefined when it is not a plain chain. */
function chain(e: ts.Expression): string[] | undefined {
  if (ts.isIdentifier(e)) return [e.text];
  if (e.kind === ts.SyntaxKind.ThisKeyword) return ['this'];
  if (ts.isPropertyAccessExpression(e)) {
    const head = chain(e.expression);
    return head ? [...head, e.name.text] : undefined;
  }
  return undefined;
}

/** Web API methods called in `src/`, with the first place each is called from. */
function webApiCalls(): Map<string, string> {
  const found = new Map<string, string>();
  // src/aws holds the AWS SDK clients (also named `client`); Slack calls live elsewhere.
  for (const file of sourceFiles(SRC).filter((f) => !f.startsWith(join(SRC, 'aws')))) {
    const text = readFileSync(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node)) {
        const names = chain(node.expression);
        const at = names?.lastIndexOf('client') ?? -1;
        // `client.websocket.…` is the Socket Mode client's WebSocket (src/probes.ts), not a Web API method.
        const path = names && at >= 0 && names[at + 1] !== 'websocket' ? names.slice(at + 1) : [];
        const methods = path.length === 1 ? HELPERS[path[0]!] : path.length >= 2 ? [path.join('.')] : undefined;
        const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        for (const m of methods ?? []) if (!found.has(m)) found.set(m, `${relative(ROOT, file)}:${line}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

interface Manifest {
  features: {
    slash_commands: Array<{ command: string; url?: string; should_escape?: boolean }>;
    app_home?: { home_tab_enabled?: boolean; messages_tab_enabled?: boolean; messages_tab_read_only_enabled?: boolean };
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    interactivity: { is_enabled: boolean; request_url?: string };
    event_subscriptions?: { bot_events?: string[]; request_url?: string };
    socket_mode_enabled: boolean;
  };
}

/**
 * The bot-token scope each event the bot subscribes to needs (docs.slack.dev/reference/events/<event>,
 * "Required scopes"); null: none.
 */
const SCOPE_OF_EVENT: Record<string, string | null> = {
  app_home_opened: null,
};

const manifest = parse(readFileSync(join(ROOT, 'manifest.yml'), 'utf8')) as Manifest;

describe('manifest.yml', () => {
  it('sets up Socket Mode: no request URL anywhere', () => {
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    for (const c of manifest.features.slash_commands) expect(c.url, c.command).toBeUndefined();
    expect(manifest.settings.interactivity.request_url).toBeUndefined();
    expect(manifest.settings.event_subscriptions?.request_url).toBeUndefined();
  });

  it('subscribes to exactly the events src/app.ts listens to, and enables the App Home they serve', () => {
    const listened: string[] = [...ROUTED.events];
    expect(listened).toContain('app_home_opened');
    expect([...(manifest.settings.event_subscriptions?.bot_events ?? [])].sort()).toEqual([...listened].sort());
    for (const e of listened) expect(e in SCOPE_OF_EVENT, `${e} missing from SCOPE_OF_EVENT`).toBe(true);
    // The Home tab is published (views.publish); reviewers' direct messages land in the Messages tab, where
    // nobody can write to a bot that reads nothing.
    expect(manifest.features.app_home).toEqual({
      home_tab_enabled: true,
      messages_tab_enabled: true,
      messages_tab_read_only_enabled: true,
    });
  });

  it('declares the slash commands src/app.ts listens to, unescaped, and interactivity for its buttons', () => {
    const listened: string[] = [...ROUTED.commands];
    expect(listened.length).toBeGreaterThan(0);
    expect(manifest.features.slash_commands.map((c) => c.command).sort()).toEqual([...listened].sort());
    // The parser reads raw text and unescapes it itself (src/slack/escape.ts); Slack must not rewrite mentions.
    for (const c of manifest.features.slash_commands) expect(c.should_escape, c.command).toBe(false);
    // The buttons (src/slack/ids.ts ACTION) and the rejection modal reach the bot only with interactivity on.
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });

  it('grants the scope of every Web API method the code calls, and no other', () => {
    const calls = webApiCalls();
    // The reader must see the calls the bot is known to make, or it proves nothing.
    expect([...calls.keys()]).toEqual(expect.arrayContaining(['chat.postMessage', 'chat.update']));
    const unknown = [...calls].filter(([m]) => !(m in SCOPE_OF_METHOD)).map(([m, at]) => `${m} (${at})`);
    expect(unknown, 'Web API methods missing from SCOPE_OF_METHOD: add them with their scope').toEqual([]);

    const needed = new Set<string>(['commands']); // slash commands need the commands scope
    for (const m of [...calls.keys(), ...BOLT_CALLS]) {
      for (const scope of [SCOPE_OF_METHOD[m] ?? []].flat()) needed.add(scope);
    }
    for (const e of manifest.settings.event_subscriptions?.bot_events ?? []) {
      const scope = SCOPE_OF_EVENT[e];
      if (scope) needed.add(scope);
    }
    const granted = manifest.oauth_config.scopes.bot;
    expect(new Set(granted).size, 'a scope listed twice').toBe(granted.length);
    expect([...granted].sort()).toEqual([...needed].sort());
  });
});
