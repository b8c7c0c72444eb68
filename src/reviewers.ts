// Who may approve: user IDs directly, user groups through usergroups.users.list, cached for a short
// time and refreshed on a miss (someone just added to the group can approve without waiting).
import type { SlackPort } from './slack/port.js';

export interface ReviewerDirectory {
  /** Whether `user` is one of `reviewers` (a user ID, or a member of a listed group). */
  isReviewer(user: string, reviewers: string[]): Promise<boolean>;
}

export interface DirectoryOptions {
  ttlMs?: number; // how long a group's members are trusted
  minRefreshMs?: number; // a miss refreshes a group at most this often (usergroups.users.list is Tier 2)
  now?: () => number;
  onError?: (groupId: string, error: unknown) => void;
}

export function createReviewerDirectory(slack: SlackPort, opts: DirectoryOptions = {}): ReviewerDirectory {
  const ttl = opts.ttlMs ?? 60_000;
  const minRefresh = opts.minRefreshMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { members: Set<string>; at: number }>();
  // When each group was last asked for, whether it worked or not: a group that keeps failing
  // (no_such_subteam, ratelimited) must not cost a Tier 2 call on every check.
  const askedAt = new Map<string, number>();
  // One request per group at a time: simultaneous clicks share it.
  const inFlight = new Map<string, Promise<Set<string>>>();

  async function fetchMembers(group: string): Promise<Set<string>> {
    askedAt.set(group, now());
    try {
      const members = new Set(await slack.groupMembers(group));
      cache.set(group, { members, at: now() });
      return members;
    } catch (e) {
      // A group that cannot be read (no_such_subteam, plan_upgrade_required) grants nobody new;
      // members read before stay trusted until their TTL runs out.
      opts.onError?.(group, e);
      const known = cache.get(group);
      return known && now() - known.at < ttl ? known.members : new Set();
    }
  }

  function load(group: string): Promise<Set<string>> {
    const pending = inFlight.get(group);
    if (pending) return pending;
    const p = fetchMembers(group).finally(() => inFlight.delete(group));
    inFlight.set(group, p);
    return p;
  }

  return {
    async isReviewer(user, reviewers) {
      if (reviewers.includes(user)) return true;
      for (const group of reviewers.filter((r) => r.startsWith('S'))) {
        const hit = cache.get(group);
        const fresh = hit !== undefined && now() - hit.at < ttl;
        if (fresh && hit.members.has(user)) return true;
        // Unknown, stale, or a miss (someone just added to the group): read it, but ask Slack at most
        // every minRefresh; a read already under way is shared.
        const asked = askedAt.get(group);
        const mayAsk = inFlight.has(group) || asked === undefined || now() - asked >= minRefresh;
        if (mayAsk && (await load(group)).has(user)) return true;
      }
      return false;
    },
  };
}
