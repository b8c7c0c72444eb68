// Every key the workflows keep in the store, in one place. The store adds its own namespace (prefix and
// kind) in front of these; see the key layout in redis-store.ts.

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
