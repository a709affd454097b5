/**
 * A shared store (Redis, PostgreSQL) could not be asked: it is away, restarting, or did not answer
 * within `storage.timeout`. Stores throw a subclass of it (`RedisUnavailable`, `PostgresUnavailable`)
 * where they have no outage policy of their own (admin lists, reads), and the HTTP layer turns it into
 * 503 / 2118 with `Retry-After: 1` instead of a 500.
 */
export class StoreUnavailable extends Error {
  override readonly name: string = "StoreUnavailable";
}
