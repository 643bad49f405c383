/**
 * A bounded queue between two pools of async loops: producers wait when it is full, consumers
 * when it is empty. What sits in it between the check and the render stays small and bounded
 * however large the job.
 */
export interface Channel<T> {
  /** Resolves once the item is queued; `false` if the channel was closed meanwhile (item dropped). */
  push(item: T): Promise<boolean>;
  /** The next item, or `undefined` once the channel is closed and drained (or dropped). */
  pull(): Promise<T | undefined>;
  /** No more pushes; consumers drain what is queued. */
  close(): void;
  /** Close and forget what is queued: waiting producers and consumers are released. */
  drop(): void;
  readonly size: number;
}

export function createChannel<T>(capacity: number): Channel<T> {
  const items: T[] = [];
  const consumers: ((item: T | undefined) => void)[] = [];
  const producers: { item: T; resolve: (queued: boolean) => void }[] = [];
  let closed = false;

  const admit = () => {
    while (items.length < capacity && producers.length > 0) {
      const producer = producers.shift()!;
      items.push(producer.item);
      producer.resolve(true);
    }
  };

  return {
    get size() {
      return items.length;
    },
    push(item) {
      if (closed) return Promise.resolve(false);
      const consumer = consumers.shift();
      if (consumer) {
        consumer(item);
        return Promise.resolve(true);
      }
      if (items.length < capacity) {
        items.push(item);
        return Promise.resolve(true);
      }
      return new Promise((resolve) => producers.push({ item, resolve }));
    },
    pull() {
      if (items.length > 0) {
        const item = items.shift()!;
        admit();
        return Promise.resolve(item);
      }
      if (closed) return Promise.resolve(undefined);
      return new Promise((resolve) => consumers.push(resolve));
    },
    close() {
      closed = true;
      if (items.length === 0) for (const consumer of consumers.splice(0)) consumer(undefined);
    },
    drop() {
      closed = true;
      items.length = 0;
      for (const producer of producers.splice(0)) producer.resolve(false);
      for (const consumer of consumers.splice(0)) consumer(undefined);
    },
  };
}
