/**
 * What a run prints and writes once its load is over: the tables — the main one (every row against
 * its baseline), shared storage (replicas against one process), first-byte times, where the CPU goes
 * by thread — the legend and the goals on stdout, and the JSON report.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import type { Settings } from "./args.ts";
import type { GoalResult } from "./goals.ts";
import type { Machine } from "./measure.ts";
import type { Trace } from "./replicas.ts";
import { BODY, HEADERS, STREAM_BODY, STREAM_EVENTS, timesTtfb, UNIQUE_BODY } from "./requests.ts";
import type { Row } from "./rows.ts";
import type { Started } from "./start.ts";
import { TARGETS, type Target } from "./targets.ts";
import { THREAD_GROUPS } from "./threads.ts";

export const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");
export const signed = (x: number, d = 3) => (Number.isFinite(x) ? (x >= 0 ? "+" : "") + x.toFixed(d) : "-");

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
function grid(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** Every row: req/s, latencies, errors, the comparison with its baseline, CPU per request. */
export function table(rows: Row[]): string {
  const head = ["target", "conns", "req/s", "p50 ms", "p99 ms", "errors", "rps/bare", "p50 Δbare", "p99 Δbare", "srv µs/req", "driver cores"];
  const body = rows.map((r) => [
    r.target,
    String(r.connections),
    r.rps.toFixed(0),
    fmt(r.p50, 3),
    fmt(r.p99, 3),
    String(r.errors),
    r.vsBare ? fmt(r.vsBare.rpsRatio, 3) : "-",
    r.vsBare ? signed(r.vsBare.p50DeltaMs) : "-",
    r.vsBare ? signed(r.vsBare.p99DeltaMs) : "-",
    fmt(r.serverUsPerReq, 1),
    fmt(r.driverCpu, 2),
  ]);
  return grid(head, body);
}

/** `srv µs/req` split by thread group: what a target's own process spent per request, and where. */
export function threadTable(rows: Row[]): string {
  const head = ["target", "conns", "srv µs/req", ...THREAD_GROUPS];
  const body = rows.map((r) => [r.target, String(r.connections), fmt(r.serverUsPerReq, 1), ...THREAD_GROUPS.map((g) => fmt(r.threads?.[g] ?? 0, 1))]);
  return grid(head, body);
}

/** The rows with first-byte times: total = until the last body byte, Δ = against the row's baseline. */
export function streamTable(rows: Row[]): string {
  const head = ["target", "conns", "req/s", "ttfb p50", "ttfb p99", "total p50", "total p99", "ttfb p50 Δ", "ttfb p99 Δ", "against", "errors"];
  const body = rows.map((r) => [
    r.target,
    String(r.connections),
    r.rps.toFixed(0),
    fmt(r.ttfb_p50 ?? NaN, 3),
    fmt(r.ttfb_p99 ?? NaN, 3),
    fmt(r.p50, 3),
    fmt(r.p99, 3),
    signed(r.vsBare?.ttfbP50DeltaMs ?? NaN),
    signed(r.vsBare?.ttfbP99DeltaMs ?? NaN),
    r.vsBare?.against ?? "-",
    String(r.errors),
  ]);
  return grid(head, body);
}

/**
 * The replicated rows next to their single-process rows (same connections, median rounds): req/s in
 * all and per replica, and where the CPU of a request goes — the gateway processes' (all threads, and
 * the JavaScript thread alone), PostgreSQL's and Redis' (every process of each, from /proc) — with
 * the round trips to Redis and the rows per PostgreSQL transaction.
 */
export function sharedTable(rows: Row[], traces: Map<string, Trace>): string {
  const head = [
    "target", "conns", "req/s", "per replica", "replicas", "× single", "srv µs/req", "js µs/req", "pg µs/req", "redis µs/req",
    "total µs/req", "js × single", "redis rt/req", "redis cmds/req", "log rows/tx",
  ];
  const body: string[][] = [];
  const singleOf = (r: Row) => rows.find((x) => x.connections === r.connections && x.target === TARGETS.find((t) => t.name === r.target)?.singleProcess);
  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, v) => a + v, 0);
  const listed = new Set<Row>();
  for (const r of rows.filter((x) => x.replicas)) {
    const single = singleOf(r);
    for (const x of single ? [single, r] : [r]) {
      if (listed.has(x)) continue;
      listed.add(x);
      const e = x.engines;
      const trace = traces.get(x.target);
      const perReplica = x.perReplicaRps ?? x.rps;
      body.push([
        x.target,
        String(x.connections),
        x.rps.toFixed(0),
        perReplica.toFixed(0),
        x.replicas ? x.replicas.map((y) => `${y.rps.toFixed(0)}@${y.connections}`).join(" + ") : "1 process",
        single ? fmt(perReplica / single.rps, 3) : "-",
        fmt(x.serverUsPerReq, 1),
        fmt(x.mainThreadUsPerReq, 1),
        e ? fmt(e.postgresUsPerReq, 1) : "-",
        e ? fmt(e.redisUsPerReq, 1) : "-",
        fmt(x.serverUsPerReq + (e ? e.postgresUsPerReq + e.redisUsPerReq : 0), 1),
        single ? fmt(single.mainThreadUsPerReq / x.mainThreadUsPerReq, 3) : "-",
        trace ? fmt(sum(trace.sent), 2) : "-",
        e ? fmt(e.redisCommandsPerReq, 2) : "-",
        e ? fmt(e.logRowsPerCommit, 1) : "-",
      ]);
    }
  }
  const list = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ") || "none";
  const notes = [
    ...[...traces].map(([name, x]) => `redis round trips of ${name} (MONITOR, ${x.requests} requests one at a time): ${list(x.sent)}; inside scripts: ${list(x.inScripts)}`),
    ...rows.filter((x) => x.engines).map((x) => `redis commands of ${x.target} c=${x.connections} under the load (commandstats): ${list(x.engines!.redisCommands)}; Redis' own execution ${fmt(x.engines!.redisExecUsPerReq, 1)} µs/req`),
  ];
  return [
    grid(head, body),
    ...notes,
    "per replica = req/s ÷ replicas (the goal's figure), × single = that ÷ the single process's req/s; srv µs/req = the gateway",
    "processes' CPU per request (all threads), js µs/req = their JavaScript thread's alone, the one that caps a process's req/s;",
    "pg / redis µs/req = every PostgreSQL / Redis process's CPU per request; total = srv + pg + redis. js × single = the single",
    "process's js µs/req ÷ the replicas': the per-replica req/s, relative to the single process's, if every JavaScript thread had",
    "a core of its own — the reading that does not depend on this machine's 2 cores being shared by everything. redis rt/req =",
    "commands the gateway sends (round trips), redis cmds/req = commands Redis runs, scripts' own calls included. log rows/tx =",
    "rows per PostgreSQL transaction (its counters are published once a second: they lag the load by up to that).",
  ].join("\n");
}

/** What a run has to report once its load is over. */
export interface Report {
  machine: Machine;
  /** performance.now() when the run began. */
  began: number;
  targets: Target[];
  started: Started;
  /** Every row of every round. */
  all: Row[];
  /** The rows shown: per (connections, target), the median round (shownRows). */
  shown: Row[];
  goals: GoalResult[];
}

/** The tables, the unavailable targets, the legend and the goals, on stdout. */
export function printReport({ machine, began, targets, started: { traces, unavailable }, shown, goals }: Report) {
  console.log("\n" + table(shown));
  if (shown.some((r) => r.replicas)) {
    console.log(
      "\nshared storage (replicas started from one config on PostgreSQL and/or Redis, the connections split between them;" +
        " vs one process on SQLite):\n" + sharedTable(shown, traces),
    );
  }
  const timed = shown.filter((r) => r.ttfb_p50 !== undefined);
  if (timed.length) {
    console.log(
      `\nfirst byte (${targets.some((t) => t.stream) ? `stream targets: a ${STREAM_EVENTS}-event SSE answer, one event per write` : "SSE answers"}; ms):\n` +
        streamTable(timed),
    );
  }
  const split = shown.filter((r) => r.threads && Object.keys(r.threads).length > 0 && r.target !== "upstream");
  if (split.length) console.log("\nwhere the CPU goes (srv µs/req by thread, bench/threads.ts):\n" + threadTable(split));
  if (unavailable.size) console.log("\n" + [...unavailable].map(([name, why]) => `${name}: unavailable: ${why}`).join("\n"));
  console.log(
    "\nrps/bare = req/s ÷ bare proxy's; Δbare = ms above the bare proxy (for *-stream rows: above bare-stream, the same floor" +
      "\nasked for the same stream); srv µs/req = the target process's CPU per request; driver cores = the load driver's own CPU;" +
      "\nttfb = until the first body byte, total = until the last. Compare within one run only." +
      `\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (at the start: ${machine.loadavg.map((x) => x.toFixed(2)).join(" ")});` +
      ` run time ${((performance.now() - began) / 1000).toFixed(0)} s`,
  );
  if (goals.length) console.log("\ntargets (from the issues; reported, not enforced):\n" + goals.map((g) => "  " + g.line).join("\n"));
}

/** The JSON report (--json): the settings, every round's rows, the rows shown and the goals. */
export function writeReport(file: string, settings: Settings, { machine, targets, started: { running, traces, unavailable }, all, shown, goals }: Report) {
  const out = {
    date: new Date().toISOString(),
    machine,
    settings: {
      targets: targets.map((t) => ({
        name: t.name, path: t.path, headers: { ...t.headers, ...running.get(t.name)?.headers }, unique: !!t.unique,
        expectHeader: t.expectHeader, stream: !!t.stream, ttfb: timesTtfb(t), baseline: t.baseline ?? "bare", peer: !!t.peer,
        replicas: running.get(t.name)?.replicas?.length ?? 1, singleProcess: t.singleProcess,
      })),
      connections: settings.connections, duration: settings.duration, warmup: settings.warmup, rounds: settings.rounds, delay: settings.delay,
      stream: settings.stream, peers: settings.peers, shared: settings.shared, client: settings.client,
      body: BODY, uniqueBody: UNIQUE_BODY, streamBody: STREAM_BODY, streamEvents: STREAM_EVENTS, headers: HEADERS,
    },
    unavailable: Object.fromEntries(unavailable),
    redisRoundTrips: Object.fromEntries(traces),
    results: shown,
    goals: goals.map(({ line: _, ...g }) => g),
    rounds: all,
  };
  writeFileSync(resolve(file), JSON.stringify(out, null, 2) + "\n");
  console.log(`wrote ${resolve(file)}`);
}
