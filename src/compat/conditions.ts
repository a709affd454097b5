import type { RouteCondition } from "../config/schema.ts";
import type { Metadata, MetadataValue } from "../pipeline/record.ts";

type Scalar = string | number | boolean;
type Operators = { $eq?: Scalar; $ne?: Scalar; $in?: Scalar[]; $nin?: Scalar[]; $gt?: number; $lt?: number };

/**
 * Whether a route condition holds for a request's metadata (its `cf-aig-metadata`). Keys may be
 * written `plan` or `metadata.plan`. Several keys in one object all have to hold; `$and` / `$or`
 * combine conditions. A plain value means `$eq`. Comparison is strict (`"1"` is not `1`); `$gt` and
 * `$lt` hold only for numbers. A key the metadata lacks satisfies only `$ne` and `$nin`.
 *
 * @example matches({ $or: [{ plan: "free" }, { tier: { $lt: 2 } }] }, { plan: "pro", tier: 1 }) // true
 */
export function matches(condition: RouteCondition, metadata: Metadata): boolean {
  const record = condition as Record<string, unknown>;
  if (Array.isArray(record.$and)) return (record.$and as RouteCondition[]).every((c) => matches(c, metadata));
  if (Array.isArray(record.$or)) return (record.$or as RouteCondition[]).some((c) => matches(c, metadata));
  return Object.entries(record).every(([key, expected]) => {
    const name = key.startsWith("metadata.") ? key.slice(9) : key;
    const actual = Object.hasOwn(metadata, name) ? metadata[name] : undefined;
    if (typeof expected !== "object" || expected === null) return actual === expected;
    return holds(expected as Operators, actual);
  });
}

function holds(ops: Operators, actual: MetadataValue | undefined): boolean {
  if (ops.$eq !== undefined && actual !== ops.$eq) return false;
  if (ops.$ne !== undefined && actual === ops.$ne) return false;
  if (ops.$in !== undefined && (actual === undefined || !ops.$in.includes(actual))) return false;
  if (ops.$nin !== undefined && actual !== undefined && ops.$nin.includes(actual)) return false;
  if (ops.$gt !== undefined && !(typeof actual === "number" && typeof ops.$gt === "number" && actual > ops.$gt)) return false;
  if (ops.$lt !== undefined && !(typeof actual === "number" && typeof ops.$lt === "number" && actual < ops.$lt)) return false;
  return true;
}
