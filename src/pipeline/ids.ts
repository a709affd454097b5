import { monotonicFactory } from "ulid";

/**
 * Log ids: ULIDs, monotonic within a millisecond so they sort in arrival order. The `ulid`
 * package's default PRNG allocates and calls getRandomValues for every character (it measured as
 * a fifth of the gateway's CPU at load), so randomness is drawn from a crypto pool refilled in bulk.
 */
const pool = new Uint8Array(4096);
let next = pool.length;

function pooledRandom(): number {
  if (next === pool.length) {
    crypto.getRandomValues(pool);
    next = 0;
  }
  return pool[next++] / 256;
}

export const newLogId: () => string = monotonicFactory(pooledRandom);
