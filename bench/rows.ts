/**
 * A row: one load run of one target at one connection count in one round, with the CPU its process(es)
 * spent; and the rows shown, one per (connections, target), compared with their baselines.
 */
import type { EngineCost } from "./engines.ts";
import { CLK_TCK, cpuSeconds, runLoad, type LoadResult } from "./measure.ts";
import type { Running } from "./processes.ts";
import { runSharedLoad, type ReplicaRow } from "./replicas.ts";
import type { Target } from "./targets.ts";
import { threadCpu, threadUsPerRequest, type ThreadCpu } from "./threads.ts";

export interface Row extends LoadResult {
  target: string;
  connections: number;
  round: number;
  /** Target server's CPU µs per completed request (its own process only). */
  serverUsPerReq: number;
  /** The same, its main (JavaScript) thread only: 10⁶ ÷ this is the most req/s that thread could serve. */
  mainThreadUsPerReq: number;
  upstreamUsPerReq: number;
  /** `serverUsPerReq` split by thread (bench/threads.ts); single-process targets only. */
  threads?: ThreadCpu;
  /** Replicated targets (gateway-shared): each replica's share, from its own load driver and its own CPU. */
  replicas?: ReplicaRow[];
  /** Replicated targets: req/s ÷ the number of replicas. */
  perReplicaRps?: number;
  /** Replicated targets: what the shared PostgreSQL and Redis spent per request. */
  engines?: EngineCost;
  /** Against the target's baseline row ("bare", or "bare-stream" for streaming targets). */
  vsBare?: Comparison;
  vsUpstream?: Comparison;
}
export interface Comparison {
  against: string;
  rpsRatio: number;
  p50DeltaMs: number;
  p99DeltaMs: number;
  ttfbP50DeltaMs?: number;
  ttfbP99DeltaMs?: number;
}

/**
 * One load run of `t` at `connections`, with what its process(es) and the mock spent meanwhile. A
 * target with `expectHeader` gets an error for every measured answer that does not carry it.
 */
export async function measureRow(t: Target, r: Running, upstream: Running, connections: number, round: number): Promise<Row> {
  const s0 = cpuSeconds(r.pid);
  const m0 = cpuSeconds(r.pid, true);
  const u0 = cpuSeconds(upstream.pid);
  const t0 = r.replicas ? null : threadCpu(r.pid, CLK_TCK);
  const shared = r.replicas ? await runSharedLoad(t, r, connections) : null;
  const res = shared?.res ?? (await runLoad(t, r, connections));
  if (t.expectHeader) {
    // Every measured 2xx answer must say what the target is about (e.g. all HITs).
    const want = t.expectHeader.value.toLowerCase();
    const counts = res.headerCounts ?? {};
    const wrong = Object.entries(counts).filter(([v]) => v !== want);
    const bad = wrong.reduce((a, [, c]) => a + c, 0);
    if (bad || !res.headerCounts) {
      res.errors += bad || 1;
      res.errorSamples.push(
        `${t.expectHeader.name} was not ${t.expectHeader.value} on ${bad} of ${res.n} measured answers ` +
          `(${wrong.map(([v, c]) => `${v}: ${c}`).join(", ") || "not counted"})`,
      );
    }
  }
  const s1 = cpuSeconds(r.pid);
  const m1 = cpuSeconds(r.pid, true);
  const u1 = cpuSeconds(upstream.pid);
  const threads = t0 ? threadUsPerRequest(t0, threadCpu(r.pid, CLK_TCK), res.total) : undefined;
  const per = (d: number) => (res.total > 0 ? (d * 1e6) / res.total : NaN);
  return {
    ...res, target: t.name, connections, round, serverUsPerReq: per(s1 - s0), mainThreadUsPerReq: per(m1 - m0), upstreamUsPerReq: per(u1 - u0), threads,
    ...(shared
      ? { serverUsPerReq: shared.serverUsPerReq, mainThreadUsPerReq: shared.mainThreadUsPerReq, replicas: shared.replicas, perReplicaRps: shared.perReplicaRps, engines: shared.engines }
      : {}),
  };
}

const compare = (r: Row, base: Row | undefined): Comparison | undefined =>
  base && base.rps > 0
    ? {
        against: base.target,
        rpsRatio: r.rps / base.rps,
        p50DeltaMs: r.p50 - base.p50,
        p99DeltaMs: r.p99 - base.p99,
        ...(r.ttfb_p50 !== undefined && base.ttfb_p50 !== undefined
          ? { ttfbP50DeltaMs: r.ttfb_p50 - base.ttfb_p50, ttfbP99DeltaMs: r.ttfb_p99! - base.ttfb_p99! }
          : {}),
      }
    : undefined;

/**
 * One row per (connections, target): the round with the median req/s, compared with its target's
 * baseline row ("bare" unless the target names another) and the upstream's of the same connections.
 */
export function shownRows(all: Row[], connectionsList: readonly number[], targets: Target[]): Row[] {
  const shown: Row[] = [];
  for (const connections of connectionsList) {
    for (const t of targets) {
      const rs = all.filter((r) => r.connections === connections && r.target === t.name).sort((a, b) => a.rps - b.rps);
      if (rs.length) shown.push(rs[Math.floor((rs.length - 1) / 2)]!);
    }
  }
  for (const r of shown) {
    const same = (name: string) => shown.find((x) => x.connections === r.connections && x.target === name);
    r.vsBare = compare(r, same(targets.find((t) => t.name === r.target)?.baseline ?? "bare"));
    r.vsUpstream = compare(r, same("upstream"));
  }
  return shown;
}
