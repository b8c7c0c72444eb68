import { describe, expect, it } from 'vitest';
import type { ClassifiedChange, Plan, Promotion } from '../../src/domain/types.js';
import { createChangeLists } from '../../src/store/change-lists.js';
import { promotion } from './store-contract.js';

const change = (i: number): ClassifiedChange => ({
  logicalId: `Q${i}`,
  resourceType: 'AWS::SQS::Queue',
  action: 'Add',
  impact: 'add',
  reason: `adds queue Q${i}`,
  forcedBy: [],
  properties: [],
  dataBearing: false,
});
const planOf = (n: number): Plan => ({
  changes: Array.from({ length: n }, (_, i) => change(i)),
  counts: { total: n, added: n, modified: 0, removed: 0, replaced: 0, minor: 0 },
});

/** Writes `p` through `lists` as the Redis store does, into `hash`; returns what was sent. */
function write(lists: ReturnType<typeof createChangeLists>, hash: Map<string, string>, p: Promotion) {
  const stored = lists.dehydrate(p);
  for (const l of stored.lists) if (l.value !== undefined) hash.set(l.field, l.value);
  hash.set('json', stored.json);
  lists.written(p.id, stored.lists);
  return stored;
}

describe('change lists kept in memory', () => {
  it('keeps at most the given number of lists, however small, and reads an evicted one again', async () => {
    const lists = createChangeLists({ cacheLists: 3 });
    const hashes = new Map<string, Map<string, string>>();
    for (let i = 0; i < 10; i++) {
      const hash = new Map<string, string>();
      hashes.set(`p${i}`, hash);
      write(lists, hash, promotion(`p${i}`, { plan: planOf(1) }));
      expect(lists.size().lists).toBeLessThanOrEqual(3);
    }
    expect(lists.size()).toEqual({ lists: 3, changes: 3 });
    const reads: string[][] = [];
    const hash = hashes.get('p0')!;
    const read = await lists.hydrate('p0', hash.get('json')!, async (fields) => {
      reads.push(fields);
      return fields.map((f) => hash.get(f) ?? null);
    });
    expect(read?.plan?.changes).toEqual([change(0)]);
    expect(reads).toHaveLength(1); // evicted: read from the hash
    // Kept now: the next read of it needs no field.
    await lists.hydrate('p0', hash.get('json')!, async (fields) => {
      reads.push(fields);
      return [];
    });
    expect(reads).toHaveLength(1);
  });

  it('keeps at most the given number of changes, the most recently used first', () => {
    const lists = createChangeLists({ cacheChanges: 250 });
    for (let i = 0; i < 5; i++) write(lists, new Map(), promotion(`p${i}`, { plan: planOf(100) }));
    expect(lists.size()).toEqual({ lists: 2, changes: 200 });
  });

  it('sends a list once per record, and again for another record', () => {
    const lists = createChangeLists();
    const plan = planOf(2);
    const first = write(lists, new Map(), promotion('a', { plan }));
    expect(first.lists[0]!.value).toBeDefined();
    const again = lists.dehydrate(promotion('a', { version: 2, plan }));
    expect(again.lists[0]!.value).toBeUndefined();
    expect(again.lists[0]!.field).toBe(first.lists[0]!.field);
    expect(lists.dehydrate(promotion('b', { plan })).lists[0]!.value).toBeDefined();
    expect(JSON.parse(again.json).plan).toEqual({ counts: plan.counts, changesRef: expect.any(String) });
  });
});
