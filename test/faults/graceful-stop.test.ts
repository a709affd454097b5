/**
 * Issue 22, a graceful stop drains WebSocket requests up to its deadline (HTTP requests and streams:
 * test/security/shutdown.test.ts). Requests in flight on a socket when SIGTERM comes finish and are
 * logged, and the socket is closed with 1001 once they have; a request sent meanwhile is refused with
 * 503/2113. Past `server.drainTimeout` each request still running ends in a `universal.error`
 * 503/2113 before the socket closes, and its row says aborted by shutdown; an SSE stream over HTTP
 * cut then ends with an `event: error` saying the same, not that the provider broke it.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";
import { envelopeOf, ULID } from "../support/gateway-error.ts";
import { MOCK_REPLY, startMockUpstream } from "../support/mock-upstream.ts";
import { readAll } from "../support/fault-matrix.ts";
import { gatewayWithMock } from "../support/with-mock.ts";
import { openSocket, wsUrl, type Frame } from "../support/ws-client.ts";

const step = (eventId: string, options: { stream?: boolean; headers?: Record<string, string> } = {}) => ({
  eventId,
  provider: "openai",
  endpoint: "chat/completions",
  headers: { authorization: "Bearer sk-client", ...options.headers },
  query: { model: "gpt-4o-mini", messages: [{ role: "user", content: "stop gently" }], stream: options.stream ?? false },
});

interface StoredRow {
  event_id: string;
  status_code: number;
  success: number;
  aborted: number;
  error_code: number | null;
}

/** The rows on disk once the gateway stopped, by event id. */
function storedRows(file: string): StoredRow[] {
  using db = new Database(file, { readonly: true });
  return db.query<StoredRow, []>("SELECT event_id, status_code, success, aborted, error_code FROM logs ORDER BY event_id").all();
}

/** The text deltas of a request's `universal.stream` frames, joined. */
const streamedText = (frames: Frame[]) =>
  frames
    .filter((frame) => frame.type === "universal.stream")
    .map((frame) => (frame.response as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
    .join("");

/** Resolves once `url` refuses new connections: the stop is under way. */
async function refusing(url: string): Promise<void> {
  for (;;) {
    const refused = await fetch(`${url}/health`).then(
      () => false,
      () => true,
    );
    if (refused) return;
    await Bun.sleep(10);
  }
}

describe("SIGTERM on `serve` with WebSocket requests in flight", () => {
  test(
    "a request waiting for the provider and a stream in progress both finish whole and are logged; a request sent meanwhile gets 2113; then 1001 and exit 0",
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
      await using socket = await openSocket("ws", wsUrl(`${server.url}/v1/local/default`));
      const hold = upstream.holdStream();
      socket.create(step("streaming", { stream: true }));
      socket.create(step("waiting", { headers: { "x-mock-delay": "1500" } }));
      await socket.waitFor((frame) => frame.type === "universal.stream");
      await upstream.waitForRequests(2);

      const exited = server.terminate();
      await refusing(server.url);
      socket.create(step("late"));
      const late = await socket.result("late");
      hold.release();
      const [streaming, waiting] = await Promise.all([socket.result("streaming"), socket.result("waiting")]);
      const closed = await socket.closed;

      expect(late).toEqual([{ type: "universal.error", metadata: { eventId: "late", logId: expect.stringMatching(ULID) }, error: envelopeOf(503, ErrorCode.ShuttingDown) }]);
      expect({ end: streaming.at(-1)!.type, text: streamedText(streaming) }).toEqual({ end: "universal.done", text: MOCK_REPLY });
      expect(waiting).toEqual([expect.objectContaining({ type: "universal.created", response: expect.objectContaining({ choices: [expect.objectContaining({ message: expect.objectContaining({ content: MOCK_REPLY }) })] }) })]);
      expect(closed.code).toBe(1001);
      expect(await exited).toBe(0);
      // The refused frame never ran (as a malformed frame does not): it has no row.
      expect(storedRows(join(dir.path, "data/gateway.db"))).toEqual([
        { event_id: "streaming", status_code: 200, success: 1, aborted: 0, error_code: null },
        { event_id: "waiting", status_code: 200, success: 1, aborted: 0, error_code: null },
      ]);
    },
    30_000,
  );
});

describe("past server.drainTimeout", () => {
  test("each WebSocket request still running ends in universal.error 503/2113 before the socket closes with 1001; the rows say aborted by shutdown", async () => {
    await using t = await gatewayWithMock({ server: { drainTimeout: 200 } });
    const socket = await openSocket("ws", wsUrl(t.gw.base()));
    const hold = t.upstream.holdStream();
    socket.create(step("streaming", { stream: true }));
    socket.create(step("waiting", { headers: { "x-mock-delay": "60000" } }));
    await socket.waitFor((frame) => frame.type === "universal.stream");
    await t.upstream.waitForRequests(2);

    const started = performance.now();
    await t.gw.running.stop();
    const stoppedAfter = performance.now() - started;
    const closed = await socket.closed;
    hold.release();

    const ended = (eventId: string) => socket.frames.filter((frame) => frame.metadata.eventId === eventId).at(-1);
    const shutdownError = (eventId: string) => ({ type: "universal.error", metadata: { eventId, logId: expect.stringMatching(ULID) }, error: envelopeOf(503, ErrorCode.ShuttingDown) });
    expect({ streaming: ended("streaming"), waiting: ended("waiting"), closed: closed.code }).toEqual({
      streaming: shutdownError("streaming"),
      waiting: shutdownError("waiting"),
      closed: 1001,
    });
    expect(stoppedAfter).toBeLessThan(3_000);
    expect(storedRows(join(t.gw.dir, "switchboard.db"))).toEqual([
      { event_id: "streaming", status_code: 200, success: 0, aborted: 1, error_code: ErrorCode.ShuttingDown },
      { event_id: "waiting", status_code: 503, success: 0, aborted: 1, error_code: ErrorCode.ShuttingDown },
    ]);
  });
});

describe("past server.drainTimeout, over HTTP", () => {
  test("an SSE stream still running ends with event: error carrying 503/2113, then a failed connection", async () => {
    await using t = await gatewayWithMock({ server: { drainTimeout: 200 } });
    const hold = t.upstream.holdStream();
    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-client" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "stop gently" }], stream: true }),
    });
    await hold.firstChunkSent;
    const reading = readAll(res);

    await t.gw.running.stop();
    const { text, ended } = await reading;
    hold.release();

    const last = /event: error\ndata: (.*)\n\n$/.exec(text);
    expect({ ended, error: last && JSON.parse(last[1]) }).toEqual({ ended: "error", error: envelopeOf(503, ErrorCode.ShuttingDown) });
  });
});
