import { describe } from "bun:test";
import { MemoryVectorIndex } from "../../src/store/memory/vectors.ts";
import { RedisVectorIndex } from "../../src/store/redis/vectors.ts";
import { openDatabase } from "../../src/store/sqlite/db.ts";
import { SqliteVectorIndex } from "../../src/store/sqlite/vectors.ts";
import type { VectorIndex } from "../../src/store/vectors.ts";
import { redisServer } from "../support/engines.ts";
import { freshNamespace, replicaConnection } from "./cache-store-fixture.ts";
import { vectorIndexContract } from "./vector-index-contract.ts";

const redis = await redisServer();

describe("MemoryVectorIndex", () => {
  vectorIndexContract(async (options) => ({ index: new MemoryVectorIndex(options), [Symbol.asyncDispose]: async () => {} }));
});

describe("SqliteVectorIndex", () => {
  vectorIndexContract(async (options) => {
    const index = new SqliteVectorIndex(openDatabase(":memory:"), options);
    return { index, [Symbol.asyncDispose]: async () => index.close() };
  });
});

describe.skipIf(!redis)("RedisVectorIndex", () => {
  vectorIndexContract(async (options) => {
    const connection = await replicaConnection(redis!);
    return { index: new RedisVectorIndex(connection, { ...options, namespace: freshNamespace("vectors") }), [Symbol.asyncDispose]: async () => connection.close() };
  });
});

/** One index as two replicas see it: every write goes to `writer`, every search to `reader`; each purges (as each replica's cache plugin does). */
function split(writer: VectorIndex, reader: VectorIndex): VectorIndex {
  return {
    add: (partition, key, vector, expiresAt) => writer.add(partition, key, vector, expiresAt),
    delete: (partition, key) => writer.delete(partition, key),
    nearest: (partition, vector, now) => reader.nearest(partition, vector, now),
    purgeExpired: async (now) => (await writer.purgeExpired(now)) + (await reader.purgeExpired(now)),
  };
}

describe.skipIf(!redis)("RedisVectorIndex, written by one replica and searched by another", () => {
  vectorIndexContract(async (options) => {
    const a = await replicaConnection(redis!);
    const b = await replicaConnection(redis!);
    const namespace = freshNamespace("split-vectors");
    const index = split(new RedisVectorIndex(a, { ...options, namespace }), new RedisVectorIndex(b, { ...options, namespace }));
    return {
      index,
      [Symbol.asyncDispose]: async () => {
        a.close();
        b.close();
      },
    };
  });
});
