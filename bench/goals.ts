/**
 * The performance targets from the issues (GOALS), printed as PASS/FAIL lines under the tables when
 * the rows they need were run. A missed goal is reported, not an error.
 */
import { signed } from "./output.ts";
import type { Row } from "./rows.ts";
import { REPLICAS } from "./targets.ts";

/** Performance targets from the issues, checked against the rows shown (median rounds). */
interface Goal {
  target: string;
  connections: number;
  what: string;
  /** The row the figure is taken against. @default "bare" */
  against?: string;
  /** The measured figure, given the row and the `against` row (same connections, same round). */
  value(r: Row, against: Row): number;
  pass(x: number): boolean;
  show(x: number): string;
}
const GOALS: Goal[] = [
  // Issue 17's budgets: gateway CPU per request (all threads) first, req/s against the floor second.
  {
    target: "gateway", connections: 32, what: "logging adds ≤ 6 µs/req of CPU to the same gateway with logging off", against: "gateway-nolog",
    value: (r, n) => r.serverUsPerReq - n.serverUsPerReq, pass: (x) => x <= 6, show: (x) => `${signed(x)} µs/req`,
  },
  {
    target: "gateway", connections: 32, what: "req/s ≥ 0.80 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 0.8, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-chain", connections: 32, what: "CPU ≤ the logging gateway's + 15 µs/req (every request a cache miss)", against: "gateway",
    value: (r, g) => r.serverUsPerReq - g.serverUsPerReq, pass: (x) => x <= 15, show: (x) => `${signed(x)} µs/req`,
  },
  {
    target: "gateway-chain", connections: 32, what: "req/s ≥ 0.75 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 0.75, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-cache-hit", connections: 32, what: "CPU ≤ 0.6 × the bare proxy's",
    value: (r, b) => r.serverUsPerReq / b.serverUsPerReq, pass: (x) => x <= 0.6, show: (x) => `${x.toFixed(3)} × bare`,
  },
  {
    target: "gateway-cache-hit", connections: 32, what: "req/s ≥ 1.5 × bare",
    value: (r, b) => r.rps / b.rps, pass: (x) => x >= 1.5, show: (x) => `${x.toFixed(3)} × bare`,
  },
  ...["gateway", "gateway-chain", "gateway-cache-hit", "gateway-universal", "gateway-ws"].map(
    (target): Goal => ({
      target, connections: 1, what: "p50 ≤ bare + 0.030 ms",
      value: (r, b) => r.p50 - b.p50, pass: (x) => x <= 0.03, show: (x) => `${signed(x)} ms`,
    }),
  ),
  {
    target: "gateway-universal", connections: 32, what: "gateway CPU ≤ gateway's (provider route) + 5 µs/req", against: "gateway",
    value: (r, g) => r.serverUsPerReq - g.serverUsPerReq, pass: (x) => x <= 5, show: (x) => `${signed(x)} µs/req`,
  },
  {
    target: "gateway-stream", connections: 1, what: "TTFB p50 ≤ bare-stream's + 0.100 ms (20-event SSE answer)", against: "bare-stream",
    value: (r, b) => (r.ttfb_p50 ?? NaN) - (b.ttfb_p50 ?? NaN), pass: (x) => x <= 0.1, show: (x) => `${signed(x)} ms`,
  },
  {
    target: "gateway-ws", connections: 32, what: "req/s over 1 WebSocket × 32 in flight ≥ HTTP with 32 connections", against: "gateway",
    value: (r, g) => r.rps / g.rps, pass: (x) => x >= 1, show: (x) => `${x.toFixed(3)} × HTTP`,
  },
  {
    target: "gateway-shared", connections: 32, against: "gateway-sqlite-same",
    what: `per-replica req/s (${REPLICAS} replicas, Redis counters and cache, PostgreSQL logs) ≥ 0.70 × one process on SQLite`,
    value: (r, s) => (r.perReplicaRps ?? NaN) / s.rps, pass: (x) => x >= 0.7, show: (x) => `${x.toFixed(3)} × single`,
  },
];

/** A goal judged: the median over rounds, each round's value, and the PASS/FAIL line printed. */
export interface GoalResult {
  target: string;
  connections: number;
  goal: string;
  value: number;
  perRound: number[];
  pass: boolean;
  line: string;
}

/**
 * Each goal is computed per round from the target's and the bare proxy's rows of that same round
 * (run back to back, so they saw the same machine), and the median over rounds is judged: on a
 * shared machine that is steadier than a ratio of the two independently chosen median rows.
 */
export function checkGoals(all: Row[], rounds: number): GoalResult[] {
  const out: GoalResult[] = [];
  for (const g of GOALS) {
    const perRound: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const at = (name: string) => all.find((x) => x.target === name && x.connections === g.connections && x.round === round);
      const r = at(g.target);
      const b = at(g.against ?? "bare");
      const x = r && b && b.rps > 0 ? g.value(r, b) : NaN;
      if (Number.isFinite(x)) perRound.push(x);
    }
    if (!perRound.length) continue;
    const sorted = [...perRound].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const value = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const pass = g.pass(value);
    const spread = perRound.length > 1 ? ` (median of ${perRound.length} rounds: ${perRound.map((x) => g.show(x).split(" ")[0]).join(", ")})` : "";
    out.push({
      target: g.target, connections: g.connections, goal: g.what, value, perRound, pass,
      line: `${pass ? "PASS" : "FAIL"}  ${g.target} c=${g.connections}: ${g.what} — measured ${g.show(value)}${spread}`,
    });
  }
  return out;
}
