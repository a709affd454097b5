/**
 * Issue 14: request bodies are bounded — in size (`server.maxBodyBytes`), in memory held across
 * connections (`server.bodyMemoryBytes`), in arrival rate (`server.minBodyRate` over
 * `server.bodyRateWindow`) — and a refusal that needs no body (auth) reads none. Everything runs
 * against the real server: raw sockets where `fetch` cannot send the shape, a child process where
 * the process's own memory is the thing measured.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, ftruncateSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { BUN, MAIN, startServe, tempFolder } from "../support/cli.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { startMockUpstream } from "../support/mock-upstream.ts";
import { openConnection, type RawConnection } from "../support/raw-connection.ts";
import { rawHttp } from "../support/raw-http.ts";
import { bodyArrival } from "../support/body-arrival.ts";
import { gatewayWithMock } from "../support/with-mock.ts";

const MiB = 1024 * 1024;
const CHAT = "/v1/local/default/openai/chat/completions";
const TOKEN = "a-token-of-16-chars-or-more";
const chat = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

/** A POST head for the chat endpoint with the given extra header lines. */
const head = (...headers: string[]) => [`POST ${CHAT} HTTP/1.1`, "Host: gateway", "Content-Type: application/json", ...headers, "", ""].join("\r\n");

/** A file of `bytes` zeros that takes no disk (sparse), so a 99 MB upload costs the test nothing. */
function sparseFile(path: string, bytes: number): string {
  const fd = openSync(path, "w");
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return path;
}

/** The peak resident memory of a process so far, in bytes (`VmHWM` in /proc/<pid>/status). */
function peakRss(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** A chat request body of exactly `size` bytes, still valid JSON so the provider mock answers normally. */
function chatOfSize(size: number): string {
  const padding = size - chat.length - ',"pad":""'.length;
  return `${chat.slice(0, -1)},"pad":"${"x".repeat(padding)}"}`;
}

async function expectStillServing(url: string): Promise<void> {
  const res = await fetch(`${url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body: chat });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
}

describe("bodies are not read before auth", () => {
  test(
    "four concurrent 99 MB uploads without a token get 401 and leave the process's peak memory where it was; with the token a 20 MB body reaches the provider whole",
    async () => {
      await using upstream = await startMockUpstream();
      using dir = tempFolder({
        "gateway.config.ts": `import { defineConfig } from "switchboard";
export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  gateways: { default: { authentication: true, tokens: ["${TOKEN}"] } },
});
`,
      });
      const big = sparseFile(join(dir.path, "big.bin"), 99 * MiB);
      const medium = sparseFile(join(dir.path, "medium.bin"), 20 * MiB);
      await using server = await startServe([BUN, MAIN, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });
      const url = `${server.url}${CHAT}`;
      // One refusal first, so what start-up and the first request cost is in the baseline.
      const warmUp = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: chat });
      await expectGatewayError(warmUp, 401, ErrorCode.Unauthorized);
      const before = peakRss(server.proc.pid);

      const refusals = await Promise.all(
        Array.from({ length: 4 }, () => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: Bun.file(big) })),
      );

      for (const res of refusals) await expectGatewayError(res, 401, ErrorCode.Unauthorized);
      const growth = peakRss(server.proc.pid) - before;
      expect(growth).toBeLessThan(60 * MiB);
      expect(upstream.requests).toEqual([]);

      const allowed = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-aig-authorization": `Bearer ${TOKEN}` },
        body: Bun.file(medium),
      });
      await allowed.arrayBuffer();
      expect(allowed.status).toBe(200);
      expect(upstream.requests.map((r) => ({ path: r.path, size: r.body.length }))).toEqual([{ path: "/v1/chat/completions", size: 20 * MiB }]);
    },
    30_000,
  );
});

describe("the size limit answers with the envelope", () => {
  test("a declared Content-Length far above maxBodyBytes gets the 413 envelope, not Bun's bare 413, before any byte of the body", async () => {
    await using t = await gatewayWithMock();

    const answer = await rawHttp(t.gw.url, head("Content-Length: 10000000000", "Connection: close"));

    expect(answer.statusLine).toStartWith("HTTP/1.1 413");
    await expectGatewayError(answer.response(), 413, ErrorCode.BodyTooLarge);
    expect(t.upstream.requests).toEqual([]);
  });

  test("a chunked body that passes maxBodyBytes gets the 413 envelope and nothing goes upstream", async () => {
    await using t = await gatewayWithMock({ server: { maxBodyBytes: 1024 } });
    const chunk = "x".repeat(1000);
    const chunked = Array.from({ length: 5 }, () => `${(1000).toString(16)}\r\n${chunk}\r\n`).join("") + "0\r\n\r\n";

    const answer = await rawHttp(t.gw.url, head("Transfer-Encoding: chunked", "Connection: close") + chunked);

    expect(answer.statusLine).toStartWith("HTTP/1.1 413");
    await expectGatewayError(answer.response(), 413, ErrorCode.BodyTooLarge);
    expect(t.upstream.requests).toEqual([]);
    expect(await t.log(answer.headers["cf-aig-log-id"])).toMatchObject({ status_code: 413, success: false, error_code: ErrorCode.BodyTooLarge });
  });
});

describe("the body memory budget", () => {
  test("a body that does not fit beside those held gets 503 with Retry-After; finishing the held one frees its share", async () => {
    const arrival = bodyArrival();
    await using t = await gatewayWithMock({ server: { bodyMemoryBytes: 1_000_000 }, plugins: [arrival.plugin, "logging"] });
    const first = chatOfSize(800_000);
    const second = chatOfSize(800_000);
    await using slow = await openConnection(t.gw.url);
    slow.write(head(`Content-Length: ${first.length}`) + first.slice(0, 1000));
    await arrival.reading;

    const refused = await fetch(`${t.gw.url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body: second });

    expect(refused.headers.get("retry-after")).toBe("1");
    await expectGatewayError(refused, 503, ErrorCode.Busy);

    slow.write(first.slice(1000));
    const answer = await slow.answer;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ object: "chat.completion" });
    // Its answer is out, so its share is back: the next body fits at once.
    const third = await fetch(`${t.gw.url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body: second });
    await third.arrayBuffer();
    expect(third.status).toBe(200);
    expect(t.upstream.requests.map((r) => r.body)).toEqual([first, second]);
    expect(await t.log(refused)).toMatchObject({ status_code: 503, success: false, error_code: ErrorCode.Busy });
  });
});

describe("a body that trickles in slower than minBodyRate is cut with 408", () => {
  const slowRate = { server: { minBodyRate: 10_000, bodyRateWindow: 200 } };

  const sizes = [
    ["a large body, read chunk by chunk", 200_000],
    ["a small body, read in one call", 5_000],
  ] as const;

  /** Sends the head, then 10 bytes every 50 ms: 200 bytes/s, far below 10,000. */
  function trickle(conn: RawConnection, length: number): void {
    conn.write(head(`Content-Length: ${length}`) + "{");
    conn.writeEvery(50, "          ");
  }

  test.each(sizes)("%s: 408 envelope, nothing goes upstream, the log says why", async (_, length) => {
    await using t = await gatewayWithMock(slowRate);
    await using conn = await openConnection(t.gw.url);

    trickle(conn, length);
    const answer = await conn.answer;

    expect(answer.statusLine).toStartWith("HTTP/1.1 408");
    await expectGatewayError(answer.response(), 408, ErrorCode.BodyTooSlow);
    expect(t.upstream.requests).toEqual([]);
    expect(await t.log(answer.headers["cf-aig-log-id"])).toMatchObject({ status_code: 408, success: false, error_code: ErrorCode.BodyTooSlow });
  });

  test.each(sizes)(
    "%s: after the 408 the gateway closes the connection, though the client is still sending",
    async (_, length) => {
      await using t = await gatewayWithMock(slowRate);
      await using conn = await openConnection(t.gw.url);

      trickle(conn, length);
      const answer = await conn.answer;

      expect(answer.status).toBe(408);
      expect(answer.headers.connection).toBe("close");
      await conn.closed;
    },
    3_000,
  );

  test("a body sent at once passes, large or small", async () => {
    await using t = await gatewayWithMock(slowRate);
    const bodies = [chatOfSize(200_000), chatOfSize(5_000)];

    for (const body of bodies) {
      const res = await fetch(`${t.gw.url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    }

    expect(t.upstream.requests.map((r) => r.body)).toEqual(bodies);
  });
});

describe("the client that leaves while sending its body", () => {
  test("the gateway ends that request, sends nothing upstream, records it, and keeps serving", async () => {
    await using t = await gatewayWithMock();
    const body = chatOfSize(100_000);
    const conn = await openConnection(t.gw.url);

    conn.write(head(`Content-Length: ${body.length}`) + body.slice(0, 1000));
    conn.destroy();

    await expectStillServing(t.gw.url);
    const logs = await t.logs();
    expect(logs.map((log) => ({ status: log.status_code, success: log.success, aborted: log.aborted, error: log.error_code }))).toEqual([
      { status: 499, success: false, aborted: true, error: ErrorCode.ClientClosed },
      { status: 200, success: true, aborted: false, error: null },
    ]);
    expect(t.upstream.requests.map((r) => r.body)).toEqual([chat]);
  });
});
