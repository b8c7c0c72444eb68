// Slack's rate limits as request budgets (src/budgets.ts), shared by every replica through the store.
// Limits apply per method, per workspace and app (api.slack.com/apis/rate-limits):
// - chat.update is Tier 3, "50+ per minute" (docs.slack.dev/reference/methods/chat.update);
// - chat.postMessage is special: "generally allows posting one message per second per channel", short bursts
//   allowed, plus a workspace-wide limit Slack does not publish (docs.slack.dev/reference/methods/chat.postMessage).
import type { Budget, Budgets } from '../budgets.js';
import { KEYS } from '../store/keys.js';
import type { TokenBucketSpec } from '../store/types.js';

export interface SlackLimits {
  /** chat.update calls per minute for the workspace; default 50 (Tier 3) */
  updatesPerMinute?: number;
  /** chat.postMessage calls per second in one channel; default 1 */
  postsPerSecondPerChannel?: number;
}

export const DEFAULT_SLACK_LIMITS: Required<SlackLimits> = { updatesPerMinute: 50, postsPerSecondPerChannel: 1 };

/** Tier 3 tolerates "sporadic bursts": a few calls at once, then the steady rate. */
const UPDATE_BURST = 5;
/** "Short bursts >1 allowed" for posting. */
const POST_BURST = 3;

export function slackBucketSpecs(limits: SlackLimits = {}): { update: TokenBucketSpec; post: TokenBucketSpec } {
  const l = {
    updatesPerMinute: limits.updatesPerMinute ?? DEFAULT_SLACK_LIMITS.updatesPerMinute,
    postsPerSecondPerChannel: limits.postsPerSecondPerChannel ?? DEFAULT_SLACK_LIMITS.postsPerSecondPerChannel,
  };
  // A bucket lets through its burst plus rate × 60 s in any minute. Slack counts "per minute" without saying over
  // which window, so the rate leaves room for the burst: never more than updatesPerMinute in any 60 s.
  // (A setting below 2 a minute keeps one call of burst and the whole rate.)
  const burst = Math.max(1, Math.min(UPDATE_BURST, Math.floor(l.updatesPerMinute / 10)));
  const steady = l.updatesPerMinute > burst ? l.updatesPerMinute - burst : l.updatesPerMinute;
  return {
    update: { ratePerSec: steady / 60, burst },
    post: { ratePerSec: l.postsPerSecondPerChannel, burst: POST_BURST },
  };
}

/** For SlackPortOptions.budgets: the budgets a call of `method` in `channel` waits for. */
export function slackBudgets(
  budgets: Budgets,
  limits: SlackLimits = {},
): (method: string, channel: string) => Budget[] {
  const specs = slackBucketSpecs(limits);
  return (method, channel) => {
    if (method === 'chat.update')
      return [budgets.get('slack:chat.update', KEYS.slackBudget('chat.update'), specs.update)];
    if (method === 'chat.postMessage')
      return [budgets.get('slack:chat.postMessage', KEYS.slackBudget('chat.postMessage', channel), specs.post)];
    return [];
  };
}
