import type { CacheEntry } from "../cache.ts";
import type { Flight, FlightStore, Following, Leading } from "../flights.ts";

/**
 * The default flight store: coalescing within this process. Followers get the leader's entry object
 * itself, so `read` is never called. Also what the Redis flight store falls back to while Redis is away.
 *
 * @example
 * const flights = new MemoryFlightStore();
 * const flight = await flights.join(key, read);
 */
export class MemoryFlightStore implements FlightStore {
  readonly #inFlight = new Map<string, Promise<CacheEntry | null>>();

  follow(key: string): Promise<Following | null> {
    const landed = this.#inFlight.get(key);
    return Promise.resolve(landed ? { leader: false, landed } : null);
  }

  join(key: string): Promise<Flight> {
    const landed = this.#inFlight.get(key);
    return Promise.resolve(landed ? { leader: false, landed } : this.lead(key));
  }

  /** Starts the flight for `key` unconditionally (synchronously: no other join can slip in). */
  lead(key: string): Leading {
    const { promise, resolve } = Promise.withResolvers<CacheEntry | null>();
    this.#inFlight.set(key, promise);
    let landed = false;
    const land = (entry: CacheEntry | null) => {
      if (landed) return;
      landed = true;
      if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
      resolve(entry);
    };
    return { leader: true, land };
  }

  /** Flights not landed yet (for tests and health output). */
  get size(): number {
    return this.#inFlight.size;
  }
}
