/**
 * Issue 14: a stop is bounded in time and loses no record. Requests in flight — streams included —
 * get `server.drainTimeout` to finish; past it they are ended, the client sees the end (503/2113
 * before the provider answered, a broken stream after), and each keeps a log row saying it was
 * ended by shutdown. Rows are read from the SQLite file after the stop, as an operator would.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { MOCK_REPLY, startMockUpstream } from "../support/mock-upstream.ts";
import { openConnection } from "../support/raw-connection.ts";
import { bodyArrival } from "../support/body-arrival.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "stop gently" }] };
const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: JSON.stringify(body),
});

interface StoredRow {
  status_code: number;
  success: number;
  aborted: number;
  error_code: number | null;
}

/** The log row as it is on disk once the gateway stopped (the store is closed by then). */
function storedRow(file: string, id: string): StoredRow | null {
  using db = new Database(file, { readonly: true });
  return db.query<StoredRow, [string]>("SELECT status_code, success, aborted, error_code FROM logs WHERE id = ?").get(id);
}

const dbOf = (t: GatewayWithMock) => join(t.gw.dir, "switchboard.db");

/** The text deltas of an OpenAI chat stream, joined. */
function streamedText(sse: string): string {
  return sse
    .split("\n")
    .filter((line) => line.startsWith("data: {"))
    .map((line) => (JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
    .join("");
}

/** Reads a body to its end; resolves with what arrived and how it ended. */
async function readToEnd(body: ReadableStream<Uint8Array>): Promise<{ text: string; error: unknown }> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for await (const chunk of body) text += decoder.decode(chunk, { stream: true });
    return { text, error: null };
  } catch (error) {
    return { text, error };
  }
}

describe("a stop waits for requests in flight", () => {
  test("a stream in flight when stop() is called is delivered whole while new connections are refused; then the stop completes and the row says success", async () => {
    await using t = await gatewayWithMock();
    const hold = t.upstream.holdStream();
    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ ...chat, stream: true }));
    expect(res.status).toBe(200);
    const reading = readToEnd(res.body!);
    await hold.firstChunkSent;

    const stopping = t.gw.running.stop();
    // The stop is under way (no new connection is accepted) while the stream is still held.
    expect(await fetch(`${t.gw.url}/health`).then((r) => r.status, () => "refused")).toBe("refused");
    hold.release();
    const { text, error } = await reading;
    await stopping;

    expect(error).toBeNull();
    expect(text.trimEnd()).toEndWith("data: [DONE]");
    expect(streamedText(text)).toBe(MOCK_REPLY);
    expect(storedRow(dbOf(t), res.headers.get("cf-aig-log-id")!)).toEqual({ status_code: 200, success: 1, aborted: 0, error_code: null });
  });

  test(
    "SIGTERM on `serve` while a request waits 12 s for the provider: the client gets the whole answer, the process exits 0, the row is on disk",
    async () => {
      await using upstream = await startMockUpstream();
      using dir = tempFolder({
        "gateway.config.ts": `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  plugins: ["logging"],
});
`,
      });
      await using server = await startServe([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
      // Longer than the fixed 10-second cap the drain used to have; the default drainTimeout is 30 s.
      const answering = fetch(`${server.url}/v1/local/default/openai/chat/completions`, post(chat, { "x-mock-delay": "12000" }));
      await upstream.waitForRequests(1);

      const exited = server.terminate();
      const res = await answering;
      const body = (await res.json()) as { choices: { message: { content: string } }[] };

      expect({ status: res.status, reply: body.choices[0].message.content, exitCode: await exited }).toEqual({ status: 200, reply: MOCK_REPLY, exitCode: 0 });
      expect(storedRow(join(dir.path, "data/gateway.db"), res.headers.get("cf-aig-log-id")!)).toEqual({ status_code: 200, success: 1, aborted: 0, error_code: null });
    },
    30_000,
  );
});

describe("past server.drainTimeout the stop ends what is still running, and says so", () => {
  const quickDrain = { server: { drainTimeout: 200 } };

  test("a stream still held is cut: the client's read fails, the row says aborted by shutdown", async () => {
    await using t = await gatewayWithMock(quickDrain);
    t.upstream.holdStream();
    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ ...chat, stream: true }));
    expect(res.status).toBe(200);
    const reading = readToEnd(res.body!);

    const started = performance.now();
    await t.gw.running.stop();
    const stoppedAfter = performance.now() - started;
    const { text, error } = await reading;

    expect(stoppedAfter).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(Error);
    expect(text).not.toContain("[DONE]");
    expect(storedRow(dbOf(t), res.headers.get("cf-aig-log-id")!)).toEqual({ status_code: 200, success: 0, aborted: 1, error_code: ErrorCode.ShuttingDown });
  });

  test("a request whose provider has not answered yet gets the 503 envelope with code 2113, and its row", async () => {
    await using t = await gatewayWithMock(quickDrain);
    const answering = fetch(`${t.gw.base()}/openai/chat/completions`, post(chat, { "x-mock-delay": "60000" }));
    await t.upstream.waitForRequests(1);

    const started = performance.now();
    await t.gw.running.stop();
    const stoppedAfter = performance.now() - started;
    const res = await answering;

    expect(stoppedAfter).toBeLessThan(3_000);
    await expectGatewayError(res, 503, ErrorCode.ShuttingDown);
    expect(storedRow(dbOf(t), res.headers.get("cf-aig-log-id")!)).toEqual({ status_code: 503, success: 0, aborted: 1, error_code: ErrorCode.ShuttingDown });
  });

  test("a request still sending its body gets the 503 envelope with code 2113, and its row says so", async () => {
    const arrival = bodyArrival();
    await using t = await gatewayWithMock({ ...quickDrain, plugins: [arrival.plugin, "logging"] });
    await using conn = await openConnection(t.gw.url);
    conn.write(["POST /v1/local/default/openai/chat/completions HTTP/1.1", "Host: gateway", "Content-Type: application/json", "Content-Length: 100000", "", "{"].join("\r\n"));
    await arrival.reading;

    await t.gw.running.stop();
    const answer = await conn.answer;

    await expectGatewayError(answer.response(), 503, ErrorCode.ShuttingDown);
    expect(storedRow(dbOf(t), answer.headers["cf-aig-log-id"])).toEqual({ status_code: 503, success: 0, aborted: 1, error_code: ErrorCode.ShuttingDown });
    expect(t.upstream.requests).toEqual([]);
  });
});
