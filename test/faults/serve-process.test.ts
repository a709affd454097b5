/**
 * Issue 22, the process survives every fault: `serve` (a real subprocess, as an operator runs it)
 * meets every upstream fault on every transport at once — provider route, Universal, WebSocket,
 * compat passing through and compat translating. Every request gets its answer, `/health` stays ok,
 * SIGTERM still stops it cleanly (exit 0), stderr holds no crash and no internal error, and the
 * SQLite file holds one row per request, failures and successes as they were.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";
import { chatBody, post, readAll, LIMIT_MS } from "../support/fault-matrix.ts";
import { FAULT_NAMES, startFaultUpstream, type FaultName } from "../support/fault-upstream.ts";
import { openSocket, wsUrl } from "../support/ws-client.ts";

/** The faults whose requests end well on every transport (the rest fail, each with its code). */
const ENDING_WELL: FaultName[] = ["ok", "ok-stream", "garbage-sse", "split-sse", "no-done"];

test(
  "every fault on every transport at once: all answered, /health ok, exit 0 on SIGTERM, nothing on stderr, one row per request",
  async () => {
    await using upstream = await startFaultUpstream();
    using dir = tempFolder({
      "gateway.config.ts": `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" }, anthropic: { baseUrl: "${upstream.url}" } },
  gateways: { default: { requestTimeout: ${LIMIT_MS}, streamIdleTimeout: ${LIMIT_MS}, breaker: { failures: 1000000 } } },
  plugins: ["fallback", "logging"],
});
`,
    });
    await using server = await startServe([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
    const base = `${server.url}/v1/local/default`;
    await using socket = await openSocket("ws", wsUrl(base));

    // Each answer, down to its last byte or frame: nothing hangs. A body that breaks before its first
    // chunk fails the connection before the status line (see expectHttpFault): that is an answer too.
    const http = (url: string, body: unknown) =>
      fetch(url, post(body)).then(
        async (res) => ({ status: res.status, ...(await readAll(res)) }),
        () => ({ status: 0, ended: "error" }),
      );
    const answers = await Promise.all(
      FAULT_NAMES.flatMap((fault) => [
        http(`${base}/openai/chat/completions`, chatBody(fault)),
        http(base, [{ provider: "openai", endpoint: "chat/completions", headers: {}, query: chatBody(fault) }]),
        http(`${base}/compat/chat/completions`, chatBody(fault, `openai/fault-${fault}`)),
        http(`${base}/compat/chat/completions`, chatBody(fault, `anthropic/fault-${fault}`)),
        (async () => {
          socket.create({ eventId: fault, provider: "openai", endpoint: "chat/completions", headers: {}, query: chatBody(fault) });
          const frames = await socket.result(fault);
          return { status: frames.at(-1)!.error?.httpCode ?? 200 };
        })(),
      ]),
    );
    const health = await fetch(`${server.url}/health`);
    const healthBody = (await health.json()) as { status: string };
    const exitCode = await server.terminate();

    expect(answers).toHaveLength(FAULT_NAMES.length * 5);
    expect(upstream.requests).toHaveLength(FAULT_NAMES.length * 5);
    expect({ health: health.status, status: healthBody.status, exitCode }).toEqual({ health: 200, status: "ok", exitCode: 0 });
    // Not a line: no crash, no internal error, and no warning — a provider's fault is the record's business.
    expect(server.output().stderr).toBe("");
    using db = new Database(join(dir.path, "data/gateway.db"), { readonly: true });
    const rows = db.query<{ model: string; request_type: string; success: number }, []>("SELECT model, request_type, success FROM logs").all();
    expect(rows).toHaveLength(FAULT_NAMES.length * 5);
    const succeeded = rows.filter((row) => row.success === 1).map((row) => `${row.request_type} ${row.model}`);
    // no-done through the Anthropic translation is not a success: message_stop never came (2114).
    const expected = ENDING_WELL.flatMap((fault) => ["provider", "universal", "compat", ...(fault === "no-done" ? [] : ["compat"]), "websocket"].map((type) => `${type} fault-${fault}`));
    expect(succeeded.sort()).toEqual(expected.sort());
  },
  30_000,
);
