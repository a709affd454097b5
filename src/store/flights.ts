import type { CacheEntry } from "./cache.ts";

/**
 * Request coalescing for the cache: the first miss for a key (the leader) goes upstream; identical
 * misses arriving meanwhile (followers) wait for its flight to land instead of calling the provider.
 * A flight lands with the entry the leader stored, or with null when its answer was not cacheable
 * (non-2xx, error, too large, client gone), and then followers go upstream on their own.
 *
 * In process by default; with Redis, leadership is shared, so identical misses on every replica make
 * one upstream call. A follower on another replica cannot be handed the leader's entry: it gets it by
 * reading the shared cache with the `read` the caller passes (the cache plugin's own, clock included).
 *
 * @example
 * const waiting = await flights.follow(key, read);   // only when an identical request is already upstream
 * if (waiting) return (await waiting.landed) ?? next();
 * const flight = await flights.join(key, read);      // exactly one leader per key at a time
 * if (!flight.leader) return (await flight.landed) ?? next();
 * flight.land(await storeAnswer());                  // always land, stored or not
 */
export interface FlightStore {
  /** The flight to wait for when an identical request is upstream already; null when none is (this never leads). */
  follow(key: string, read: ReadEntry): Promise<Following | null>;
  /** Leads the flight for `key`, or follows it when an identical request (on any replica) leads already. */
  join(key: string, read: ReadEntry): Promise<Flight>;
}

/** Reads the cache entry the leader stored under `key` (null when there is none, or it cannot be read). */
export type ReadEntry = (key: string) => Promise<CacheEntry | null>;

/** Ends a flight: the stored entry for the followers, or null when the leader's answer was not cached. Only the first call counts. */
export type Land = (entry: CacheEntry | null) => void;

/** Waiting on another request's flight: resolves with what it stored, or null (then go upstream yourself). Never rejects. */
export interface Following {
  leader: false;
  landed: Promise<CacheEntry | null>;
}

/** This request leads: it must `land` exactly once, whatever happens to its answer. */
export interface Leading {
  leader: true;
  land: Land;
}

export type Flight = Following | Leading;
