/**
 * Measuring one process: its CPU from /proc, a load run against it (bench/load.ts as its own process,
 * so the driver's CPU is its own), the one request some targets must answer before their load, and
 * the machine the run is on.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { settings } from "./args.ts";
import { BUN, HERE, REPO, release, spawnTracked, type Running } from "./processes.ts";
import { bodyOf, HEADERS, requestHeaders, STREAM_EVENTS, timesTtfb } from "./requests.ts";
import type { Target } from "./targets.ts";

export const CLK_TCK = (() => {
  try {
    return Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system) a process has used so far, or NaN where /proc is missing. `mainThread`:
 * its main thread's only — for a Bun server, the JavaScript thread that also runs the HTTP server,
 * the one that caps its req/s (fetch's I/O, a log-writer Worker and the GC run on other threads).
 */
export function cpuSeconds(pid: number, mainThread = false): number {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from #3 on
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime (#14), stime (#15)
  } catch {
    return NaN;
  }
}

export interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
  errors: number;
  n: number;
  total: number;
  seconds: number;
  driverCpu: number;
  statuses: Record<string, number>;
  errorSamples: string[];
  headerCounts?: Record<string, number>;
  /** With --ttfb (stream targets, or every HTTP target under --stream): ms to the first body byte. */
  ttfb_p50?: number;
  ttfb_p90?: number;
  ttfb_p99?: number;
  ttfb_mean?: number;
}

/** A load run of `connections` against `r`. `body`: the request body, when not the target's own (bodyOf). */
export async function runLoad(t: Target, r: Running, connections: number, body = bodyOf(t)): Promise<LoadResult> {
  const url = r.url + t.path;
  // A WebSocket target keeps `connections` requests in flight over one socket.
  const cmd = [BUN, join(HERE, "load.ts"), "--url", url, "--connections", t.websocket ? "1" : String(connections)];
  if (t.websocket) cmd.push("--inflight", String(connections));
  cmd.push("--duration", String(settings.duration), "--warmup", String(settings.warmup), "--client", t.websocket ? "ws" : settings.client);
  cmd.push("--body", body);
  if (t.unique) cmd.push("--unique");
  if (timesTtfb(t)) cmd.push("--ttfb");
  if (t.expectHeader) cmd.push("--count-header", t.expectHeader.name);
  for (const h of HEADERS) cmd.push("--header", h);
  for (const [k, v] of Object.entries({ ...t.headers, ...r.headers })) cmd.push("--header", `${k}: ${v}`);
  const proc = spawnTracked(cmd, REPO);
  const killer = setTimeout(() => proc.kill("SIGKILL"), (settings.warmup + settings.duration + 30) * 1000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(killer);
  release(proc);
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load driver failed (exit ${proc.exitCode}): ${(err || out).trim().slice(-800)}`);
  }
}

/**
 * One request before the load, for `stream` and `peer` targets: it must answer 2xx and, for a stream
 * target, exactly STREAM_EVENTS SSE events ending with [DONE]. Returns what is wrong, or null.
 */
export async function probe(t: Target, r: Running): Promise<string | null> {
  const headers = requestHeaders(t.headers, r.headers);
  try {
    const res = await fetch(r.url + t.path, { method: "POST", headers, body: bodyOf(t).replaceAll("{{n}}", "0"), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) return `a test request answered HTTP ${res.status}: ${text.slice(0, 300)}`;
    if (!t.stream) return null;
    const events = text.split(/\r?\n\r?\n/).filter((e) => /^data:/m.test(e));
    if (events.length !== STREAM_EVENTS || !/^data: ?\[DONE\]/m.test(events.at(-1) ?? ""))
      return `a test stream had ${events.length} SSE events, not ${STREAM_EVENTS} ending with [DONE] (content-type ${res.headers.get("content-type")})`;
    return null;
  } catch (e) {
    return `a test request failed: ${(e as Error).message}`;
  }
}

/** What the run is on, printed at the start and kept in the JSON. */
export function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {}
  return { cpus: navigator.hardwareConcurrency, cpuModel: model, bun: Bun.version, os: `${process.platform} ${process.arch}`, loadavg: loadavg() };
}
export type Machine = ReturnType<typeof machine>;
