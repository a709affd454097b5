/**
 * Targets served by several replicas (gateway-shared): a load run split between them, merged into one
 * result, with what the replicas and the engines they share spent meanwhile; and the Redis round trips
 * of a request, counted before the load.
 */
import { engineCost } from "./engines.ts";
import { cpuSeconds, runLoad, type LoadResult } from "./measure.ts";
import type { Running } from "./processes.ts";
import { bodyOf, requestHeaders } from "./requests.ts";
import type { Target } from "./targets.ts";

/** One replica's share of a load run. */
export interface ReplicaRow {
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  total: number;
  /** This replica's CPU µs per request it completed: the whole process, and its main thread. */
  serverUsPerReq: number;
  mainThreadUsPerReq: number;
  /** Log records this replica wrote to PostgreSQL during the run (its `GET /health` stats.logs). */
  logsWritten: number;
}

/** `connections` split over `k` replicas as evenly as possible, at least one each (so c=1 is 1 + 1). */
const splitConnections = (c: number, k: number) => Array.from({ length: k }, (_, i) => Math.max(1, Math.floor(c / k) + (i < c % k ? 1 : 0)));

/** What a replica's `GET /health` says about its log writer, and which components have a fault open. */
async function replicaHealth(r: Running): Promise<{ written: number; dropped: number; components: string[] }> {
  try {
    const h = (await (await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(5000) })).json()) as {
      faults?: { component: string }[];
      stats?: { logs?: { written?: number; dropped?: number } };
    };
    return {
      written: h.stats?.logs?.written ?? NaN,
      dropped: h.stats?.logs?.dropped ?? NaN,
      components: (h.faults ?? []).map((f) => f.component),
    };
  } catch {
    return { written: NaN, dropped: NaN, components: ["GET /health failed"] };
  }
}

/**
 * One LoadResult from the drivers of several replicas (one driver each, started together): counts,
 * req/s and driver CPU add up; p50, p90, mean and the TTFB p50/p90/mean are the request-weighted means
 * of the drivers' own (an approximation: each driver saw only its replica), p99 and max the highest.
 */
function mergeLoads(parts: LoadResult[]): LoadResult {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const add = (f: (p: LoadResult) => number) => parts.reduce((a, p) => a + f(p), 0);
  const weighted = (f: (p: LoadResult) => number | undefined) =>
    parts.some((p) => f(p) === undefined) ? undefined : n > 0 ? add((p) => f(p)! * p.n) / n : 0;
  const highest = (f: (p: LoadResult) => number | undefined) => (parts.some((p) => f(p) === undefined) ? undefined : Math.max(...parts.map((p) => f(p)!)));
  const counts = (f: (p: LoadResult) => Record<string, number> | undefined) => {
    if (parts.every((p) => !f(p))) return undefined;
    const out: Record<string, number> = {};
    for (const p of parts) for (const [k, v] of Object.entries(f(p) ?? {})) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const ttfb = parts[0]?.ttfb_p50 !== undefined;
  const ms = (x: number | undefined) => (x === undefined ? x : Math.round(x * 1000) / 1000);
  return {
    rps: add((p) => p.rps),
    p50: ms(weighted((p) => p.p50))!,
    p90: ms(weighted((p) => p.p90))!,
    p99: highest((p) => p.p99)!,
    mean: ms(weighted((p) => p.mean))!,
    max: highest((p) => p.max)!,
    errors: add((p) => p.errors),
    n,
    total: add((p) => p.total),
    seconds: Math.max(...parts.map((p) => p.seconds)),
    driverCpu: add((p) => p.driverCpu),
    statuses: counts((p) => p.statuses) ?? {},
    errorSamples: parts.flatMap((p) => p.errorSamples),
    headerCounts: counts((p) => p.headerCounts),
    ...(ttfb
      ? { ttfb_p50: ms(weighted((p) => p.ttfb_p50)), ttfb_p90: ms(weighted((p) => p.ttfb_p90)), ttfb_p99: highest((p) => p.ttfb_p99), ttfb_mean: ms(weighted((p) => p.ttfb_mean)) }
      : {}),
  };
}

/**
 * A load run against every replica at once, `connections` split between them, with what the
 * replicas and the engines spent meanwhile. Log records dropped (`GET /health`) and anything a
 * replica writes to stderr meanwhile (a gateway warns there when Redis or PostgreSQL fails or times
 * out, and then bypasses it: fewer round trips, a faster row) count as errors: the row would not
 * measure what its name says.
 */
export async function runSharedLoad(t: Target, r: Running, connections: number) {
  const replicas = r.replicas!;
  const cpu0 = replicas.map((x) => cpuSeconds(x.pid));
  const js0 = replicas.map((x) => cpuSeconds(x.pid, true));
  const err0 = replicas.map((x) => x.stderr?.().lines ?? 0);
  const [h0, e0] = await Promise.all([Promise.all(replicas.map(replicaHealth)), r.engines!.sample()]);
  const shares = splitConnections(connections, replicas.length);
  // Each driver numbers its unique bodies from the clock, so two started together would send the same
  // bodies: a replica's digit in front of the number keeps them apart (else one replica's misses are
  // the other's HITs — the shared cache working, but not what the row measures). One byte longer.
  const body = (i: number) => bodyOf(t).replace("{{n}}", `${i + 1}{{n}}`);
  const parts = await Promise.all(replicas.map((x, i) => runLoad(t, x, shares[i]!, t.unique ? body(i) : bodyOf(t))));
  const cpu1 = replicas.map((x) => cpuSeconds(x.pid));
  const js1 = replicas.map((x) => cpuSeconds(x.pid, true));
  const [h1, e1] = await Promise.all([Promise.all(replicas.map(replicaHealth)), r.engines!.sample()]);
  const res = mergeLoads(parts);
  const dropped = h1.reduce((a, h, i) => a + h.dropped - h0[i]!.dropped, 0);
  if (dropped !== 0) {
    res.errors += Number.isFinite(dropped) ? dropped : 1;
    res.errorSamples.push(`replicas' GET /health: ${dropped} log records dropped; faults open: ${[...new Set(h1.flatMap((h) => h.components))].join(", ") || "none"}`);
  }
  for (const [i, x] of replicas.entries()) {
    const err = x.stderr?.();
    if (!err || err.lines === err0[i]) continue;
    res.errors += err.lines - err0[i]!;
    res.errorSamples.push(`replica ${i + 1} wrote ${err.lines - err0[i]!} stderr lines, the last: ${err.tail.join(" | ").slice(0, 400)}`);
  }
  const perReq = (d: number, total: number) => (total > 0 ? (d * 1e6) / total : NaN);
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const replicaRows: ReplicaRow[] = parts.map((p, i) => ({
    connections: shares[i]!,
    rps: p.rps,
    p50: p.p50,
    p99: p.p99,
    total: p.total,
    serverUsPerReq: perReq(cpu1[i]! - cpu0[i]!, p.total),
    mainThreadUsPerReq: perReq(js1[i]! - js0[i]!, p.total),
    logsWritten: h1[i]!.written - h0[i]!.written,
  }));
  return {
    res,
    serverUsPerReq: perReq(sum(cpu1) - sum(cpu0), res.total),
    mainThreadUsPerReq: perReq(sum(js1) - sum(js0), res.total),
    replicas: replicaRows,
    perReplicaRps: res.rps / replicas.length,
    engines: engineCost(e0, e1, res.total),
  };
}

/** Requests sent one at a time under `MONITOR` before the load (after as many untraced ones). */
const TRACED_REQUESTS = 20;

/**
 * Redis round trips per request, counted exactly: TRACED_REQUESTS requests one after the other,
 * alternating between the replicas, under Redis `MONITOR` (commandstats cannot tell a command sent
 * by a client from one run inside a script). Each body is new, as under the load.
 */
export async function traceRoundTrips(t: Target, r: Running): Promise<{ requests: number; sent: Record<string, number>; inScripts: Record<string, number> }> {
  const replicas = r.replicas ?? [r];
  const headers = requestHeaders(t.headers);
  let i = 0;
  const one = async () => {
    const at = replicas[i % replicas.length]!;
    const res = await fetch(at.url + t.path, { method: "POST", headers, body: bodyOf(t).replaceAll("{{n}}", `trace-${Date.now()}-${i++}`), signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`a traced request answered HTTP ${res.status}`);
  };
  for (let k = 0; k < TRACED_REQUESTS; k++) await one(); // scripts loaded, connections warm
  const trace = await r.engines!.traceRedis(async () => {
    for (let k = 0; k < TRACED_REQUESTS; k++) await one();
  });
  const per = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v / TRACED_REQUESTS]));
  return { requests: TRACED_REQUESTS, sent: per(trace.sent), inScripts: per(trace.inScripts) };
}

/** Redis round trips per request of one target, counted under MONITOR before its load (traceRoundTrips). */
export type Trace = Awaited<ReturnType<typeof traceRoundTrips>>;
