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
  /** What one stack of a multi-stack stage ran just before its execution started. */
  stackSnapshot: (promotionId: string, stack: string) => `snapshot:${promotionId}:${stack}`,
} as const;
