// A plan's change list is written once, not with every transition of its record.
//
// A promotion record is read and written whole by each transition (compare-and-set on its version). Its plan's
// change list is by far its largest part (about 300 bytes a change: 750 KB at 2,500 changes) and never changes
// once planned, so the Redis store keeps each list in a field of the record's hash of its own, named by an ID
// given to the list when first written (`changes:<id>`), and the record's JSON names the field (`changesRef`) instead of holding
// the list. A list is sent to Redis only by the first write of the record that holds it (from this process),
// and read from Redis only when this process has not seen it yet: the lists are shared, frozen, between the
// records that name them, so no caller can change one in place.
import { randomUUID } from 'node:crypto';
import type { ClassifiedChange, Plan, Promotion } from '../domain/types.js';

type Changes = readonly ClassifiedChange[];

/** A plan as stored: `changesRef` instead of `changes`. */
type StoredPlan = Omit<Plan, 'changes'> & { changesRef: string };

export const CHANGES_FIELD_PREFIX = 'changes:';
export const changesField = (listId: string) => `${CHANGES_FIELD_PREFIX}${listId}`;

/** The lists a write sends: each field the record names, with its value when Redis may not have it yet. */
export interface ListWrite {
  field: string;
  /** The list's JSON; undefined when this process knows the record's hash holds it already */
  value?: string;
  list: Changes;
}

/**
 * The lists kept in memory: at most this many changes in all (8 plans of 2,500 changes, about 20 MB), and this many
 * lists (plans of one change each must not fill memory either). A list not kept is read again when needed.
 */
const DEFAULT_CACHE_CHANGES = 20_000;
const DEFAULT_CACHE_LISTS = 200;

export interface ChangeLists {
  /** The record's JSON without its change lists, and the lists to write with it. */
  dehydrate(p: Promotion): { json: string; lists: ListWrite[] };
  /** After a write of `id` succeeded: its lists are in its hash. */
  written(id: string, lists: readonly ListWrite[]): void;
  /** The lists kept in memory now, and their changes in all. */
  size(): { lists: number; changes: number };
  /** After a write failed because a field it named without a value was missing: send every value next time. */
  forget(id: string): void;
  /**
   * The record from its stored JSON, its lists filled in from memory or read with `read` (field → JSON, or
   * null when the field is gone, as after a concurrent re-plan); undefined then, and the caller reads again.
   */
  hydrate(
    id: string,
    json: string,
    read: (fields: string[]) => Promise<Array<string | null>>,
  ): Promise<Promotion | undefined>;
}

export function createChangeLists(opts: { cacheChanges?: number; cacheLists?: number } = {}): ChangeLists {
  const limit = opts.cacheChanges ?? DEFAULT_CACHE_CHANGES;
  const maxLists = opts.cacheLists ?? DEFAULT_CACHE_LISTS;
  /** list → its listId, and the records whose hash holds it (as far as this process knows) */
  const known = new WeakMap<Changes, { listId: string; heldBy: Set<string> }>();
  /** list ID → list, least recently used first */
  const byId = new Map<string, Changes>();
  let cached = 0;

  function remember(listId: string, list: Changes): Changes {
    const had = byId.get(listId);
    if (had) {
      byId.delete(listId);
      byId.set(listId, had);
      return had;
    }
    byId.set(listId, list);
    cached += list.length;
    for (const [d, l] of byId) {
      if ((cached <= limit && byId.size <= maxLists) || d === listId) break;
      byId.delete(d);
      cached -= l.length;
    }
    return list;
  }

  /** A list is known by its identity in memory, so its ID is a random one (no hash of 750 KB to compute). */
  function entry(list: Changes) {
    let e = known.get(list);
    if (!e) {
      e = { listId: randomUUID().replaceAll('-', ''), heldBy: new Set() };
      known.set(list, e);
    }
    return e;
  }

  return {
    dehydrate(p) {
      const lists: ListWrite[] = [];
      const store = (plan: Plan): StoredPlan => {
        const { changes, ...rest } = plan;
        const had = known.get(changes);
        const value = had?.heldBy.has(p.id) ? undefined : JSON.stringify(changes);
        const e = entry(changes);
        const field = changesField(e.listId);
        if (!lists.some((l) => l.field === field))
          lists.push({ field, list: changes, ...(value === undefined ? {} : { value }) });
        return { ...rest, changesRef: e.listId };
      };
      const stored = {
        ...p,
        ...(p.plan ? { plan: store(p.plan) } : {}),
        ...(p.parts ? { parts: p.parts.map((part) => (part.plan ? { ...part, plan: store(part.plan) } : part)) } : {}),
      };
      const json = JSON.stringify(stored);
      // JSON.stringify(undefined) (and of a function) is undefined: nothing we could read back.
      if (json === undefined) throw new TypeError(`storing promotion ${p.id}: value is not JSON-serialisable`);
      return { json, lists };
    },

    written(id, lists) {
      for (const l of lists) {
        const e = known.get(l.list);
        if (!e) continue;
        e.heldBy.add(id);
        if (!byId.has(e.listId)) remember(e.listId, freezeChanges(l.list as ClassifiedChange[]));
      }
    },

    size: () => ({ lists: byId.size, changes: cached }),

    forget(id) {
      for (const list of byId.values()) known.get(list)?.heldBy.delete(id);
    },

    async hydrate(id, json, read) {
      const p = JSON.parse(json) as Promotion;
      const plans = [p.plan, ...(p.parts ?? []).map((part) => part.plan)].filter(
        (plan): plan is Plan => plan !== undefined,
      ) as Array<Plan & Partial<StoredPlan>>;
      const refs = [...new Set(plans.map((plan) => plan.changesRef).filter((r): r is string => r !== undefined))];
      const found = new Map<string, Changes>();
      for (const r of refs) {
        const list = byId.get(r);
        if (list) found.set(r, list);
      }
      const missing = refs.filter((r) => !found.has(r));
      if (missing.length) {
        const values = await read(missing.map(changesField));
        if (values.some((v) => v === null || v === undefined)) return undefined;
        missing.forEach((listId, i) => {
          const list = freezeChanges(JSON.parse(values[i]!) as ClassifiedChange[]);
          if (!known.has(list)) known.set(list, { listId, heldBy: new Set() });
          found.set(listId, list);
        });
      }
      for (const plan of plans) {
        const ref = plan.changesRef;
        if (ref === undefined) continue; // a record written before lists were stored apart
        const list = remember(ref, found.get(ref)!);
        known.get(list)?.heldBy.add(id);
        delete plan.changesRef;
        plan.changes = list as ClassifiedChange[];
      }
      return p;
    },
  };
}

/** Lists written by this process are shared with the records read back, so they are frozen as well. */
export function freezeChanges(list: ClassifiedChange[]): Changes {
  for (const c of list) {
    for (const prop of c.properties ?? []) Object.freeze(prop);
    if (c.properties) Object.freeze(c.properties);
    if (c.forcedBy) Object.freeze(c.forcedBy);
    Object.freeze(c);
  }
  return Object.freeze(list);
}
