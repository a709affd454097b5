import { StoreUnavailable } from "../errors.ts";

/**
 * What a PostgreSQL failure means for the stores: the server is away or did not answer in time (try
 * again later, keep the records), or it refused this particular data (it would refuse it again).
 */

/**
 * PostgreSQL is not reachable, restarting, out of resources, or did not answer within the deadline.
 * `code` is safe to publish (`GET /health` shows it): Bun's `ERR_POSTGRES_…` code, `PG_<SQLSTATE>`
 * for a server error, or `PG_DEADLINE`.
 */
export class PostgresUnavailable extends StoreUnavailable {
  override readonly name = "PostgresUnavailable";
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * SQLSTATE classes and codes that describe the server or the connection, not the statement: the same
 * statement may well succeed later. 08 connection exception, 53 insufficient resources (disk full, too
 * many connections), 58 system error, 57P0x shutdown / crash / starting up, 57014 cancelled (our
 * deadline), 40001 / 40P01 serialization failure / deadlock, 25006 read-only (a standby during failover),
 * 55P03 lock not available.
 */
const TRANSIENT_CLASSES = new Set(["08", "53", "58"]);
const TRANSIENT_CODES = new Set(["57P01", "57P02", "57P03", "57014", "40001", "40P01", "25006", "55P03"]);

/** Bun's own codes for a statement it could not even send (bad parameters): the data, not the server. */
const CLIENT_DATA_CODES = new Set([
  "ERR_POSTGRES_INVALID_BINARY_DATA",
  "ERR_POSTGRES_INVALID_BYTE_SEQUENCE",
  "ERR_POSTGRES_INVALID_QUERY_BINDING",
  "ERR_POSTGRES_UNKNOWN_FORMAT_CODE",
]);

const codeOf = (error: unknown) => (error instanceof Error ? (error as { code?: unknown }).code : undefined);
const sqlState = (error: unknown) => {
  const errno = error instanceof Error ? (error as { errno?: unknown }).errno : undefined;
  return typeof errno === "string" && /^[0-9A-Z]{5}$/.test(errno) ? errno : null;
};

/**
 * Whether `error` says PostgreSQL is away or overloaded (retry later) rather than refusing the data
 * (a constraint, a value it cannot store), which would fail the same way again.
 *
 * @example
 * try { await insert(batch); } catch (error) { if (isUnavailable(error)) holdForRetry(batch); else writeOneByOne(batch); }
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof PostgresUnavailable) return true;
  const state = sqlState(error);
  if (state) return TRANSIENT_CLASSES.has(state.slice(0, 2)) || TRANSIENT_CODES.has(state);
  const code = codeOf(error);
  // Every other client-side failure (connection refused, closed, TLS, authentication, timeouts) is the connection's.
  return typeof code === "string" && code.startsWith("ERR_POSTGRES_") && code !== "ERR_POSTGRES_SERVER_ERROR" && !CLIENT_DATA_CODES.has(code);
}

/**
 * `error` as a {@link PostgresUnavailable} when it is one (see {@link isUnavailable}), with a code that
 * names it; otherwise `error` itself.
 */
export function classify(error: unknown, during: string): unknown {
  if (error instanceof PostgresUnavailable || !isUnavailable(error)) return error;
  const state = sqlState(error);
  const code = state ? `PG_${state}` : String(codeOf(error));
  return new PostgresUnavailable(`PostgreSQL failed ${during} (${code})`, code, { cause: error });
}

/** A query that can be told to stop: Bun's `SQL.Query`. */
interface Cancellable {
  cancel(): unknown;
}

/**
 * Waits for `work` at most `ms`, then rejects with {@link PostgresUnavailable} (`PG_DEADLINE`) and asks
 * the query, if it is one, to stop. A failure of `work` that arrives after the deadline is swallowed.
 * Errors that mean "unavailable" are rethrown as {@link PostgresUnavailable} (see {@link classify}).
 *
 * @example
 * const rows = await deadline(sql`SELECT 1`, 250, "checking the connection");
 */
export function deadline<T>(work: PromiseLike<T>, ms: number, during: string): Promise<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const timer = setTimeout(() => {
    reject(new PostgresUnavailable(`PostgreSQL did not finish ${during} within ${ms} ms`, "PG_DEADLINE"));
    const cancel = (work as Partial<Cancellable>).cancel;
    if (typeof cancel === "function") {
      try {
        cancel.call(work);
      } catch {
        // Already settled or never started: nothing to stop.
      }
    }
  }, ms);
  Promise.resolve(work).then(
    (value) => {
      clearTimeout(timer);
      resolve(value);
    },
    (error: unknown) => {
      clearTimeout(timer);
      reject(classify(error, during));
    },
  );
  return promise;
}
