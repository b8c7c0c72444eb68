// The reviewer directory against the fake Slack Web API through the real WebClient and Slack port:
// user IDs directly, user groups through usergroups.users.list, cached, refreshed on a miss at a bounded rate.
import { LogLevel, webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createReviewerDirectory, type DirectoryOptions } from '../src/reviewers.js';
import { createSlackPort, slackErrorCode } from '../src/slack/port.js';
import { type FakeSlack, startFakeSlack } from './fakes/slack.js';

let fake: FakeSlack;

beforeEach(async () => {
  fake = await startFakeSlack();
});

afterEach(async () => {
  await fake.close();
});

/** A directory over a real WebClient pointed at the fake, with a clock the test moves. */
function directory(opts: Omit<DirectoryOptions, 'now'> = {}) {
  const clock = { t: 1_000_000 };
  const client = new webApi.WebClient(fake.token, {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
  });
  const dir = createReviewerDirectory(createSlackPort(client, { retry: { attempts: 1 } }), {
    ttlMs: 60_000,
    minRefreshMs: 5_000,
    ...opts,
    now: () => clock.t,
  });
  return { dir, clock };
}

const groupCalls = () => fake.calls.filter((c) => c.method === 'usergroups.users.list');

describe('createReviewerDirectory', () => {
  it('accepts a reviewer listed by user ID without asking Slack', async () => {
    const { dir } = directory();
    expect(await dir.isReviewer('U1', ['U1', 'U2'])).toBe(true);
    expect(await dir.isReviewer('W7', ['U1', 'W7'])).toBe(true);
    expect(await dir.isReviewer('U3', ['U1', 'U2'])).toBe(false);
    expect(fake.calls).toEqual([]);
  });

  it('accepts a member of a listed user group, read through usergroups.users.list', async () => {
    fake.userGroups.set('S1', ['U2', 'U3']);
    const { dir } = directory();
    expect(await dir.isReviewer('U3', ['U1', 'S1'])).toBe(true);
    expect(groupCalls().map((c) => c.args.usergroup)).toEqual(['S1']);
  });

  it('accepts a member of any of several groups and refuses everyone else', async () => {
    fake.userGroups.set('S1', ['U2']);
    fake.userGroups.set('S2', ['U5']);
    const { dir } = directory();
    expect(await dir.isReviewer('U5', ['S1', 'S2'])).toBe(true);
    expect(await dir.isReviewer('U9', ['S1', 'S2'])).toBe(false);
  });

  it('answers a second check from the cache without calling Slack again', async () => {
    fake.userGroups.set('S1', ['U2', 'U3']);
    const { dir, clock } = directory();
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    clock.t += 1_000;
    expect(await dir.isReviewer('U3', ['S1'])).toBe(true);
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    expect(groupCalls()).toHaveLength(1);
  });

  it('finds someone added to the group after caching on a miss, but refreshes at most every minRefreshMs', async () => {
    fake.userGroups.set('S1', ['U2']);
    const { dir, clock } = directory({ minRefreshMs: 5_000 });
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    fake.userGroups.set('S1', ['U2', 'U9']);

    clock.t += 1_000; // a miss soon after the last read does not ask again
    expect(await dir.isReviewer('U9', ['S1'])).toBe(false);
    expect(await dir.isReviewer('U8', ['S1'])).toBe(false);
    expect(groupCalls()).toHaveLength(1);

    clock.t += 5_000; // later, a miss refreshes and finds the newcomer
    expect(await dir.isReviewer('U9', ['S1'])).toBe(true);
    expect(groupCalls()).toHaveLength(2);

    clock.t += 1_000; // and the next misses wait again
    expect(await dir.isReviewer('U8', ['S1'])).toBe(false);
    expect(await dir.isReviewer('U7', ['S1'])).toBe(false);
    expect(groupCalls()).toHaveLength(2);
  });

  it('stops trusting a cached member once the TTL has passed (someone removed from the group)', async () => {
    fake.userGroups.set('S1', ['U2']);
    const { dir, clock } = directory({ ttlMs: 60_000 });
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    fake.userGroups.set('S1', []);
    clock.t += 30_000;
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true); // still within the TTL
    clock.t += 31_000;
    expect(await dir.isReviewer('U2', ['S1'])).toBe(false);
    expect(groupCalls()).toHaveLength(2);
  });

  it('grants nobody through an unknown group and reports the error through onError', async () => {
    const errors: Array<{ group: string; code?: string }> = [];
    const { dir } = directory({ onError: (group, err) => errors.push({ group, code: slackErrorCode(err) }) });
    expect(await dir.isReviewer('U2', ['S404'])).toBe(false);
    expect(errors).toEqual([{ group: 'S404', code: 'no_such_subteam' }]);
  });

  it('still accepts direct reviewers and other groups when one group cannot be read', async () => {
    fake.userGroups.set('S1', ['U2']);
    const { dir } = directory({ onError: () => undefined });
    expect(await dir.isReviewer('U2', ['S404', 'S1'])).toBe(true);
    expect(await dir.isReviewer('U1', ['S404', 'U1'])).toBe(true);
  });

  it('does not ask Slack about a failing group more often than minRefreshMs', async () => {
    const errors: string[] = [];
    const { dir, clock } = directory({ minRefreshMs: 5_000, onError: (group) => errors.push(group) });
    for (let i = 0; i < 5; i++) expect(await dir.isReviewer(`U${i}`, ['S404'])).toBe(false);
    expect(groupCalls()).toHaveLength(1);
    expect(errors).toEqual(['S404']);

    // Once the group exists (or Slack recovers), a later miss reads it.
    fake.userGroups.set('S404', ['U2']);
    clock.t += 5_000;
    expect(await dir.isReviewer('U2', ['S404'])).toBe(true);
    expect(groupCalls()).toHaveLength(2);
  });

  it('keeps the last known members when a refresh fails', async () => {
    fake.userGroups.set('S1', ['U2']);
    const errors: Array<string | undefined> = [];
    const { dir, clock } = directory({ onError: (_g, err) => errors.push(slackErrorCode(err)) });
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    clock.t += 10_000;
    fake.failNext('usergroups.users.list', 'ratelimited');
    expect(await dir.isReviewer('U9', ['S1'])).toBe(false); // miss → refresh fails
    expect(errors).toEqual(['ratelimited']);
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true); // the cached member still counts within the TTL
  });

  it('stops granting through a deleted group once the TTL has passed, although Slack keeps failing', async () => {
    fake.userGroups.set('S1', ['U2']);
    const { dir, clock } = directory({ ttlMs: 60_000, onError: () => undefined });
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    fake.userGroups.delete('S1'); // now no_such_subteam
    clock.t += 61_000;
    expect(await dir.isReviewer('U2', ['S1'])).toBe(false);
    clock.t += 10_000;
    expect(await dir.isReviewer('U2', ['S1'])).toBe(false);
  });

  it('shares one usergroups.users.list request between simultaneous checks', async () => {
    fake.userGroups.set('S1', ['U2', 'U3', 'U4']);
    const { dir } = directory();
    const answers = await Promise.all(['U2', 'U3', 'U4', 'U9'].map((u) => dir.isReviewer(u, ['S1'])));
    expect(answers).toEqual([true, true, true, false]);
    expect(groupCalls()).toHaveLength(1);
  });

  it('fresh: reads the group now, whatever the cache holds, and sees a member just removed', async () => {
    fake.userGroups.set('S1', ['U2', 'U3']);
    const { dir } = directory();
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true); // cached for 60 s
    fake.userGroups.set('S1', ['U3']);
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true); // the cache still says so: a hint only
    expect(await dir.isReviewer('U2', ['S1'], { fresh: true })).toBe(false);
    expect(groupCalls()).toHaveLength(2);
    expect(await dir.isReviewer('U2', ['S1'])).toBe(false); // the fresh read refreshed the cache
  });

  it('stillReviewers: one fresh read per group for all the approvers; listed users need no read', async () => {
    fake.userGroups.set('S1', ['U2']);
    fake.userGroups.set('S2', ['U3']);
    const { dir } = directory();
    expect(await dir.stillReviewers(['U1', 'U2', 'U3', 'U9'], ['U1', 'S1', 'S2'])).toEqual(['U1', 'U2', 'U3']);
    expect(groupCalls()).toHaveLength(2);
    expect(await dir.stillReviewers(['U1'], ['U1'])).toEqual(['U1']);
    expect(groupCalls()).toHaveLength(2);
  });

  it('fresh: simultaneous checks at the quorum share one read', async () => {
    fake.userGroups.set('S1', ['U2', 'U3']);
    const { dir } = directory();
    const answers = await Promise.all([
      dir.stillReviewers(['U2', 'U9'], ['S1']),
      dir.stillReviewers(['U3'], ['S1']),
      dir.isReviewer('U2', ['S1'], { fresh: true }),
    ]);
    expect(answers).toEqual([['U2'], ['U3'], true]);
    expect(groupCalls()).toHaveLength(1);
  });

  it('fresh: a group that cannot be read fails the check instead of trusting the cache', async () => {
    fake.userGroups.set('S1', ['U2']);
    const { dir } = directory();
    expect(await dir.isReviewer('U2', ['S1'])).toBe(true);
    fake.failNext('usergroups.users.list', 'ratelimited');
    await expect(dir.stillReviewers(['U2'], ['S1'])).rejects.toThrow(/reading the members of user group S1/);
  });

  it('members: listed users, then the members of each group, each once; a group read once while fresh', async () => {
    fake.userGroups.set('S1', ['U2', 'U1']);
    fake.userGroups.set('S2', ['U3']);
    const { dir, clock } = directory();
    expect(await dir.members(['U1', 'S1', 'S2'])).toEqual(['U1', 'U2', 'U3']);
    expect(await dir.members(['S1'])).toEqual(['U2', 'U1']);
    expect(groupCalls()).toHaveLength(2);
    fake.userGroups.set('S1', ['U4']);
    clock.t += 61_000; // past the TTL: read again
    expect(await dir.members(['S1'])).toEqual(['U4']);
    expect(groupCalls()).toHaveLength(3);
  });

  it('members: a group that cannot be read adds nobody, never throws, and is not asked again before minRefresh', async () => {
    const { dir, clock } = directory();
    expect(await dir.members(['U1', 'S404'])).toEqual(['U1']);
    expect(await dir.members(['S404'])).toEqual([]);
    expect(groupCalls()).toHaveLength(1);
    clock.t += 5_000;
    fake.userGroups.set('S404', ['U5']);
    expect(await dir.members(['S404'])).toEqual(['U5']);
  });
});
