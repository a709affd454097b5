import type { CacheEntry } from "switchboard";

/** Ends a flight: the stored entry for the followers, or null when the leader's answer was not cached. */
export type Land = (entry: CacheEntry | null) => void;

/**
 * Request coalescing, in process: the first miss for a key (the leader) goes upstream; identical
 * misses arriving meanwhile (followers) wait for its flight to land instead of calling the provider.
 * A flight lands with the entry the leader stored, or with null when its answer was not cacheable
 * (non-2xx, error, too large, client gone), and then followers go upstream on their own.
 *
 * @example
 * const waiting = flights.follow(key);
 * if (waiting) return (await waiting) ?? next();
 * const land = flights.lead(key); // exactly one leader per key at a time
 */
export class Flights {
  readonly #inFlight = new Map<string, Promise<CacheEntry | null>>();

  /** The flight to wait for, when a leader is already upstream for `key`. */
  follow(key: string): Promise<CacheEntry | null> | undefined {
    return this.#inFlight.get(key);
  }

  /** Starts the flight for `key`. Landing twice is harmless: only the first call counts. */
  lead(key: string): Land {
    const { promise, resolve } = Promise.withResolvers<CacheEntry | null>();
    this.#inFlight.set(key, promise);
    let landed = false;
    return (entry) => {
      if (landed) return;
      landed = true;
      if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
      resolve(entry);
    };
  }

  /** Flights not landed yet (for tests and health output). */
  get size(): number {
    return this.#inFlight.size;
  }
}
