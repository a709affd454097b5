/**
 * Where a server's CPU goes, by thread: the bench's "srv µs/req" counts every thread of the target
 * process, and this splits it, so a budget that is missed says what it is missed by. Read from
 * `/proc/<pid>/task/<tid>/stat` before and after a load run; empty where /proc is missing.
 *
 * Threads are grouped by the name the runtime gives them (`comm`):
 *   - js          the main thread (tid = pid): the JavaScript event loop, Bun.serve, and the garbage
 *                 collector's work done in line (an allocation that triggers a collection pays for it)
 *   - log writer  `switchboard-log`, the SQLite log writer Worker (its own JavaScript and SQLite)
 *   - gc          `HeapHelper`: the collector's helper threads (concurrent marking)
 *   - jit         `JITWorker`, `JSCWarmUp`: compiling hot code; it settles after a while, so a short
 *                 run of a large program pays more of it than a long one, and more than a small one
 *   - http client `HTTP Client`: fetch's own I/O thread
 *   - other       everything else (the allocator's scavenger, Bun's pools)
 */
import { readdirSync, readFileSync } from "node:fs";

export const THREAD_GROUPS = ["js", "log writer", "gc", "jit", "http client", "other"] as const;
export type ThreadGroup = (typeof THREAD_GROUPS)[number];
export type ThreadCpu = Partial<Record<ThreadGroup, number>>;

function groupOf(pid: number, tid: number, name: string): ThreadGroup {
  if (tid === pid) return "js";
  if (name === "switchboard-log") return "log writer";
  if (name.startsWith("HeapHelper")) return "gc";
  if (name.startsWith("JITWorker") || name.startsWith("JSCWarmUp")) return "jit";
  if (name.startsWith("HTTP Client")) return "http client";
  return "other";
}

/** CPU seconds (user + system) each thread group of `pid` has used so far; {} when it cannot be read. */
export function threadCpu(pid: number, clockTicks: number): ThreadCpu {
  const out: ThreadCpu = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from #3 on
      const group = groupOf(pid, Number(tid), name);
      out[group] = (out[group] ?? 0) + (Number(f[11]) + Number(f[12])) / clockTicks; // utime (#14), stime (#15)
    } catch {
      // The thread ended between the listing and the read: its time is gone from both snapshots' view.
    }
  }
  return out;
}

/** µs per request of each group between two snapshots. A thread that ended in between is not counted. */
export function threadUsPerRequest(before: ThreadCpu, after: ThreadCpu, requests: number): ThreadCpu {
  const out: ThreadCpu = {};
  if (requests <= 0) return out;
  for (const group of THREAD_GROUPS) {
    const spent = (after[group] ?? 0) - (before[group] ?? 0);
    if (spent > 0) out[group] = (spent * 1e6) / requests;
  }
  return out;
}
