// What the load rows share: a config of many services (each dev → prod, prod needing two approvals), their
// stacks in the fake AWS, clicks in the service's own channel, the do-nothing server of the ack floor, and the
// bot's own figures (/metrics, RSS).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EVENT_LOOP_RESOLUTION_MS } from '../src/metrics.js';
import type { FakeAws } from '../test/fakes/aws.js';
import { freePort, SIGNING_SECRET } from '../test/support/bot.js';
import { DEV_ACCOUNT, DEV_TEMPLATE, PROD_TEMPLATE, type Scenario } from '../test/support/scenario.js';
import { sendBlockAction } from '../test/support/slack-driver.js';
import type { LoadJob, LoadSample } from './load-worker.js';
import { onCleanup } from './support.js';

export const REVIEWERS = ['U0ALICE', 'U0BOB'];

export const serviceName = (i: number) => `svc${i}`;
/** Prod accounts: service i runs in account i % accounts (333333333300, 333333333301, …). */
export const prodAccount = (i: number, accounts: number) => `3333333333${String(i % accounts).padStart(2, '0')}`;

export interface ManyServices {
  n: number;
  /** settings: block lines (two-space indented), e.g. '  pollMin: 100ms'; none = the production defaults */
  settings?: string[];
  channelOf: (i: number) => string;
  accounts: number;
}

/** promote.yml for `n` services svc0…: dev (no approvals) → prod (two approvals from U0ALICE and U0BOB). */
export function manyServicesConfig(o: ManyServices): string {
  const lines: string[] = [];
  if (o.settings?.length) lines.push('settings:', ...o.settings);
  lines.push('services:');
  for (let i = 0; i < o.n; i++) {
    lines.push(
      `  ${serviceName(i)}:`,
      `    channels: [${o.channelOf(i)}]`,
      '    stages:',
      `      dev: { stack: ${serviceName(i)}-dev, role: "arn:aws:iam::${DEV_ACCOUNT}:role/promote-bot" }`,
      '      prod:',
      `        stack: ${serviceName(i)}-prod`,
      `        role: "arn:aws:iam::${prodAccount(i, o.accounts)}:role/promote-bot"`,
      `        approvals: { required: 2, reviewers: [${REVIEWERS.join(', ')}], expiresAfter: 4h }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Puts svc{i}-dev and svc{i}-prod (different templates, so there is something to promote). */
export function seedServices(aws: FakeAws, o: ManyServices, templates?: { dev: string; prod: string }): void {
  for (let i = 0; i < o.n; i++) {
    // The default templates declare Env and MemorySize; given ones declare no parameters.
    aws.putStack({
      name: `${serviceName(i)}-dev`,
      account: DEV_ACCOUNT,
      template: templates?.dev ?? DEV_TEMPLATE,
      ...(templates ? {} : { parameters: { Env: 'dev', MemorySize: '256' } }),
      outputs: { Version: 'v1.0.0' },
    });
    aws.putStack({
      name: `${serviceName(i)}-prod`,
      account: prodAccount(i, o.accounts),
      template: templates?.prod ?? PROD_TEMPLATE,
      ...(templates ? {} : { parameters: { Env: 'prod', MemorySize: '1024' } }),
    });
  }
}

/** A button click in `channel` on the message `ts` (Scenario.click always clicks in the default channel). */
export function clickIn(s: Scenario, channel: string, actionId: string, id: string, user: string, ts: string) {
  return sendBlockAction({
    url: s.bot.url,
    secret: SIGNING_SECRET,
    userId: user,
    actionId,
    value: id,
    channelId: channel,
    messageTs: ts,
    responseUrl: s.slack.responseUrl(`click:${actionId}:${user}`),
  });
}

/** Runs a load job in a worker thread (bench/load-worker.ts) and resolves with its samples. */
/** Runs `job` in a load worker; with warm-up requests, `onWarm` runs after them, before the measured ones. */
export function runLoad(job: LoadJob, onWarm: () => Promise<void> = async () => undefined): Promise<LoadSample[]> {
  return new Promise((resolve, reject) => {
    // A worker does not inherit the tsx loader of `node --import tsx`: it registers it, then loads the module.
    const file = new URL('./load-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(file)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: job });
    worker.on('message', (m: { warm?: boolean; samples?: LoadSample[]; error?: string }) => {
      if (m.warm) {
        onWarm().then(
          () => worker.postMessage('go'),
          (err: Error) => {
            void worker.terminate();
            reject(err);
          },
        );
        return;
      }
      void worker.terminate();
      if (m.samples) resolve(m.samples);
      else reject(new Error(`load worker: ${m.error}`));
    });
    worker.once('error', reject);
  });
}

/** A reference server of row 1: the floor, or Bolt alone. */
export interface ReferenceServer {
  url: string;
  /** its own event-loop delay histogram since the last call (or since it started), reset at each call: the p99
   * and max of the intervals between ticks of a timer of EVENT_LOOP_RESOLUTION_MS, as monitorEventLoopDelay records them */
  eventLoopDelay: () => Promise<{ p99Ms: number; maxMs: number }>;
  /** its CPU time so far (user + system, ms; Linux /proc) */
  cpuMs: () => number;
  stop: () => Promise<void>;
}

// GET /eld answers the process's event-loop delay histogram since the last GET /eld (as the bot's /metrics does, with
// the same sampling interval), and resets it.
const ELD = `const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: ${EVENT_LOOP_RESOLUTION_MS} }); h.enable();
  const eld = (res) => { res.end(JSON.stringify({ p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 })); h.reset(); };`;

/**
 * The floor: an HTTP server in its own Node process that reads each request and answers 200 with an empty
 * body, nothing else — what any server on this machine takes to answer at that concurrency.
 */
export function startFloorServer(): Promise<ReferenceServer> {
  return startReference(
    'the floor server',
    [],
    (port) => `${ELD}
    require('node:http').createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/eld') return eld(res);
      req.resume(); req.on('end', () => res.end());
    }).listen(${port}, '127.0.0.1', () => console.log('ready'));`,
  );
}

/**
 * Bolt alone: the Bolt app the bot is built on (same version, its HTTPReceiver, the same signing secret, the node
 * flags of `npm start`), routing requests as the bot does (its one middleware, `dispatch` of src/slack/dispatch.ts,
 * from the build) to handlers for the same commands, actions, event and view as the bot's (src/app.ts), each of
 * which only acks — /promote with a "Planning …" text as the bot's. What the required framework takes to ack on
 * this machine at that concurrency, before any work of the bot's own.
 */
export function startBoltAloneServer(
  flags: string[],
  ids: { actions: string[]; view: string },
): Promise<ReferenceServer> {
  const dispatchModule = pathToFileURL(resolve('dist/slack/dispatch.js')).href;
  return startReference(
    'Bolt alone',
    [...flags, '--input-type=module'],
    (port) => `import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/');
    ${ELD}
    const { dispatch } = await import(${JSON.stringify(dispatchModule)});
    const { App, HTTPReceiver, LogLevel } = require('@slack/bolt');
    const receiver = new HTTPReceiver({
      signingSecret: ${JSON.stringify(SIGNING_SECRET)}, endpoints: '/slack/events', logLevel: LogLevel.ERROR,
      customRoutes: [{ path: '/eld', method: ['GET'], handler: (req, res) => eld(res) }],
    });
    // botId and botUserId given: no auth.test call (nothing here answers one).
    const app = new App({ token: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCH', receiver, convoStore: false, logLevel: LogLevel.ERROR });
    const ack = async ({ ack }) => { await ack(); };
    app.use(dispatch({
      commands: {
        '/promote': async ({ command, ack }) => { await ack({ response_type: 'ephemeral', text: 'Planning ' + command.text + '…' }); },
        '/rollback': ack,
      },
      actions: Object.fromEntries(${JSON.stringify(ids.actions)}.map((id) => [id, ack])),
      events: { app_home_opened: async () => undefined },
      views: { ${JSON.stringify(ids.view)}: ack },
    }, () => undefined));
    app.start(${port}).then(() => console.log('ready'));`,
  );
}

async function startReference(what: string, flags: string[], code: (port: number) => string): Promise<ReferenceServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn(process.execPath, [...flags, '-e', code(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (c) => reject(new Error(`${what} exited with ${c}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };
  onCleanup(what, stop);
  const eventLoopDelay = async () =>
    (await (await fetch(`http://127.0.0.1:${port}/eld`)).json()) as { p99Ms: number; maxMs: number };
  return { url: `http://127.0.0.1:${port}/slack/events`, eventLoopDelay, cpuMs: () => cpuMsOf(proc.pid), stop };
}

/** CPU time (user + system) of a process so far, in ms (Linux /proc/<pid>/stat; NaN elsewhere). */
export function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime (fields 14 and 15 of proc(5); 12 and 13 after the name) in clock ticks of 1/100 s on Linux
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** A gauge or counter of the bot's /metrics (the sum over its label sets), NaN when absent. */
export async function scrapeMetric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = Number.NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    sum = Number.isNaN(sum) ? v : sum + v;
  }
  return sum;
}

/** Resident set size of a process in MB (Linux /proc; NaN elsewhere); `peak`: the most it has had (VmHWM). */
export function rssMb(pid: number | undefined, peak = false): number {
  return statusMb(pid, peak ? 'VmHWM' : 'VmRSS');
}

/**
 * The RSS's parts (Linux /proc/<pid>/status): anonymous memory (the heaps) and file-backed pages (the node binary's
 * code and read-only data, ICU's included, shared with other processes running it).
 */
export function rssPartsMb(pid: number | undefined): { anon: number; file: number } {
  return { anon: statusMb(pid, 'RssAnon'), file: statusMb(pid, 'RssFile') };
}

function statusMb(pid: number | undefined, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Random whole milliseconds in [min, max]: the fake AWS's per-call latency. */
export const between = (min: number, max: number) => () => min + Math.floor(Math.random() * (max - min + 1));
