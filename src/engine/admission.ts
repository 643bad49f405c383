/**
 * Bounded admission: at most `limit` requests in the handler, at most `queue` waiting for a turn,
 * and a refusal past that — so a burst costs a fast 503, never memory that grows with the burst.
 */
export interface Admission {
  /** A turn (resolve → release()), or undefined when the queue is full. `cancelled` drops a waiting entry. */
  enter(cancelled?: AbortSignal): Promise<(() => void) | undefined> | undefined;
  readonly active: number;
  readonly waiting: number;
  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void>;
}

export function createAdmission(limit: number, queue: number): Admission {
  let active = 0;
  const waiting: { start: (release: (() => void) | undefined) => void }[] = [];
  let idleWaiters: (() => void)[] = [];

  const notifyIdle = () => {
    if (active > 0 || waiting.length > 0) return;
    const done = idleWaiters;
    idleWaiters = [];
    for (const resolve of done) resolve();
  };

  const release = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) next.start(release());
      else {
        active--;
        notifyIdle();
      }
    };
  };

  return {
    enter(cancelled) {
      if (active < limit) {
        active++;
        return Promise.resolve(release());
      }
      if (waiting.length >= queue) return undefined;
      return new Promise((resolve) => {
        const entry = { start: resolve };
        waiting.push(entry);
        // A client that gave up while waiting frees its place instead of costing a render.
        cancelled?.addEventListener(
          'abort',
          () => {
            const at = waiting.indexOf(entry);
            if (at < 0) return;
            waiting.splice(at, 1);
            resolve(undefined);
            notifyIdle();
          },
          { once: true },
        );
      });
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiting.length;
    },
    idle() {
      return active === 0 && waiting.length === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
