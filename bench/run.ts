/**
 * `bun run bench` — how much does Switchboard cost on top of the least a Bun proxy can do?
 *
 *   bun bench/run.ts [--targets upstream,bare,gateway,…] [--peers] [--shared] [--connections 1,32,128]
 *                    [--duration 5] [--warmup 1] [--rounds 1] [--delay 0] [--stream]
 *                    [--client raw|fetch] [--json out.json]
 *
 * Every process is separate (Bun.spawn) and binds 127.0.0.1 on a port the OS picks; each child
 * prints `listening on http://127.0.0.1:PORT` and this orchestrator reads it from its stdout.
 *   - upstream  bench/upstream.ts: a mock OpenAI chat completion (~650 B JSON with usage, or SSE
 *               chunks when the body has "stream":true), `--delay` ms before each response.
 *   - bare      bench/bare-proxy.ts: Bun.serve + fetch to the upstream, Response returned as is.
 *               This is the floor every ratio is taken against.
 *   - gateway   `bun src/main.ts serve --config <tmp>/gateway.config.ts`, logging with payloads
 *               to SQLite in a temp dir, requests to /v1/local/default/openai/chat/completions.
 *   - gateway-chain      the whole default chain switched on: auth (a config token, sent in
 *               cf-aig-authorization), cf-aig-metadata, a rate limit keyed on metadata:user that is
 *               never reached, cache on (ttl 300) with a different body every request (--unique),
 *               so every request is a MISS that hashes, looks up, goes upstream and writes; logs on.
 *   - gateway-cache-hit  cache on (ttl 300), logs on, the same body every time: after the first
 *               request every answer is a HIT and nothing goes upstream.
 *   These two check `cf-aig-cache-status` on every measured answer (all MISS / all HIT) and count a
 *   mismatch as an error: a target that does not measure what its name says is broken.
 *   - gateway-universal  the "gateway" config, the same request as step 0 of a two-step Universal
 *               array (POST /v1/local/default); step 0 answers, so it measures the Universal transport.
 *   - gateway-ws  the "gateway" config, the same request over ONE WebSocket (Universal API frames),
 *               with as many requests in flight as the connection count; compared with "gateway".
 *   - bare-stream, gateway-stream  the bare proxy and the "gateway" config, each asked for a streamed
 *               answer (`"stream":true` and `sse-events=20` in the user message: the mock sends exactly
 *               20 SSE events, one per write). load.ts also times the first body byte (--ttfb); a second
 *               table shows TTFB and total p50/p99 against bare-stream. One request before the load
 *               must get exactly 20 events ending with [DONE], else the target is broken.
 *   - portkey, portkey-stream  (--peers) a peer: Portkey's open-source gateway, the devDependency
 *               @portkey-ai/gateway, `bun --preload bench/portkey-preload.ts …/build/start-server.js
 *               --port=0 --headless` (the preload makes it listen on 127.0.0.1 and print its port;
 *               --headless: no web UI; it makes no outbound connection at start), routed to the mock by
 *               `x-portkey-provider: openai` and `x-portkey-custom-host: <mock>/v1`, POST
 *               /v1/chat/completions; the same JSON or 20-event stream. When it is not installed,
 *               does not start or does not answer a first request, an "unavailable: …" line is
 *               printed instead of its rows, and the exit code does not change.
 *   - gateway-sqlite-same, gateway-shared  (--shared) scale-out, issue 20: the gateway-chain config (token,
 *               metadata, a rate limit counted on every request, a cache MISS looked up and written on
 *               every request, logs with payloads) as ONE process on SQLite and in-process stores, and as
 *               TWO replicas — two `serve` processes started together from one config file with
 *               `storage: { postgres, redis }` — sharing a fresh PostgreSQL database (logs) and a Redis
 *               server (counters, cache, coalescing, breakers). bench/engines.ts starts both engines
 *               (the test suite's servers: loopback, free ports, temp dirs, PostgreSQL as `postgres`
 *               when root); without them installed the target prints "unavailable: …" and the exit
 *               code does not change. The load is split: one load.ts per replica, each with half the
 *               connections (at least one: c=1 is 1 + 1), started together; each replica's bodies carry
 *               its own digit before the number, so one replica's misses are not the other's HITs. The
 *               row's req/s is the sum, p50/p90/mean the request-weighted means of the two drivers',
 *               p99/max the higher; errors also count log records a replica dropped (`GET /health`)
 *               and any line a replica writes to stderr (it warns there when an engine fails and is
 *               then bypassed). Before its load, 20 requests one at a time under Redis MONITOR count
 *               the round trips per request. A third table shows per-replica req/s against the single
 *               process, the CPU per request of the replicas (all threads, and the JavaScript thread
 *               alone), of every PostgreSQL process and of Redis (from /proc), Redis commands
 *               (commandstats) and log rows per PostgreSQL transaction.
 *               How to read it on this machine: 2 cores carry the driver(s), the mock, the gateway
 *               process(es), PostgreSQL and Redis. One process on SQLite is capped by its JavaScript
 *               thread (about one core); two replicas plus two engines share the same 2 cores, so they
 *               cannot each go as fast as the one did — the goal (per-replica req/s ≥ 0.70 × single)
 *               measures this machine's cores as much as the gateway. The column that does not depend on
 *               them is "js × single": the single process's JavaScript-thread µs/req ÷ a replica's, i.e.
 *               a replica's req/s relative to the single process's if each had a core of its own; the
 *               engines' µs/req say what PostgreSQL and Redis need besides.
 *               Diagnostics (--targets only): gateway-shared-1 (one such process alone), gateway-redis-1
 *               and gateway-pg-1 (one process with only Redis, only PostgreSQL): where the extra CPU goes.
 * Default targets: upstream, bare, gateway, gateway-nolog (logging off: issue 17's "logging adds
 * ≤ 6 µs" is judged against it), gateway-chain, gateway-cache-hit, gateway-universal, gateway-ws,
 * bare-stream, gateway-stream. --peers adds portkey and portkey-stream, --shared
 * gateway-sqlite-same and gateway-shared (also with --targets). Other diagnostics (gateway-noplugins,
 * …) run only with --targets.
 * Default connections: 1, 32 and 128 (the goals are judged at 1 and 32; 128 is reported). The
 * estimated run time is printed at the start — about 3 minutes for the default run (30 load
 * runs of 1 + 5 s), 3¾ with --peers — and the actual one at the end.
 * For each connection count, round and target (targets interleaved, so drift on a shared machine
 * hits them alike), bench/load.ts runs as its own process: N keep-alive connections in a closed
 * loop posting the same JSON body (or, for --unique targets, one with a per-request number in it),
 * plus the target's own headers, a warm-up, then `--duration` seconds measured.
 *
 * A third table splits each target's `srv µs/req` by thread (bench/threads.ts: the JavaScript thread,
 * the log writer, the collector's helpers, the JIT, fetch's I/O thread, the rest), so a missed CPU
 * budget shows where the time went; the JSON has it per row as `threads`.
 *
 * The table shows req/s, p50 and p99 latency (ms, until the last body byte), errors, the ratio
 * of req/s to the bare proxy's and the p50/p99 difference from it in ms (for streaming rows: to
 * bare-stream's), the server's CPU time per request (µs, from /proc, the target's own process
 * only; the upstream's is in the JSON) and the load driver's CPU in cores. Rows with first-byte
 * times (streaming targets; every HTTP target under --stream) also appear in a second table:
 * ttfb p50/p99, total p50/p99 and the ttfb differences from their floor. Compare ratios within
 * one run: absolute numbers move with whatever else the (shared, 2-core) machine is doing. With --rounds > 1 the round with the median req/s
 * is shown per (target, connections); every round is in the JSON.
 *
 * Under the table, the performance targets from the issues (GOALS in bench/goals.ts) print as PASS/FAIL lines
 * when the rows they need were run: each is computed per round against the bare proxy's row (or
 * the goal's own reference row: bare-stream, gateway, gateway-sqlite-same) of the same round, and the median over rounds is judged (the per-round values are printed too). A missed
 * goal is reported, not an error: it does not change the exit code.
 *
 * Exits 1 when any target returns errors (any non-2xx answer counts) or one of ours fails to start
 * (a peer that cannot, or gateway-shared without PostgreSQL and Redis, is reported as unavailable),
 * 2 on bad arguments.
 *
 * Adding a target (e.g. a gateway with logging off) is one entry in TARGETS in bench/targets.ts.
 */
import { join } from "node:path";
import { settings } from "./args.ts";
import { checkGoals } from "./goals.ts";
import { machine } from "./measure.ts";
import { printReport, writeReport } from "./output.ts";
import { BUN, HERE, killChildren, killChildrenOnSignals, spawnServer } from "./processes.ts";
import { measureRow, shownRows, type Row } from "./rows.ts";
import { startTargets, type Started } from "./start.ts";
import { selectTargets } from "./targets.ts";

killChildrenOnSignals();

async function main(): Promise<number> {
  const selection = selectTargets(settings);
  if (!selection) return 1;
  const { targets, unavailable } = selection;
  const { connections: connectionsList, duration, warmup, rounds, delay } = settings;

  const info = machine();
  console.log(
    `machine: ${info.cpus} cpus, ${info.cpuModel}, bun ${info.bun}, ${info.os}, load ${info.loadavg.map((x) => x.toFixed(2)).join(" ")}`,
  );
  console.log(
    `run: targets ${targets.map((t) => t.name).join(",")}; connections ${connectionsList.join(",")}; ` +
      `${warmup}s warm-up + ${duration}s; rounds ${rounds}; upstream delay ${delay} ms; ${settings.stream ? "streaming (SSE)" : "JSON"}; client ${settings.client}`,
  );
  // Every (connections, round, target) is one load.ts run (≈ 0.1 s to spawn and report besides its
  // warm-up and duration); starting each server takes a fraction of a second more.
  const loads = connectionsList.length * rounds * targets.length;
  const estimate = loads * (warmup + duration + 0.1) + targets.length * 0.3;
  console.log(`estimated run time: ≈ ${Math.ceil(estimate)} s (${loads} load run${loads === 1 ? "" : "s"} of ${warmup}+${duration} s)`);
  const began = performance.now();

  const upstream = await spawnServer("upstream", [BUN, join(HERE, "upstream.ts"), "--delay", String(delay)]);
  const started: Started = { running: new Map(), traces: new Map(), unavailable };
  const all: Row[] = [];
  let failed = false;
  try {
    failed = await startTargets(targets, upstream, started);
    // Targets interleaved within each (connections, round): drift on a shared machine hits them alike.
    for (const connections of connectionsList) {
      for (let round = 1; round <= rounds; round++) {
        for (const t of targets) {
          const r = started.running.get(t.name);
          if (!r) continue;
          const row = await measureRow(t, r, upstream, connections, round);
          all.push(row);
          process.stderr.write(
            `  ${t.name} c=${connections} round ${round}: ${row.rps.toFixed(0)} req/s` +
              `${row.replicas ? ` (${row.replicas.map((x) => x.rps.toFixed(0)).join(" + ")})` : ""}, p50 ${row.p50} ms` +
              `${row.ttfb_p50 !== undefined ? `, ttfb p50 ${row.ttfb_p50} ms` : ""}, errors ${row.errors}\n`,
          );
          if (row.errors) {
            failed = true;
            console.error(`bench: ${t.name} c=${connections}: ${row.errors} errors, e.g. ${row.errorSamples.join("; ")}`);
          }
        }
      }
    }
  } finally {
    for (const r of started.running.values()) await r.stop();
    await upstream.stop();
  }

  const report = { machine: info, began, targets, started, all, shown: shownRows(all, connectionsList, targets), goals: checkGoals(all, rounds) };
  printReport(report);
  if (settings.json) writeReport(settings.json, settings, report);
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`bench: ${(e as Error).stack ?? e}`);
} finally {
  killChildren();
}
process.exit(code);
