import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ErrorCode, GatewayError } from "../../src/pipeline/errors.ts";
import { GatewayHealth } from "../../src/server/health.ts";
import { openPostgres, type PostgresDatabase } from "../../src/store/postgres/db.ts";
import { PostgresTokenStore } from "../../src/store/postgres/tokens.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteTokenStore } from "../../src/store/sqlite/tokens.ts";
import type { TokenStore } from "../../src/store/tokens.ts";
import { memoryLogger, tempDir } from "../logs/records.ts";
import { postgres } from "../support/engines.ts";
import { tokenStoreContract, type OpenedTokenStore } from "./token-store-contract.ts";

const pg = await postgres();
/** One database for this file, emptied before each store opens (tests in a file run one at a time). */
const url = pg ? await pg.database() : null;

describe("SqliteTokenStore", () => {
  tokenStoreContract(async () => {
    const dir = tempDir();
    const file = join(dir.path, "tokens.db");
    const db = openDatabase(file);
    return {
      store: new SqliteTokenStore(db),
      async storedHashes() {
        const peek = new Database(file, { readonly: true });
        try {
          return peek.query<{ hash: string }, []>("SELECT hash FROM gateway_tokens").all().map((row) => row.hash);
        } finally {
          peek.close();
        }
      },
      async [Symbol.asyncDispose]() {
        db.close();
        dir[Symbol.dispose]();
      },
    };
  });
});

async function openPg(): Promise<PostgresDatabase> {
  const db = await openPostgres(url!);
  await db.sql`TRUNCATE gateway_tokens`;
  return db;
}

async function hashesIn(db: PostgresDatabase): Promise<string[]> {
  return (await db.sql<{ hash: string }[]>`SELECT hash FROM gateway_tokens`).map((row) => row.hash);
}

describe.skipIf(!pg)("PostgresTokenStore", () => {
  tokenStoreContract(async () => {
    const db = await openPg();
    return { store: new PostgresTokenStore(db), storedHashes: () => hashesIn(db), [Symbol.asyncDispose]: () => db.close() };
  });
});

/** Two replicas' stores: tokens are made and revoked through `writer`, checked and listed through `reader`. */
function split(writer: TokenStore, reader: TokenStore): TokenStore {
  return {
    create: (input) => writer.create(input),
    revoke: (id, gatewayId) => writer.revoke(id, gatewayId),
    list: (gatewayId) => reader.list(gatewayId),
    verify: (gatewayId, secret, now) => reader.verify(gatewayId, secret, now),
  };
}

describe.skipIf(!pg)("PostgresTokenStore, made on one replica and checked on another", () => {
  tokenStoreContract(async () => {
    const a = await openPg();
    const b = await openPostgres(url!);
    return {
      store: split(new PostgresTokenStore(a), new PostgresTokenStore(b)),
      storedHashes: () => hashesIn(b),
      [Symbol.asyncDispose]: async () => {
        await a.close();
        await b.close();
      },
    };
  });
});

describe.skipIf(!pg)("PostgresTokenStore when PostgreSQL is away", () => {
  test("verify refuses with 503 StorageUnavailable within storage.timeout, reports the fault, and works again once PostgreSQL is back", async () => {
    const logger = memoryLogger();
    const health = new GatewayHealth(logger, { settleMs: 0 });
    const db = await openPostgres(url!, { timeoutMs: 300 });
    const store = new PostgresTokenStore(db, { health });
    let stopped = false;
    try {
      const { token, info } = await store.create({ gatewayId: "prod" });
      await pg!.stop();
      stopped = true;
      const started = performance.now();
      let refused: unknown;
      try {
        await store.verify("prod", token);
      } catch (error) {
        refused = error;
      }
      expect(performance.now() - started).toBeLessThan(2000);
      expect(refused).toBeInstanceOf(GatewayError);
      expect(refused).toMatchObject({ status: 503, code: ErrorCode.StorageUnavailable });
      expect(health.snapshot().faults.map((fault) => fault.component)).toEqual(["tokens"]);
      await pg!.start();
      stopped = false;
      expect(await store.verify("prod", token)).toEqual(info);
      expect(health.snapshot().faults).toEqual([]);
    } finally {
      if (stopped) await pg!.start();
      await db.close();
    }
  });
});
