// Slack's rate limits, for the fake Slack when started with `limits` (the bench's "50 at once" row): a call over
// its method's per-workspace budget, or a chat.postMessage over its channel's budget, gets HTTP 429 with
// Retry-After, as Slack answers (api.slack.com/docs/rate-limits). Slack publishes the tiers as "N+ per minute"
// and allows short bursts without saying how long; this fake holds each method to N calls in any 60 s (no
// burst above N) and each channel to one message per second with bursts of ⚠ 5, a strict reading of both.

/** Calls per minute per workspace by tier (api.slack.com/docs/rate-limits#tiers). */
export const TIER_PER_MINUTE = { 1: 1, 2: 20, 3: 50, 4: 100 } as const;

/** The tier of each method the bot calls (docs.slack.dev method pages; platform-facts §1.7). */
export const METHOD_TIER: Record<string, keyof typeof TIER_PER_MINUTE> = {
  'chat.update': 3,
  'chat.delete': 3,
  'chat.postEphemeral': 4,
  'conversations.info': 3,
  'conversations.replies': 3,
  'usergroups.users.list': 2,
  'users.info': 4,
  'files.getUploadURLExternal': 4,
  'files.completeUploadExternal': 4,
};

export interface SlackLimits {
  /** calls per minute per method (workspace-wide); methods not named here are not limited */
  perMinute: Record<string, number>;
  /** chat.postMessage per channel: steady rate (messages per second) and burst */
  postPerChannel: { perSecond: number; burst: number };
}

export const DEFAULT_LIMITS: SlackLimits = {
  perMinute: Object.fromEntries(Object.entries(METHOD_TIER).map(([m, t]) => [m, TIER_PER_MINUTE[t]])),
  postPerChannel: { perSecond: 1, burst: 5 },
};

/** Decides per call: undefined (go ahead) or the Retry-After in seconds of a 429. */
export function createLimiter(limits: SlackLimits, now: () => number = Date.now) {
  const windows = new Map<string, number[]>();
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (method: string, channel: string | undefined): number | undefined => {
    const t = now();
    const perMinute = limits.perMinute[method];
    if (perMinute !== undefined) {
      const calls = (windows.get(method) ?? []).filter((at) => at > t - 60_000);
      windows.set(method, calls);
      if (calls.length >= perMinute) return Math.max(1, Math.ceil((calls[0]! + 60_000 - t) / 1000));
      calls.push(t);
    }
    if (method === 'chat.postMessage' && channel) {
      const { perSecond, burst } = limits.postPerChannel;
      const b = buckets.get(channel) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
      b.at = t;
      buckets.set(channel, b);
      if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
      b.tokens -= 1;
    }
    return undefined;
  };
}
