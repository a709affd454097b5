import type { Config } from "../src/sdk.ts";
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ErrorCode } from "../src/pipeline/errors.ts";
import { BUN, MAIN, startServe, tempFolder } from "./support/cli.ts";
import { expectGatewayError } from "./support/gateway-error.ts";
import { MOCK_REPLY, expectedUsage, startMockUpstream } from "./support/mock-upstream.ts";
import { gatewayWithMock, replyText } from "./support/with-mock.ts";

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "log this request please" }] };
const post = (headers: Record<string, string> = {}, body: unknown = chat): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: JSON.stringify(body),
});

describe("what a request's headers decide about its log", () => {
  test("cf-aig-collect-log: false keeps no record; the answer still carries a log id", async () => {
    await using t = await gatewayWithMock();

    const hidden = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "cf-aig-collect-log": "false" }));
    const kept = await fetch(`${t.gw.base()}/openai/chat/completions`, post());

    expect([hidden.status, kept.status]).toEqual([200, 200]);
    expect(await replyText(hidden)).toBe(MOCK_REPLY);
    expect(hidden.headers.get("cf-aig-log-id")).toBeTruthy();
    expect(await t.log(hidden)).toBeNull();
    expect((await t.logs()).map((log) => log.id)).toEqual([kept.headers.get("cf-aig-log-id")!]);
  });

  test("cf-aig-collect-log-payload: false keeps the record with usage but without bodies", async () => {
    await using t = await gatewayWithMock();
    const store = t.gw.running.handle.stores.logs;

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "cf-aig-collect-log-payload": "false" }));
    await res.arrayBuffer();

    const id = res.headers.get("cf-aig-log-id")!;
    const usage = expectedUsage(chat);
    expect(await t.log(res)).toMatchObject({ id, model: "gpt-4o-mini", status_code: 200, tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
    expect(await store.payload("default", id, "request")).toEqual({ contentType: "application/json", body: null });
    expect((await store.payload("default", id, "response"))?.body).toBeNull();
  });

  test("an unusable value for a logging header is refused with 400/2104 naming it, before the provider", async () => {
    await using t = await gatewayWithMock();

    const collect = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "cf-aig-collect-log": "maybe" }));
    const payload = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "cf-aig-collect-log-payload": "yes please" }));

    expect(await expectGatewayError(collect, 400, ErrorCode.InvalidHeader)).toContain("cf-aig-collect-log");
    expect(await expectGatewayError(payload, 400, ErrorCode.InvalidHeader)).toContain("cf-aig-collect-log-payload");
    expect(t.upstream.requests).toEqual([]);
  });
});

describe("what the gateway's logs config decides", () => {
  test("logs.collect: false keeps nothing, unless the request asks with cf-aig-collect-log: true", async () => {
    await using t = await gatewayWithMock({ gateways: { quiet: { logs: { collect: false } } } });

    const plain = await fetch(`${t.gw.base("quiet")}/openai/chat/completions`, post());
    const asked = await fetch(`${t.gw.base("quiet")}/openai/chat/completions`, post({ "cf-aig-collect-log": "true" }));

    expect([plain.status, asked.status]).toEqual([200, 200]);
    expect((await t.logs("quiet")).map((log) => log.id)).toEqual([asked.headers.get("cf-aig-log-id")!]);
  });

  test("logs.payloads: false keeps records without bodies", async () => {
    await using t = await gatewayWithMock({ gateways: { lean: { logs: { payloads: false } } } });
    const store = t.gw.running.handle.stores.logs;

    const res = await fetch(`${t.gw.base("lean")}/openai/chat/completions`, post());
    await res.arrayBuffer();

    const id = res.headers.get("cf-aig-log-id")!;
    expect(await t.log(res, "lean")).toMatchObject({ id, gateway_id: "lean", tokens_in: expectedUsage(chat).promptTokens });
    expect([(await store.payload("lean", id, "request"))?.body, (await store.payload("lean", id, "response"))?.body]).toEqual([null, null]);
  });

  test.each<[string, Config]>([
    ["logging alone", { plugins: ["logging"] }],
    // The cache asks for whole answers; the logs must still keep only their own cap.
    ["the cache before it", { plugins: ["cache", "logging"], gateways: { small: { cache: { ttl: 60 }, logs: { maxPayloadBytes: 64 } } } }],
  ])("logs.maxPayloadBytes cuts stored bodies and says so, with %s; the client and the usage are unaffected", async (_, extra) => {
    await using t = await gatewayWithMock({ gateways: { small: { logs: { maxPayloadBytes: 64 } } }, ...extra });
    const store = t.gw.running.handle.stores.logs;
    const body = { ...chat, messages: [{ role: "user", content: "a long prompt ".repeat(20).trim() }] };
    const sent = JSON.stringify(body);

    const res = await fetch(`${t.gw.base("small")}/openai/chat/completions`, post({}, body));
    const received = await res.text();

    expect(JSON.parse(received).choices[0].message.content).toBe(MOCK_REPLY);
    const id = res.headers.get("cf-aig-log-id")!;
    const usage = expectedUsage(body);
    expect(await t.log(res, "small")).toMatchObject({
      request_size: sent.length,
      request_body_truncated: true,
      response_body_truncated: true,
      tokens_in: usage.promptTokens,
      tokens_out: usage.completionTokens,
    });
    const decode = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : null);
    expect({
      request: decode((await store.payload("small", id, "request"))?.body),
      response: decode((await store.payload("small", id, "response"))?.body),
    }).toEqual({ request: sent.slice(0, 64), response: received.slice(0, 64) });
  });

  test("logs.maxRows keeps the newest records (applied to what is on disk)", async () => {
    using dir = tempFolder();
    const sqlite = join(dir.path, "logs.db");
    const config = { storage: { sqlite }, gateways: { default: { logs: { maxRows: 3 } } } };
    const ids: string[] = [];
    {
      await using t = await gatewayWithMock(config);
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ "cf-aig-event-id": `request-${i}` }));
        await res.arrayBuffer();
        ids.push(res.headers.get("cf-aig-log-id")!);
      }
      await t.gw.settle();
    }

    await using restarted = await gatewayWithMock(config);
    const kept = await restarted.logs();
    expect(kept.map((log) => [log.id, log.event_id])).toEqual([
      [ids[2], "request-2"],
      [ids[3], "request-3"],
      [ids[4], "request-4"],
    ]);
  });
});

describe("a graceful stop loses no log", () => {
  test("SIGTERM right after the last answer: the process exits 0 and every request is in the SQLite file", async () => {
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
    const n = 25;

    const answers = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(`${server.url}/v1/local/default/openai/chat/completions`, post({ "cf-aig-event-id": `graceful-${i}` }));
        await res.arrayBuffer();
        return { status: res.status, id: res.headers.get("cf-aig-log-id")! };
      }),
    );
    const code = await server.terminate();

    expect({ code, statuses: answers.map((a) => a.status) }).toEqual({ code: 0, statuses: Array(n).fill(200) });
    using db = new Database(join(dir.path, "data/gateway.db"), { readonly: true });
    const rows = db.query<{ id: string; event_id: string; status_code: number }, []>("SELECT id, event_id, status_code FROM logs ORDER BY event_id").all();
    expect(rows.map((r) => r.id).sort()).toEqual(answers.map((a) => a.id).sort());
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(n);
    expect(rows.every((r) => r.status_code === 200)).toBe(true);
  });
});
