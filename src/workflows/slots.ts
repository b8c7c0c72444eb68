// A fixed number of slots for jobs of one kind: at most `limit` run at once, the others wait their turn in the
// order they came. Planning takes a slot: each plan is a dozen AWS calls whose SDK work (signing, XML parsing)
// is CPU on this process's one event loop, so a burst of hundreds of plans at once would hold every ack and
// every other operation behind it (bench row 1, "ack under load"); in slots they take turns instead.

export interface Slots {
  /** Runs `job` when a slot is free; resolves or rejects as the job does. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** jobs running now, and jobs waiting for a slot */
  readonly running: number;
  readonly waiting: number;
}

export function createSlots(limit: number): Slots {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`slots: limit must be a whole number ≥ 1, got ${limit}`);
  let running = 0;
  const queue: Array<() => void> = [];
  const release = () => {
    running--;
    const next = queue.shift();
    if (next) {
      running++;
      next();
    }
  };
  return {
    run<T>(job: () => Promise<T>): Promise<T> {
      const start = () => {
        try {
          return job().finally(release);
        } catch (err) {
          release();
          return Promise.reject(err);
        }
      };
      if (running < limit) {
        running++;
        return start();
      }
      return new Promise<T>((resolve, reject) => {
        queue.push(() => void start().then(resolve, reject));
      });
    },
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
  };
}
