import { expect, test } from "bun:test";
import type { VectorIndex } from "../../src/store/vectors.ts";

/**
 * The `VectorIndex` contract, run by `vector-index.test.ts` against every engine. Expiry times are
 * real epoch ms (a networked index may hand expiry to its server); `now` is passed to move past them.
 */

/** An index under test; `maxPerPartition` is the bound the eviction tests set. */
export interface OpenedVectorIndex extends AsyncDisposable {
  index: VectorIndex;
}

export type OpenVectorIndex = (options?: { maxPerPartition?: number }) => Promise<OpenedVectorIndex>;

/** A Float32Array of the given components. */
export const v = (...xs: number[]) => Float32Array.from(xs);

const HOUR = 3_600_000;

export function vectorIndexContract(open: OpenVectorIndex): void {
  test("nearest is the most similar vector of the partition, with its cosine similarity; raw embeddings are normalised", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("p", "x-axis", v(10, 0, 0), t + HOUR);
    await opened.index.add("p", "diagonal", v(1, 1, 0), t + HOUR);
    await opened.index.add("p", "z-axis", v(0, 0, 0.5), t + HOUR);
    expect(await opened.index.nearest("p", v(3, 0.1, 0), t)).toEqual({ key: "x-axis", similarity: expect.closeTo(3 / Math.hypot(3, 0.1), 5) });
    expect(await opened.index.nearest("p", v(2, 2, 0), t)).toEqual({ key: "diagonal", similarity: expect.closeTo(1, 5) });
    // The most similar, not the largest in magnitude: the opposite diagonal is -1, the z axis 0.
    expect(await opened.index.nearest("p", v(-1, -1, 0), t)).toEqual({ key: "z-axis", similarity: expect.closeTo(0, 5) });
  });

  test("partitions never share vectors; an unknown partition has no nearest", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("gw:a", "only-in-a", v(1, 0), t + HOUR);
    await opened.index.add("gw:b", "only-in-b", v(0, 1), t + HOUR);
    expect(await opened.index.nearest("gw:a", v(0, 1), t)).toEqual({ key: "only-in-a", similarity: expect.closeTo(0, 5) });
    expect(await opened.index.nearest("gw:b", v(0, 1), t)).toEqual({ key: "only-in-b", similarity: expect.closeTo(1, 5) });
    expect(await opened.index.nearest("gw:nowhere", v(0, 1), t)).toBeNull();
  });

  test("adding a key again replaces its vector and its expiry", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("p", "k", v(1, 0), t + 1_000);
    await opened.index.add("p", "other", v(1, 1), t + HOUR);
    await opened.index.add("p", "k", v(0, 1), t + HOUR);
    expect(await opened.index.nearest("p", v(1, 0), t + 2_000)).toEqual({ key: "other", similarity: expect.closeTo(Math.SQRT1_2, 5) });
    expect(await opened.index.nearest("p", v(0, 1), t + 2_000)).toEqual({ key: "k", similarity: expect.closeTo(1, 5) });
  });

  test("a vector is found until just before expiresAt and never at or after it", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("p", "short", v(1, 0), t + 1_000);
    await opened.index.add("p", "long", v(0, 1), t + HOUR);
    expect(await opened.index.nearest("p", v(1, 0), t + 999)).toEqual({ key: "short", similarity: expect.closeTo(1, 5) });
    expect(await opened.index.nearest("p", v(1, 0), t + 1_000)).toEqual({ key: "long", similarity: expect.closeTo(0, 5) });
    expect(await opened.index.nearest("p", v(1, 0), t + HOUR)).toBeNull();
  });

  test("delete resolves true once, then false, and the vector is never found again", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("p", "gone", v(1, 0), t + HOUR);
    await opened.index.add("p", "kept", v(0, 1), t + HOUR);
    expect([await opened.index.delete("p", "gone"), await opened.index.delete("p", "gone"), await opened.index.delete("q", "kept")]).toEqual([true, false, false]);
    expect(await opened.index.nearest("p", v(1, 0), t)).toEqual({ key: "kept", similarity: expect.closeTo(0, 5) });
  });

  test("purgeExpired removes what expired at or before now, counts it, and keeps the rest", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("p", "old", v(1, 0), t + 1_000);
    await opened.index.add("q", "older", v(1, 0), t + 500);
    await opened.index.add("p", "live", v(0, 1), t + HOUR);
    expect(await opened.index.purgeExpired(t + 1_000)).toBe(2);
    expect(await opened.index.purgeExpired(t + 1_000)).toBe(0);
    expect(await opened.index.nearest("p", v(1, 0), t)).toEqual({ key: "live", similarity: expect.closeTo(0, 5) });
    expect(await opened.index.nearest("q", v(1, 0), t)).toBeNull();
  });

  test("a partition holds at most maxPerPartition vectors: the oldest goes first, and re-adding makes a key the newest", async () => {
    await using opened = await open({ maxPerPartition: 2 });
    const t = Date.now();
    await opened.index.add("p", "first", v(1, 0, 0), t + HOUR);
    await opened.index.add("p", "second", v(0, 1, 0), t + HOUR);
    await opened.index.add("p", "first", v(1, 0, 0), t + HOUR);
    await opened.index.add("p", "third", v(0, 0, 1), t + HOUR);
    await opened.index.add("other", "alone", v(0, 1, 0), t + HOUR);
    const found = await Promise.all([v(1, 0, 0), v(0, 1, 0), v(0, 0, 1)].map((query) => opened.index.nearest("p", query, t)));
    // "second" is gone: nothing left points its way.
    expect(found.map((match) => match?.key)).toEqual(["first", expect.stringMatching(/^(first|third)$/), "third"]);
    expect(found[1]?.similarity).toBeCloseTo(0, 5);
    expect(await opened.index.nearest("other", v(0, 1, 0), t)).toEqual({ key: "alone", similarity: expect.closeTo(1, 5) });
  });

  test("a zero vector is never stored, and vectors of another dimension never match", async () => {
    await using opened = await open();
    const t = Date.now();
    await opened.index.add("p", "zero", v(0, 0), t + HOUR);
    await opened.index.add("p", "three", v(1, 0, 0), t + HOUR);
    expect(await opened.index.nearest("p", v(1, 0), t)).toBeNull();
    expect(await opened.index.nearest("p", v(0, 0, 0), t)).toBeNull();
    expect(await opened.index.nearest("p", v(1, 0, 0), t)).toEqual({ key: "three", similarity: expect.closeTo(1, 5) });
  });
}
