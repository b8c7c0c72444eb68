// The shared stack followers against the fake CloudFormation over HTTP: followers of many stacks in one account
// share their status reads and read events only for stacks that moved. Counted in calls, never in time.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { afterEach, describe, expect, it } from 'vitest';
import type { StageAccess } from '../../src/aws/clients.js';
import { describeStack, eventsSince, realSleep } from '../../src/aws/cloudformation.js';
import { createStackFollowers, type StackFollowers } from '../../src/aws/stack-follower.js';
import { isSettled } from '../../src/aws/stack-status.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';

const TEMPLATE = JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: {} } } });
const access: StageAccess = { region: 'us-east-1' };

const started: FakeAws[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
});

async function fakeWith(stacks: number): Promise<{ aws: FakeAws; cfn: CloudFormationClient; names: string[] }> {
  const aws = await startFakeAws({ eventIntervalMs: 5 });
  started.push(aws);
  const names = Array.from({ length: stacks }, (_, i) => `svc-${i}`);
  for (const name of names) aws.putStack({ name, template: TEMPLATE });
  const cfn = new CloudFormationClient({
    endpoint: aws.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return { aws, cfn, names };
}

const describes = (aws: FakeAws) =>
  aws.calls.filter((c) => c.action.startsWith('Describe') && c.action !== 'DescribeChangeSet');

/** Starts an outside update on every stack and resolves once CloudFormation (the fake) shows them all in progress. */
async function updateAll(aws: FakeAws, names: string[], durationMs: number): Promise<void> {
  for (const name of names) aws.startOutsideUpdate(name, { durationMs });
  while (!names.every((n) => aws.stack(n)?.status === 'UPDATE_IN_PROGRESS')) await realSleep(5);
}

/** Follows `stack` the way execute.ts does: read, apply events, sleep, until the stack settles. */
async function followShared(followers: StackFollowers, cfn: CloudFormationClient, id: string, stack: string) {
  let after: string | undefined;
  let events = 0;
  for (;;) {
    const r = await followers.read(cfn, access, { id, stack, afterEventId: after, notBefore: new Date(0) });
    events += r.events.length;
    if (r.events.length) after = r.events[r.events.length - 1]!.EventId;
    if (isSettled(r.stack?.StackStatus)) return { events, status: r.stack?.StackStatus };
    await realSleep(20);
  }
}

describe('shared stack followers', () => {
  it('follow one stack with the plain DescribeStacks of that stack', async () => {
    const { aws, cfn } = await fakeWith(3);
    const followers = createStackFollowers({ eventsEveryMs: 50 });
    await updateAll(aws, ['svc-1'], 200);
    const r = await followShared(followers, cfn, 'p1', 'svc-1');
    expect(r.status).toBe('UPDATE_COMPLETE');
    const stacksCalls = aws.callsOf('DescribeStacks');
    expect(stacksCalls.length).toBeGreaterThan(0);
    expect(stacksCalls.every((c) => c.params.StackName === 'svc-1')).toBe(true);
  });

  it('N executions in one account make far fewer Describe calls than N followers alone, and none is left out', async () => {
    const N = 12;
    const ROUNDS = 8;
    // Round by round (every follower polls once per round), so the comparison does not depend on speed.
    const shared = await fakeWith(N);
    await updateAll(shared.aws, shared.names, Number.POSITIVE_INFINITY);
    // A virtual clock a second further each round: every round's status read is due again.
    let clock = 0;
    const followers = createStackFollowers({ eventsEveryMs: 60_000, now: () => clock });
    const seen = shared.names.map(() => ({ reads: 0, events: 0 }));
    for (let round = 0; round < ROUNDS; round++) {
      clock += 1_000;
      await Promise.all(
        shared.names.map(async (stack, i) => {
          const r = await followers.read(shared.cfn, access, { id: `p${i}`, stack, notBefore: new Date(0) });
          if (r.stack?.StackStatus === 'UPDATE_IN_PROGRESS') seen[i]!.reads++;
          seen[i]!.events += r.events.length;
        }),
      );
    }
    // Every follower got the status of its own stack every round, and its events.
    expect(seen.every((s) => s.reads === ROUNDS && s.events > 0)).toBe(true);

    const alone = await fakeWith(N);
    await updateAll(alone.aws, alone.names, Number.POSITIVE_INFINITY);
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        alone.names.map(async (stack) => {
          await eventsSince(alone.cfn, stack, undefined, undefined, { notBefore: new Date(0) });
          await describeStack(alone.cfn, stack);
        }),
      );
    }

    const sharedCalls = describes(shared.aws).length;
    const aloneCalls = describes(alone.aws).length;
    expect(aloneCalls).toBe(ROUNDS * N * 2);
    // Each follower's first status read of its own, then at most one listing per round, and the events of each
    // stack once (it did not move after that).
    expect(sharedCalls).toBeLessThanOrEqual(ROUNDS + 3 * N);
    expect(sharedCalls * 4).toBeLessThan(aloneCalls);
    const listed = shared.aws.callsOf('DescribeStacks').filter((c) => c.params.StackName === undefined);
    expect(listed.length).toBeGreaterThan(0);
  });

  it('follows stacks to their end, each with its final events', async () => {
    const { aws, cfn, names } = await fakeWith(6);
    await updateAll(aws, names, 150);
    const followers = createStackFollowers({ eventsEveryMs: 50 });
    const results = await Promise.all(names.map((name, i) => followShared(followers, cfn, `p${i}`, name)));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 'UPDATE_COMPLETE'));
    expect(results.every((r) => r.events > 0)).toBe(true);
  });

  it('reads events only when the stack moved, or once due while it is in progress', async () => {
    const { aws, cfn } = await fakeWith(1);
    const followers = createStackFollowers({ eventsEveryMs: 60_000, statusMaxAgeMs: 0 });
    // Settled and unchanged: the first read reads events, the next ones do not.
    for (let i = 0; i < 4; i++) await followers.read(cfn, access, { id: 'p1', stack: 'svc-0', notBefore: new Date(0) });
    expect(aws.callsOf('DescribeStackEvents')).toHaveLength(1);
    expect(aws.callsOf('DescribeStacks')).toHaveLength(4);
    // It moved (UPDATE_IN_PROGRESS): its events are read again.
    await updateAll(aws, ['svc-0'], Number.POSITIVE_INFINITY);
    const moved = await followers.read(cfn, access, { id: 'p1', stack: 'svc-0', notBefore: new Date(0) });
    expect(moved.stack?.StackStatus).toBe('UPDATE_IN_PROGRESS');
    expect(aws.callsOf('DescribeStackEvents')).toHaveLength(2);
    // Still in progress and unchanged, events not yet due: not read.
    await followers.read(cfn, access, { id: 'p1', stack: 'svc-0', notBefore: new Date(0) });
    expect(aws.callsOf('DescribeStackEvents')).toHaveLength(2);
  });

  it('shares a status read between followers of different stacks, and one in flight', async () => {
    const { aws, cfn } = await fakeWith(5);
    let clock = 0;
    const followers = createStackFollowers({ statusMaxAgeMs: 1_000, now: () => clock });
    const readAll = () =>
      Promise.all(
        ['svc-0', 'svc-1', 'svc-2', 'svc-3'].map((stack, i) =>
          followers.read(cfn, access, { id: `p${i}`, stack, notBefore: new Date(0) }),
        ),
      );
    const listings = () => aws.callsOf('DescribeStacks').filter((c) => c.params.StackName === undefined).length;
    // A follower's first read is its own (a shared one might predate its execution): one call each.
    await readAll();
    expect(aws.callsOf('DescribeStacks')).toHaveLength(4);
    expect(listings()).toBe(0);
    // Once stale, one listing (in flight, joined by all four) answers every follower.
    clock += 2_000;
    await readAll();
    expect(listings()).toBe(1);
    expect(aws.callsOf('DescribeStacks')).toHaveLength(5);
    // Fresh: shared without a call.
    await readAll();
    expect(aws.callsOf('DescribeStacks')).toHaveLength(5);
  });

  it('falls back to one call per stack when the role may not list the account’s stacks', async () => {
    const { aws, cfn } = await fakeWith(3);
    const followers = createStackFollowers({ statusMaxAgeMs: 0 });
    aws.onCall('DescribeStacks', (call) => {
      if (call.params.StackName === undefined)
        aws.failNext('DescribeStacks', { code: 'AccessDenied', message: 'no', status: 403 });
    });
    const readAll = () =>
      Promise.all(
        ['svc-0', 'svc-1', 'svc-2'].map((stack, i) =>
          followers.read(cfn, access, { id: `p${i}`, stack, notBefore: new Date(0) }),
        ),
      );
    const first = await readAll();
    expect(first.map((r) => r.stack?.StackName)).toEqual(['svc-0', 'svc-1', 'svc-2']);
    // The first reads are each follower's own; the next round tries one listing, which is denied.
    const second = await readAll();
    expect(second.map((r) => r.stack?.StackName)).toEqual(['svc-0', 'svc-1', 'svc-2']);
    expect(aws.callsOf('DescribeStacks').filter((c) => c.params.StackName === undefined)).toHaveLength(1);
    const listingsBefore = aws.callsOf('DescribeStacks').filter((c) => c.params.StackName === undefined).length;
    await readAll();
    const listingsAfter = aws.callsOf('DescribeStacks').filter((c) => c.params.StackName === undefined).length;
    expect(listingsAfter).toBe(listingsBefore); // no more listing after the denial
  });

  it('says a stack that no longer exists is gone', async () => {
    const { cfn } = await fakeWith(1);
    const followers = createStackFollowers();
    const r = await followers.read(cfn, access, { id: 'p1', stack: 'nope', notBefore: new Date(0) });
    expect(r).toEqual({ gone: true, events: [] });
  });
});
