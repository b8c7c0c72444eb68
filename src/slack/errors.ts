// What a failed Slack call means for the caller: worth retrying (transient) or not (permanent), with Slack's code.
// The shapes come from @slack/web-api's errors (packages/web-api/src/errors.ts): platform errors carry the answer
// in `data` (`data.error`), rejected rate limits `code: 'slack_webapi_rate_limited_error'` and `retryAfter` (s),
// HTTP errors `code: 'slack_webapi_http_error'` and `statusCode`, network failures and timeouts
// `code: 'slack_webapi_request_error'` with the fetch error as `cause`. Our own wrappers chain these as `cause`.

export interface SlackErrorClass {
  /** true when the same call may succeed later: rate limits, Slack's own outages, HTTP 5xx, network, timeouts */
  transient: boolean;
  /**
   * Slack's error code ('not_in_channel', 'internal_error', 'ratelimited'…), or ours: 'http_<status>' for HTTP
   * errors, 'timeout' for a call that got no answer in time, a Node/undici code ('ECONNREFUSED'…) or
   * 'network_error' for other network failures.
   */
  code?: string;
  /** how long Slack asked us to wait (HTTP 429 Retry-After), in ms */
  retryAfterMs?: number;
}

/**
 * Slack error codes worth retrying: the errors every Web API method's reference lists besides its own
 * (docs.slack.dev/reference/methods/chat.postMessage, "Errors") that describe Slack's state, not the request —
 * `ratelimited`, `service_unavailable` ("temporarily unavailable"), `request_timeout` (POST data "missing or
 * truncated"), `internal_error` ("likely due to a transient issue on our end") and `fatal_error`. Slack warns that
 * after the last two "some aspect of the operation" may have succeeded, so a retried post can appear twice.
 */
const TRANSIENT_CODES = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

const MAX_DEPTH = 8;

function* chain(err: unknown): Generator<Record<string, unknown>> {
  let cur: unknown = err;
  for (let i = 0; i < MAX_DEPTH && typeof cur === 'object' && cur !== null; i++) {
    yield cur as Record<string, unknown>;
    cur = (cur as { cause?: unknown }).cause;
  }
}

function isTimeout(e: Record<string, unknown>): boolean {
  // AbortSignal.timeout() aborts fetch with a DOMException named TimeoutError (WHATWG DOM "timeout" reason);
  // undici's own timeouts (src/slack/http-fetch.ts) carry its error codes (undici.nodejs.org, "Errors").
  return (
    e.name === 'TimeoutError' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'UND_ERR_CONNECT_TIMEOUT' ||
    e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_BODY_TIMEOUT'
  );
}

/** The most specific reason a request never got an answer: 'timeout', a system/undici code, or 'network_error'. */
function networkCode(err: unknown): string {
  for (const e of chain(err)) {
    if (isTimeout(e)) return 'timeout';
    if (typeof e.code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(e.code)) return e.code;
  }
  return 'network_error';
}

/** Classifies any error from a Slack call (or from a chain wrapping one). Unknown errors are permanent. */
export function classifySlackError(err: unknown): SlackErrorClass {
  for (const e of chain(err)) {
    if (e.code === 'slack_webapi_rate_limited_error') {
      const sec = e.retryAfter;
      return {
        transient: true,
        code: 'ratelimited',
        ...(typeof sec === 'number' && Number.isFinite(sec) ? { retryAfterMs: Math.max(0, sec) * 1000 } : {}),
      };
    }
    const data = e.data as { error?: unknown } | undefined;
    if (typeof data?.error === 'string' && data.error !== '') {
      return { transient: TRANSIENT_CODES.has(data.error), code: data.error };
    }
    if (e.code === 'slack_webapi_http_error' && typeof e.statusCode === 'number') {
      // Slack answers 200 or 429 (platform-facts §1.7); anything else came from a proxy or an outage.
      return { transient: e.statusCode >= 500 || e.statusCode === 408, code: `http_${e.statusCode}` };
    }
    if (e.code === 'slack_webapi_request_error') return { transient: true, code: networkCode(e.cause) };
    if (isTimeout(e)) return { transient: true, code: 'timeout' };
    if (typeof e.code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|EAI_AGAIN|UND_ERR_[A-Z_]+)$/.test(e.code)) {
      return { transient: true, code: e.code };
    }
  }
  return { transient: false };
}

/** Slack's error code from a WebClient error (e.g. 'not_in_channel'), if it has one. */
export function slackErrorCode(e: unknown): string | undefined {
  for (const cur of chain(e)) {
    const code = (cur as { data?: { error?: string } }).data?.error;
    if (code) return code;
  }
  return undefined;
}
