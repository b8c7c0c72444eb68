// Every key the workflows keep in the store, in one place. The store adds its own namespace (prefix and
// kind) in front of these; see the key layout in redis-store.ts.
//
// Redis Cluster hash tags (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags):
// a Lua script or MULTI may only touch keys of one hash slot, and a key's slot comes from the text inside its
// first `{…}` when there is one, else from the whole key. The rule:
// 1. Every Store method takes one key from here and touches only that key (plus the store's own `{ops}`
//    keys, which it tags itself). Such keys need no tag: put no `{` or `}` in them (nor in IDs or names
//    built into them).
// 2. A new Store method whose script or MULTI touches several keys from here gives all of them one common
//    tag, the narrowest that holds them all: the operation (`…:{<promotionId>}`), or the stage
//    (`…:{<service>/<stage>}`) for a stage's lock and what is changed under it. Keys used together across
//    operations need a tag they share (the stage, say); when atomicity is not needed, split the call into
//    single-key ones instead.
// 3. Call the new method in test/store/slots.test.ts, which checks that each script and MULTI the Redis store
//    sends stays in one slot; the store contract also runs on a real Cluster (redis-cluster-store.test.ts).

export const KEYS = {
  /** One operation at a time per target stack: `lock:<account>/<region>/<stack>` (a lock holder JSON). */
  lockPrefix: 'lock:',
  lock: (account: string | undefined, region: string, stack: string) =>
    `lock:${account ?? 'default'}/${region}/${stack}`,
  /** A stage held after a rollback until someone unholds it. */
  hold: (service: string, stage: string) => `hold:${service}/${stage}`,
  /** The replica following an execution. */
  lease: (promotionId: string) => `lease:exec:${promotionId}`,
  /** Releases of a stage, newest first (capped list). */
  releases: (service: string, stage: string) => `releases:${service}/${stage}`,
  /** The newest version of an operation its channel summary shows. */
  summaryShown: (promotionId: string) => `summary-shown:${promotionId}`,
  /** When the final reply of an operation was first sent (to find it after a crash mid-post). */
  finalAttempt: (promotionId: string) => `final-attempt:${promotionId}`,
  /** What a stage ran just before an execution started. */
  snapshot: (promotionId: string) => `snapshot:${promotionId}`,
  /**
   * A reviewer was (or is being) sent a direct message about an operation: set NX before the message is sent,
   * so no replica sends it twice (at most once).
   */
  reviewerDm: (promotionId: string, user: string) => `dm:${promotionId}/${user}`,
  /** Every reviewer of an operation has been considered for a direct message (the sweeper need not look again). */
  reviewersTold: (promotionId: string) => `dm-done:${promotionId}`,
  /** One person's choices in the bot's App Home (e.g. no direct messages), a UserPrefs JSON. */
  userPrefs: (user: string) => `prefs:${user}`,
  /** Request budget of CloudFormation in one account and region (a token bucket, src/budgets.ts). */
  awsBudget: (account: string | undefined, region: string) => `budget:cloudformation:${account ?? 'default'}/${region}`,
  /** Request budget of one Slack Web API method, workspace-wide (`scope` omitted) or for one channel. */
  slackBudget: (method: string, scope?: string) => `budget:slack:${method}${scope ? `:${scope}` : ''}`,
  /** What one stack of a multi-stack stage ran just before its execution started. */
  stackSnapshot: (promotionId: string, stack: string) => `snapshot:${promotionId}:${stack}`,
} as const;
