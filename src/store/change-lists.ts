// A plan's change list is written once, not with every transition of its record.
//
// A promotion record is read and written whole by each transition (compare-and-set on its version). Its plan's
// change list is by far its largest part (about 300 bytes a change: 750 KB at 2,500 changes) and never changes
// once planned, so the Redis store keeps each list in a field of the record's hash of its own, named by an ID
// given to the list when first written (`changes:<id>`), and the record's JSON names the field (`changesRef`) instead of holding
// the list. A list is sent to Redis only by the first write of the record that holds it (from this process),
// and read from Redis only when this process has not seen it yet: the lists are shared, frozen, between the
// records that name them, so no caller can change one in place.
//
// A big plan can also be written ahead, a page at a time, while CloudFormation is still being read (`stage`):
// the record then names the list's pages and the list's own field holds only their order, so that after the
// last page only that page and the order are left to write (see StagedPage).
import { randomUUID } from 'node:crypto';
import type { ClassifiedChange, Plan, Promotion } from '../domain/types.js';

type Changes = readonly ClassifiedChange[];

/**
 * A plan as stored: `changesRef` instead of `changes`. With `changesPages`, the list was written ahead in pages
 * (below): the field `changes:<changesRef>` holds its order (indexes into the pages' changes, in the order of
 * `changesPages`), each page its own field `changes:<page ID>`. Without it, `changes:<changesRef>` holds the list.
 */
type StoredPlan = Omit<Plan, 'changes'> & { changesRef: string; changesPages?: string[] };

export const CHANGES_FIELD_PREFIX = 'changes:';
export const changesField = (listId: string) => `${CHANGES_FIELD_PREFIX}${listId}`;

/**
 * A field a write names: a list's own field (with `list`), or one of its pages. `value` is the JSON to send,
 * undefined when this process knows the record's hash holds it already.
 */
export interface ListWrite {
  field: string;
  value?: string;
  list?: Changes;
  /** The pages the list is stored in, for the record written (undefined: the list is stored whole) */
  pages?: readonly string[];
}

/**
 * Pages written ahead. A big plan arrives from CloudFormation in pages of a few hundred changes, a few hundred
 * milliseconds apart; each page's classified changes can be written to the record's hash while the next page is
 * read (`stage`), so that once the last page arrives only that page and the plan's order are left to send with
 * the record. A list is stored in pages when it is made of exactly the changes of staged pages; otherwise whole.
 */
export interface StagedPage {
  id: string;
  field: string;
  changes: Changes;
  /** The page's JSON, until it is written to the record's hash */
  value: string | undefined;
}

interface PageState {
  page: StagedPage;
  /** staging order, so a list's pages are named in the order they arrived */
  seq: number;
  /** records whose hash holds the page (as far as this process knows) */
  heldBy: Set<string>;
}

/**
 * The lists kept in memory: at most this many changes in all (8 plans of 2,500 changes, about 20 MB), and this many
 * lists (plans of one change each must not fill memory either). A list not kept is read again when needed.
 */
const DEFAULT_CACHE_CHANGES = 20_000;
const DEFAULT_CACHE_LISTS = 200;

export interface ChangeLists {
  /** The record's JSON without its change lists, and the fields to write with it. */
  dehydrate(p: Promotion): { json: string; lists: ListWrite[] };
  /** After a write of `id` succeeded: its lists are in its hash. */
  written(id: string, lists: readonly ListWrite[]): void;
  /** The lists kept in memory now, and their changes in all. */
  size(): { lists: number; changes: number };
  /** After a write of `p` failed because a field it named without a value was missing: send every value next time. */
  forget(p: Promotion): void;
  /** A page of changes to write ahead to a record's hash (its field and JSON); `staged` once it is there. */
  stage(changes: Changes): StagedPage;
  staged(id: string, page: StagedPage): void;
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

const newId = () => randomUUID().replaceAll('-', '');

export function createChangeLists(opts: { cacheChanges?: number; cacheLists?: number } = {}): ChangeLists {
  const limit = opts.cacheChanges ?? DEFAULT_CACHE_CHANGES;
  const maxLists = opts.cacheLists ?? DEFAULT_CACHE_LISTS;
  /** list → its ID, and the records whose hash holds it, with the pages it is stored in there */
  const known = new WeakMap<Changes, { listId: string; heldBy: Map<string, readonly string[] | undefined> }>();
  /** list ID → list, least recently used first */
  const byId = new Map<string, Changes>();
  /** a staged change → its page and its index in it (weak: a plan that is dropped takes its pages along) */
  const placeOf = new WeakMap<ClassifiedChange, { state: PageState; index: number }>();
  const pageStates = new WeakMap<StagedPage, PageState>();
  let seq = 0;
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
      e = { listId: newId(), heldBy: new Map() };
      known.set(list, e);
    }
    return e;
  }

  /**
   * The pages `list` is stored in, in staging order, and the list's order as indexes into their changes: the
   * staged pages it holds whole (every change of them in the list), and one more page (staged now, so sent with
   * the record) of its changes in none of them, such as the last page of a plan; undefined when it holds no
   * staged page whole, or only part of one.
   */
  function pagesOf(list: Changes): { pages: PageState[]; order: number[] } | undefined {
    const counts = new Map<PageState, number>();
    const rest: ClassifiedChange[] = [];
    for (const c of list) {
      const state = placeOf.get(c)?.state;
      if (state) counts.set(state, (counts.get(state) ?? 0) + 1);
      else rest.push(c);
    }
    if (counts.size === 0) return undefined;
    // a page in part, or a change twice
    for (const [s, n] of counts) if (n !== s.page.changes.length) return undefined;
    if (rest.length > 0) counts.set(pageStates.get(stage(rest))!, rest.length);
    const sorted = [...counts.keys()].sort((a, b) => a.seq - b.seq);
    const offsets = new Map<PageState, number>();
    let total = 0;
    for (const s of sorted) {
      offsets.set(s, total);
      total += s.page.changes.length;
    }
    return {
      pages: sorted,
      order: list.map((c) => {
        const place = placeOf.get(c)!;
        return offsets.get(place.state)! + place.index;
      }),
    };
  }

  function stage(changes: Changes): StagedPage {
    const id = newId();
    const page: StagedPage = { id, field: changesField(id), changes, value: JSON.stringify(changes) };
    const state: PageState = { page, seq: seq++, heldBy: new Set() };
    pageStates.set(page, state);
    changes.forEach((c, index) => {
      placeOf.set(c, { state, index });
    });
    return page;
  }

  return {
    dehydrate(p) {
      const lists: ListWrite[] = [];
      const add = (w: ListWrite) => {
        if (!lists.some((l) => l.field === w.field)) lists.push(w);
      };
      const store = (plan: Plan): StoredPlan => {
        const { changes, ...rest } = plan;
        const e = entry(changes);
        const field = changesField(e.listId);
        if (e.heldBy.has(p.id)) {
          // The hash holds it already, stored as this record names it.
          const pages = e.heldBy.get(p.id);
          add({ field, list: changes, ...(pages ? { pages } : {}) });
          for (const page of pages ?? []) add({ field: changesField(page) });
          return { ...rest, changesRef: e.listId, ...(pages ? { changesPages: [...pages] } : {}) };
        }
        const paged = pagesOf(changes);
        if (!paged) {
          add({ field, list: changes, value: JSON.stringify(changes) });
          return { ...rest, changesRef: e.listId };
        }
        const pages = paged.pages.map((s) => s.page.id);
        add({ field, list: changes, pages, value: JSON.stringify(paged.order) });
        for (const s of paged.pages) {
          const held = s.heldBy.has(p.id);
          add({
            field: s.page.field,
            ...(held ? {} : { value: s.page.value ?? JSON.stringify(s.page.changes) }),
          });
        }
        return { ...rest, changesRef: e.listId, changesPages: pages };
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
        if (!l.list) continue;
        const e = known.get(l.list);
        if (!e) continue;
        e.heldBy.set(id, l.pages);
        if (l.pages) {
          for (const c of l.list) {
            const state = placeOf.get(c)?.state;
            if (!state) continue;
            state.heldBy.add(id);
            state.page.value = undefined; // written: keep the changes, not their JSON as well
          }
        }
        if (!byId.has(e.listId)) remember(e.listId, freezeChanges(l.list as ClassifiedChange[]));
      }
    },

    size: () => ({ lists: byId.size, changes: cached }),

    forget(p) {
      for (const list of byId.values()) known.get(list)?.heldBy.delete(p.id);
      for (const plan of plansOf(p)) {
        known.get(plan.changes)?.heldBy.delete(p.id);
        for (const c of plan.changes) placeOf.get(c)?.state.heldBy.delete(p.id);
      }
    },

    stage,

    staged(id, page) {
      const state = pageStates.get(page);
      if (!state) return;
      state.heldBy.add(id);
      page.value = undefined; // written: keep the changes, not their JSON as well
    },

    async hydrate(id, json, read) {
      const p = JSON.parse(json) as Promotion;
      const plans = plansOf(p) as Array<Plan & Partial<StoredPlan>>;
      const layouts = new Map<string, readonly string[] | undefined>();
      for (const plan of plans) if (plan.changesRef !== undefined) layouts.set(plan.changesRef, plan.changesPages);
      const found = new Map<string, Changes>();
      for (const r of layouts.keys()) {
        const list = byId.get(r);
        if (list) found.set(r, list);
      }
      const missing = [...layouts.keys()].filter((r) => !found.has(r));
      if (missing.length) {
        const fields = missing.flatMap((r) => [r, ...(layouts.get(r) ?? [])].map(changesField));
        const values = await read(fields);
        if (values.some((v) => v === null || v === undefined)) return undefined;
        let at = 0;
        for (const listId of missing) {
          const pages = layouts.get(listId);
          const own = JSON.parse(values[at++]!) as unknown[];
          let list: ClassifiedChange[];
          if (pages) {
            const all: ClassifiedChange[] = [];
            for (let i = 0; i < pages.length; i++) all.push(...(JSON.parse(values[at++]!) as ClassifiedChange[]));
            list = (own as number[]).map((i) => all[i]!);
            if (list.length !== all.length || list.some((c) => c === undefined)) return undefined;
          } else list = own as ClassifiedChange[];
          const frozen = freezeChanges(list);
          if (!known.has(frozen)) known.set(frozen, { listId, heldBy: new Map() });
          found.set(listId, frozen);
        }
      }
      for (const plan of plans) {
        const ref = plan.changesRef;
        if (ref === undefined) continue; // a record written before lists were stored apart
        const list = remember(ref, found.get(ref)!);
        known.get(list)?.heldBy.set(id, plan.changesPages);
        delete plan.changesRef;
        delete plan.changesPages;
        plan.changes = list as ClassifiedChange[];
      }
      return p;
    },
  };
}

const plansOf = (p: Promotion): Plan[] =>
  [p.plan, ...(p.parts ?? []).map((part) => part.plan)].filter((plan): plan is Plan => plan !== undefined);

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
