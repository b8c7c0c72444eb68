// Before the bot says it started: are the Slack tokens good? auth.test with the bot token
// (docs.slack.dev/reference/methods/auth.test) and, in Socket Mode, apps.connections.open with the app-level
// token (docs.slack.dev/reference/methods/apps.connections.open; the URL it returns is simply not used).
// A token Slack rejects is a refusal (a value naming the variable and Slack's error); a Slack API that cannot be
// reached (network errors, timeouts, HTTP 5xx, rate limits) is retried with backoff until a deadline, then a fault.
import type { webApi } from '@slack/bolt';
import type { Logger } from '../log.js';
import { classifySlackError } from './errors.js';
import { createSlackClient, DEFAULT_SLACK_TIMEOUT_MS, type SlackClientOptions } from './port.js';

export type SlackVariable = 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN' | 'SLACK_API_URL';

export type TokenCheck =
  | { ok: true; botUserId: string; botId: string; teamId?: string }
  /** `error` is Slack's error code (`invalid_auth`, `token_revoked`…) or `http_<status>` for a non-Slack answer */
  | { ok: false; variable: SlackVariable; method: string; error: string };

export interface TokenCheckOptions {
  botToken: string;
  /** Socket Mode only */
  appToken?: string;
  slackApiUrl: string;
  /** give up on an unreachable Slack API this long after the first attempt */
  giveUpAfterMs: number;
  log: Logger;
  /** for the WebClients' own log lines */
  clientLogger?: SlackClientOptions['logger'];
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Slack could not be reached before the deadline. */
export class SlackUnreachableError extends Error {
  override name = 'SlackUnreachableError';
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One line for a person, e.g. `SLACK_BOT_TOKEN rejected by Slack: invalid_auth`. */
export function describeRejection(r: Extract<TokenCheck, { ok: false }>, slackApiUrl: string): string {
  if (r.variable === 'SLACK_API_URL') {
    return `SLACK_API_URL ${slackApiUrl} does not answer like the Slack Web API: ${r.method} got ${r.error}`;
  }
  return `${r.variable} rejected by Slack: ${r.error}`;
}

/** Checks the bot token, then the app-level token (Socket Mode). */
export async function checkSlackTokens(o: TokenCheckOptions): Promise<TokenCheck> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? realSleep;
  const deadline = now() + o.giveUpAfterMs;

  /** Calls `method` until Slack answers: its result, or the refusal when Slack rejected the token. */
  async function call<T>(
    method: string,
    variable: 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN',
    token: string,
    run: (client: webApi.WebClient) => Promise<T>,
  ): Promise<{ value: T } | Extract<TokenCheck, { ok: false }>> {
    const url = `${o.slackApiUrl}${method}`;
    let delay = FIRST_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = Math.max(100, Math.min(DEFAULT_SLACK_TIMEOUT_MS, deadline - now()));
      const client = createSlackClient(token, { slackApiUrl: o.slackApiUrl, timeoutMs, logger: o.clientLogger });
      try {
        return { value: await run(client) };
      } catch (err) {
        const c = classifySlackError(err);
        if (!c.transient) {
          const error = c.code ?? (err as Error).message;
          // A platform error is about the token; an HTTP 4xx means the URL is not Slack's Web API.
          return { ok: false, variable: error.startsWith('http_') ? 'SLACK_API_URL' : variable, method, error };
        }
        const wait = Math.max(delay, c.retryAfterMs ?? 0);
        if (now() + wait >= deadline) {
          throw new SlackUnreachableError(
            `could not reach the Slack API at ${url} within ${Math.round(o.giveUpAfterMs / 1000)} s (${attempt} attempts, last: ${c.code ?? 'error'})`,
            { cause: err },
          );
        }
        o.log.warn('Slack API unreachable; retrying', { url, method, attempt, error: c.code, retryInMs: wait });
        await sleep(wait);
        delay = Math.min(MAX_DELAY_MS, delay * 2);
      }
    }
  }

  const auth = await call('auth.test', 'SLACK_BOT_TOKEN', o.botToken, (c) => c.auth.test());
  if (!('value' in auth)) return auth;
  if (o.appToken) {
    const socket = await call('apps.connections.open', 'SLACK_APP_TOKEN', o.appToken, (c) => c.apps.connections.open());
    if (!('value' in socket)) return socket;
  }
  const a = auth.value;
  return {
    ok: true,
    botUserId: String(a.user_id ?? ''),
    botId: String(a.bot_id ?? ''),
    ...(a.team_id ? { teamId: a.team_id } : {}),
  };
}
