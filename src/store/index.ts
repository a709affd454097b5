import type { ResolvedConfig } from "../config/defaults.ts";
import type { Logger, Stores } from "../pipeline/types.ts";
import { openDatabase } from "./sqlite/db.ts";
import { SqliteLogStore } from "./sqlite/logs.ts";

export interface OpenStores {
  stores: Stores;
  /** Flushes and closes every store, then the database. */
  close(): Promise<void>;
}

/**
 * Opens the storage the config names. Today that is one SQLite file shared by every store;
 * a scale-out backend replaces entries here and nowhere else.
 */
export function openStores(config: ResolvedConfig, logger: Logger): OpenStores {
  const db = openDatabase(config.storage.sqlite);
  const logs = new SqliteLogStore(db, { logger, retention: (id) => config.gateways.get(id)?.logs, closeDatabase: false });
  logs.pruneAll(config.gateways.keys());
  const stores: Stores = { logs };
  return {
    stores,
    async close() {
      await logs.close();
      db.close();
    },
  };
}
