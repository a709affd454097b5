/**
 * SQLite result codes that describe the storage, not the data being written: the same write may well
 * succeed later (space freed, the lock released, the volume back). Extended codes (`SQLITE_IOERR_WRITE`)
 * count as their base code.
 */
const STORAGE_CODES = new Set(["SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_NOMEM", "SQLITE_PROTOCOL"]);

/**
 * Whether `error` is a storage fault worth retrying (disk full, I/O error, busy), rather than a record
 * the database refuses (a constraint, a type mismatch), which would fail again.
 *
 * @example
 * try { insert(rows); } catch (error) { if (isStorageFault(error)) holdForRetry(rows); else drop(rows); }
 */
export function isStorageFault(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && STORAGE_CODES.has(code.split("_").slice(0, 2).join("_"));
}
