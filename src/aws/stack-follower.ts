// Followers of many executions in one account and region share their CloudFormation calls:
// - status: one DescribeStacks without StackName (every stack of the account and region, paged) answers every
//   follower there, instead of one DescribeStacks per stack. A read younger than `statusMaxAgeMs`, or one in
//   flight, is shared; with one stack followed (or when listing would take more pages than stacks followed, or
//   the role may only describe its own stacks) it is the plain DescribeStacks of that stack.
// - events: DescribeStackEvents only for a stack that moved (another status or LastUpdatedTime than this
//   follower saw last), and for a stack still in progress at most every `eventsEveryMs` (its resources move
//   without the stack's status changing; progress is shown no more often than that anyway).
// Every call still goes through the account's request budget (clients.ts, src/budgets.ts), whose waiters are
// served in turn: when the budget is short every follower slows down alike and none starves.
import type { CloudFormationClient, Stack, StackEvent } from '@aws-sdk/client-cloudformation';
import type { AwsClients, StageAccess } from './clients.js';
import { describeAllStacks, describeStack, eventsSince } from './cloudformation.js';
import { classifyAwsError } from './errors.js';
import { isInProgress } from './stack-status.js';

export interface FollowedStack {
  /** The follower: one reader following one execution (an ID of its own, forgotten when it stops) */
  id: string;
  stack: string;
  /** only events of this operation (ClientRequestToken) */
  token?: string;
  /** the last event this follower has seen */
  afterEventId?: string;
  /** without afterEventId: events older than this belong to earlier operations */
  notBefore?: Date;
}

export interface FollowRead {
  /** the stack as last described; undefined when it no longer exists */
  stack?: Stack;
  gone: boolean;
  /** the operation's events after `afterEventId`, oldest first (empty when they were not due) */
  events: StackEvent[];
}

export interface StackFollowers {
  /** The stack's status (shared with other followers in the account and region) and its new events. */
  read(cfn: CloudFormationClient, access: StageAccess, f: FollowedStack): Promise<FollowRead>;
  /** The follower `id` has ended: forget what it saw. */
  forget(access: StageAccess, id: string): void;
}

export interface StackFollowerOptions {
  /** a status read younger than this is shared instead of repeated (0: never); default 250 ms */
  statusMaxAgeMs?: number;
  /** an unchanged stack in progress has its events read at most this often; default 2 s */
  eventsEveryMs?: number;
  /** a stack nobody read for this long is no longer followed; default 60 s */
  forgetAfterMs?: number;
  now?: () => number;
}

interface StatusEntry {
  stack?: Stack;
  at: number;
}

interface Seen {
  status?: string;
  updated?: number;
  eventsAt: number;
  /** when this follower last read (an ended follower's entry goes after forgetAfterMs) */
  readAt: number;
}

interface Group {
  /** stack name → when a follower last asked for it */
  followed: Map<string, number>;
  statuses: Map<string, StatusEntry>;
  listing?: Promise<void>;
  singles: Map<string, Promise<void>>;
  /** the role may not list (DescribeStacks needs `*` then): one call per stack */
  listDenied: boolean;
  /** pages the last listing took */
  listPages: number;
  /** follower ID → what it saw last */
  seen: Map<string, Seen>;
}

export const DEFAULT_STATUS_MAX_AGE_MS = 250;
export const DEFAULT_EVENTS_EVERY_MS = 2_000;

/** The account and region (and the role that sees them) whose followers share calls. */
export function followScope(access: StageAccess): string {
  return [access.region, access.role ?? '', access.externalId ?? ''].join('|');
}

const matches = (s: Stack, name: string) => s.StackName === name || s.StackId === name;

export function createStackFollowers(opts: StackFollowerOptions = {}): StackFollowers {
  const maxAge = opts.statusMaxAgeMs ?? DEFAULT_STATUS_MAX_AGE_MS;
  const eventsEvery = opts.eventsEveryMs ?? DEFAULT_EVENTS_EVERY_MS;
  const forgetAfter = opts.forgetAfterMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const groups = new Map<string, Group>();

  function groupOf(access: StageAccess): Group {
    const key = followScope(access);
    let g = groups.get(key);
    if (!g) {
      g = {
        followed: new Map(),
        statuses: new Map(),
        singles: new Map(),
        listDenied: false,
        listPages: 1,
        seen: new Map(),
      };
      groups.set(key, g);
    }
    return g;
  }

  function followedNow(g: Group): string[] {
    const cutoff = now() - forgetAfter;
    for (const [name, at] of g.followed) {
      if (at < cutoff) {
        g.followed.delete(name);
        g.statuses.delete(name);
      }
    }
    for (const [id, seen] of g.seen) if (seen.readAt < cutoff) g.seen.delete(id);
    return [...g.followed.keys()];
  }

  async function single(cfn: CloudFormationClient, g: Group, name: string): Promise<void> {
    const inFlight = g.singles.get(name);
    if (inFlight) return inFlight;
    const run = (async () => {
      const stack = await describeStack(cfn, name);
      g.statuses.set(name, { stack, at: now() });
    })().finally(() => g.singles.delete(name));
    g.singles.set(name, run);
    return run;
  }

  async function list(cfn: CloudFormationClient, g: Group, names: string[]): Promise<void> {
    try {
      const { stacks, pages, complete } = await describeAllStacks(cfn, Math.max(1, names.length));
      g.listPages = pages;
      // Stamped when the answer came: a follower that joined a listing waiting for the budget must not
      // find it stale at once and list again.
      const at = now();
      // Every stack followed by now, also by followers that joined while this listing was out.
      const wanted = [...new Set([...names, ...g.followed.keys()])];
      for (const name of wanted) {
        const found = stacks.find((s) => matches(s, name));
        if (found) g.statuses.set(name, { stack: found, at });
      }
      // Not in the list: gone, or past the pages read. The stack's own call says which.
      const missing = names.filter((n) => !stacks.some((s) => matches(s, n)));
      if (missing.length && !complete) g.listPages = Number.POSITIVE_INFINITY; // too many stacks: one by one
      await Promise.all(missing.map((n) => single(cfn, g, n)));
    } catch (err) {
      if (classifyAwsError(err).reason !== 'access_denied') throw err;
      g.listDenied = true; // the role may describe its own stacks only
      await Promise.all(names.map((n) => single(cfn, g, n)));
    }
  }

  /** The stack's status read now, for this caller alone (and then shared with later readers). */
  async function own(cfn: CloudFormationClient, g: Group, name: string): Promise<StatusEntry> {
    g.followed.set(name, now());
    const entry = { stack: await describeStack(cfn, name), at: now() };
    g.statuses.set(name, entry);
    return entry;
  }

  async function status(cfn: CloudFormationClient, g: Group, name: string): Promise<StatusEntry> {
    g.followed.set(name, now());
    const fresh = () => {
      const e = g.statuses.get(name);
      return e && now() - e.at < maxAge ? e : undefined;
    };
    const hit = fresh();
    if (hit) return hit;
    if (g.listing) {
      await g.listing.catch(() => undefined);
      const joined = fresh();
      if (joined) return joined;
    }
    const names = followedNow(g);
    if (!g.listDenied && names.length >= 2 && names.length > g.listPages) {
      g.listing ??= list(cfn, g, names).finally(() => {
        g.listing = undefined;
      });
      await g.listing;
    } else {
      await single(cfn, g, name);
    }
    return g.statuses.get(name) ?? { at: now() };
  }

  return {
    async read(cfn, access, f) {
      const g = groupOf(access);
      const last = g.seen.get(f.id);
      // A follower's first read is its own: a shared status read earlier (or in flight) may predate its
      // execution (the previous operation's UPDATE_COMPLETE of the same stack) and would end it at once.
      const { stack } = last ? await status(cfn, g, f.stack) : await own(cfn, g, f.stack);
      if (!stack) return { gone: true, events: [] };
      const updated = stack.LastUpdatedTime?.getTime();
      const moved = !last || last.status !== stack.StackStatus || last.updated !== updated;
      const due = isInProgress(stack.StackStatus) && (!last || now() - last.eventsAt >= eventsEvery);
      if (!moved && !due) {
        last.readAt = now();
        return { stack, gone: false, events: [] };
      }
      const events = await eventsSince(cfn, f.stack, f.afterEventId, f.token, {
        notBefore: f.notBefore,
        untokenedAreOurs: true,
      });
      g.seen.set(f.id, { status: stack.StackStatus, updated, eventsAt: now(), readAt: now() });
      return { stack, gone: false, events };
    },
    forget(access, id) {
      groups.get(followScope(access))?.seen.delete(id);
    },
  };
}

const shared = new WeakMap<AwsClients, StackFollowers>();

/** The followers shared by everything that uses these clients (one set per process, like the clients). */
export function sharedFollowers(aws: AwsClients, opts: StackFollowerOptions = {}): StackFollowers {
  let f = shared.get(aws);
  if (!f) {
    f = createStackFollowers(opts);
    shared.set(aws, f);
  }
  return f;
}
