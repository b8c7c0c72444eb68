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

  async function load(group: string): Promise<Set<string>> {
    try {
      const members = new Set(await slack.groupMembers(group));
      cache.set(group, { members, at: now() });
      return members;
    } catch (e) {
      // A group that cannot be read (no_such_subteam, plan_upgrade_required) grants nobody.
      opts.onError?.(group, e);
      const stale = cache.get(group);
      return stale?.members ?? new Set();
    }
  }

  return {
    async isReviewer(user, reviewers) {
      if (reviewers.includes(user)) return true;
      for (const group of reviewers.filter((r) => r.startsWith('S'))) {
        const hit = cache.get(group);
        const fresh = hit && now() - hit.at < ttl;
        if (fresh && hit.members.has(user)) return true;
        if (!hit || !fresh || now() - hit.at >= minRefresh) {
          if ((await load(group)).has(user)) return true;
        }
      }
      return false;
    },
  };
}
