// Who may approve: user IDs directly, user groups through usergroups.users.list, cached for a short
// time and refreshed on a miss (someone just added to the group can approve without waiting).
import type { SlackPort } from './slack/port.js';

export interface ReviewerDirectory {
  /**
   * Whether `user` is one of `reviewers` (a user ID, or a member of a listed group). With `fresh`, groups are
   * read from Slack now, whatever the cache holds, and a group that cannot be read fails the check (throws).
   */
  isReviewer(user: string, reviewers: string[], opts?: { fresh?: boolean }): Promise<boolean>;
  /**
   * Those of `users` who are reviewers now: every listed group read from Slack afresh, once (for the check at the
   * quorum, src/workflows/review.ts). Throws when a group cannot be read, so nobody is judged on old data.
   */
  stillReviewers(users: string[], reviewers: string[]): Promise<string[]>;
  /**
   * Everyone `reviewers` names: the listed users, then the members of each listed group (from the cache while it
   * is fresh, else read from Slack). A group that cannot be read adds nobody; it never throws.
   */
  members(reviewers: string[]): Promise<string[]>;
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

  // Fresh reads under way: simultaneous clicks at the quorum share one (it was asked for after they came in).
  const freshInFlight = new Map<string, Promise<Set<string>>>();

  function freshMembers(group: string): Promise<Set<string>> {
    const pending = freshInFlight.get(group);
    if (pending) return pending;
    const p = readNow(group).finally(() => freshInFlight.delete(group));
    freshInFlight.set(group, p);
    return p;
  }

  /** The group's members as Slack says now; the cache is refreshed with them (a failure is thrown, not hidden). */
  async function readNow(group: string): Promise<Set<string>> {
    askedAt.set(group, now());
    let members: Set<string>;
    try {
      members = new Set(await slack.groupMembers(group));
    } catch (cause) {
      throw new Error(`reading the members of user group ${group}`, { cause });
    }
    cache.set(group, { members, at: now() });
    return members;
  }

  async function stillReviewers(users: string[], reviewers: string[]): Promise<string[]> {
    const groups = reviewers.filter((r) => r.startsWith('S'));
    const members = await Promise.all(groups.map(freshMembers));
    return users.filter((u) => reviewers.includes(u) || members.some((m) => m.has(u)));
  }

  async function members(reviewers: string[]): Promise<string[]> {
    const out = new Set(reviewers.filter((r) => !r.startsWith('S')));
    for (const group of reviewers.filter((r) => r.startsWith('S'))) {
      const hit = cache.get(group);
      const asked = askedAt.get(group);
      const mayAsk = inFlight.has(group) || asked === undefined || now() - asked >= minRefresh;
      // Fresh members as they are; otherwise read again, but at most every minRefresh (a group that keeps failing
      // costs no Tier 2 call each time): in between, the members last read, if any.
      const known =
        hit !== undefined && now() - hit.at < ttl ? hit.members : mayAsk ? await load(group) : (hit?.members ?? []);
      for (const m of known) out.add(m);
    }
    return [...out];
  }

  return {
    stillReviewers,
    members,
    async isReviewer(user, reviewers, o = {}) {
      if (o.fresh) return (await stillReviewers([user], reviewers)).length > 0;
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
