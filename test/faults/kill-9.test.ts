/**
 * Issue 22, `kill -9` during load. `serve` logs every request (with payloads) to a SQLite file while
 * 16 clients keep it busy; it is killed with SIGKILL mid-load. The file must open and pass
 * `PRAGMA integrity_check`, the gateway must start again on it, and of the requests whose answers the
 * clients had received, at most the documented flush window may be missing from it.
 *
 * The window (src/store/sqlite/logs.ts): a record is queued after its answer went out and written in
 * one transaction per batch by the log writer thread, the batch sent after at most `flushIntervalMs`
 * (50 ms) or as soon as `batchSize` (256) records wait. What a crash can lose is what was queued or
 * being written: at most rate × 50 ms + one batch of 256. Committed transactions survive a process
 * crash (WAL, synchronous=NORMAL).
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";

/** `flushIntervalMs` of the SQLite log store (its default). */
const FLUSH_INTERVAL_MS = 50;
/** `batchSize` of the SQLite log store (its default). */
const BATCH_SIZE = 256;
const CLIENTS = 16;
const LOAD_MS = 2_000;
const WARM_UP = 200;

const BENCH_UPSTREAM = join(import.meta.dir, "../../bench/upstream.ts");

/** bench/upstream.ts in its own process, as `bun run bench` runs it. */
async function benchUpstream(): Promise<{ url: string; [Symbol.asyncDispose](): Promise<void> }> {
  const proc = Bun.spawn([BUN, BENCH_UPSTREAM], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const decoder = new TextDecoder();
  let printed = "";
  for await (const chunk of proc.stdout) {
    printed += decoder.decode(chunk, { stream: true });
    if (/listening on http:\/\/\S+\n/.test(printed)) break;
  }
  const url = /listening on (http:\/\/\S+)/.exec(printed)?.[1];
  if (!url) throw new Error(`bench/upstream.ts printed no address: ${printed}`);
  return {
    url,
    async [Symbol.asyncDispose]() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

test(
  "SIGKILL mid-load leaves a database that opens, passes integrity_check, serves again, and lacks at most the flush window of answered requests",
  async () => {
    await using upstream = await benchUpstream();
    using dir = tempFolder({
      "gateway.config.ts": `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  gateways: { default: { logs: { collect: true, payloads: true } } },
  plugins: ["logging"],
});
`,
    });
    const config = join(dir.path, "gateway.config.ts");
    const file = join(dir.path, "data/gateway.db");
    await using server = await startServe([BUN, MAIN, "serve", "--config", config, "--port", "0"], { cwd: dir.path });
    const url = `${server.url}/v1/local/default/openai/chat/completions`;
    const init = { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-client" }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "kill me softly" }] }) };
    const warmUp: number[] = [];
    for (let i = 0; i < WARM_UP; i++) warmUp.push((await fetch(url, init)).status);
    expect(warmUp.every((status) => status === 200)).toBe(true);

    // Answered: the whole answer reached the client before the kill. Both happen on this thread, so the cut is exact.
    const answered: string[] = [];
    let killed = false;
    const client = async () => {
      while (!killed) {
        try {
          const res = await fetch(url, init);
          await res.arrayBuffer();
          if (!killed && res.status === 200) answered.push(res.headers.get("cf-aig-log-id")!);
        } catch {
          // The connections in flight die with the process.
        }
      }
    };
    const started = performance.now();
    const clients = Array.from({ length: CLIENTS }, client);
    await Bun.sleep(LOAD_MS);
    server.proc.kill("SIGKILL");
    killed = true;
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(clients);
    expect(await server.proc.exited).not.toBe(0);
    expect(server.proc.signalCode).toBe("SIGKILL");

    const rate = answered.length / seconds;
    const window = Math.ceil((rate * FLUSH_INTERVAL_MS) / 1000) + BATCH_SIZE;
    let stored: Set<string>;
    {
      using db = new Database(file);
      expect(db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      stored = new Set(db.query<{ id: string }, []>("SELECT id FROM logs").all().map((row) => row.id));
    }
    const missing = answered.filter((id) => !stored.has(id)).length;
    console.log(
      `kill -9 after ${seconds.toFixed(2)} s at ${Math.round(rate)} req/s: ${answered.length} answered, ${missing} missing ` +
        `(${((100 * missing) / answered.length).toFixed(3)}%, ${((1000 * missing) / rate).toFixed(1)} ms of traffic); allowed ${window}`,
    );
    expect(answered.length).toBeGreaterThan(1_000);
    expect(missing).toBeLessThanOrEqual(window);

    // The gateway starts again on the file it was killed over, and writes to it.
    await using again = await startServe([BUN, MAIN, "serve", "--config", config, "--port", "0"], { cwd: dir.path });
    const res = await fetch(`${again.url}/v1/local/default/openai/chat/completions`, init);
    expect(res.status).toBe(200);
    expect(await again.terminate()).toBe(0);
    using db = new Database(file, { readonly: true });
    expect(db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM logs WHERE id = ?").get(res.headers.get("cf-aig-log-id")!)).toEqual({ n: 1 });
    expect(db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM logs").get()!.n).toBe(stored.size + 1);
  },
  60_000,
);
