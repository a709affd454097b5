import { describe, expect, test } from "bun:test";
import { parseTraceparent } from "../src/server/otel/span.ts";
import { expectedUsage } from "./support/mock-upstream.ts";
import { attributesOf, spansOf, startCollector } from "./support/otel-collector.ts";
import { gatewayWithMock, type GatewayWithMock } from "./support/with-mock.ts";

const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "trace this request" }] };

const post = (t: GatewayWithMock, headers: Record<string, string> = {}) =>
  fetch(`${t.gw.base()}/openai/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
    body: JSON.stringify(body),
  });

describe("OpenTelemetry export", () => {
  test("each request becomes one OTLP/JSON span with the gen_ai attributes", async () => {
    await using collector = await startCollector();
    await using t = await gatewayWithMock({ server: { otel: { endpoint: collector.url, batchSize: 1, headers: { "x-collector-key": "k-123" } } } });
    const before = Date.now();
    const res = await post(t);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const [request] = await collector.received(1);
    expect(request.path).toBe("/v1/traces");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["x-collector-key"]).toBe("k-123");
    expect(request.body.resourceSpans[0].resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "switchboard" } });
    const [span] = spansOf(request);
    const usage = expectedUsage(body);
    const log = await t.log(res);
    expect(attributesOf(span)).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.system": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": expect.any(String),
      "gen_ai.usage.input_tokens": String(usage.promptTokens),
      "gen_ai.usage.output_tokens": String(usage.completionTokens),
      "http.response.status_code": "200",
      "switchboard.gateway": "default",
      "switchboard.log_id": res.headers.get("cf-aig-log-id")!,
      "switchboard.cached": false,
      // Present exactly when the record has a price, with the logged cost.
      ...(log!.cost === null ? {} : { "switchboard.cost_usd": log!.cost }),
    });
    expect(span).toMatchObject({ name: "chat gpt-4o-mini", kind: 2 });
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.status).toBeUndefined();
    const start = Number(BigInt(span.startTimeUnixNano) / 1_000_000n);
    const end = Number(BigInt(span.endTimeUnixNano) / 1_000_000n);
    expect(start).toBeGreaterThanOrEqual(before - 1);
    expect(end).toBeGreaterThanOrEqual(start);
    expect(end).toBeLessThanOrEqual(Date.now());
  });

  test("a client's traceparent makes the span a child in the client's trace", async () => {
    await using collector = await startCollector();
    await using t = await gatewayWithMock({ server: { otel: { endpoint: collector.url, batchSize: 1 } } });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parent = "00f067aa0ba902b7";
    (await post(t, { traceparent: `00-${traceId}-${parent}-01` })).body?.cancel();
    const [span] = spansOf((await collector.received(1))[0]);
    expect(span.traceId).toBe(traceId);
    expect(span.parentSpanId).toBe(parent);
    expect(span.spanId).not.toBe(parent);
  });

  test("a failed request is a span with the error status", async () => {
    await using collector = await startCollector();
    await using t = await gatewayWithMock({ server: { otel: { endpoint: collector.url, batchSize: 1 } } });
    expect((await post(t, { "x-mock-status": "503" })).status).toBe(503);
    const [span] = spansOf((await collector.received(1))[0]);
    expect(span.status).toEqual({ code: 2, message: "HTTP 503" });
    expect(attributesOf(span)).toMatchObject({ "http.response.status_code": "503", "error.type": "503" });
  });

  test("spans still queued are sent on a graceful stop", async () => {
    await using collector = await startCollector();
    const t = await gatewayWithMock({ server: { otel: { endpoint: collector.url, batchSize: 100, intervalMs: 600_000 } } });
    for (let i = 0; i < 3; i++) await (await post(t)).arrayBuffer();
    expect(collector.requests).toEqual([]);
    await t[Symbol.asyncDispose]();
    expect(spansOf((await collector.received(1))[0])).toHaveLength(3);
  });

  test("a failing collector does not affect requests and shows in /health", async () => {
    await using collector = await startCollector({ status: 503 });
    await using t = await gatewayWithMock({ server: { otel: { endpoint: collector.url, batchSize: 1 } } });
    const first = await post(t);
    const second = await post(t);
    expect([first.status, second.status]).toEqual([200, 200]);
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()]);
    // One export at a time: the second arrives only after the first failure was reported.
    await collector.received(2);
    const health = (await (await fetch(`${t.gw.url}/health`)).json()) as { status: string; faults: { component: string; reason: string }[]; stats: Record<string, Record<string, number>> };
    expect(health.status).toBe("degraded");
    expect(health.faults).toContainEqual(expect.objectContaining({ component: "otel", reason: "exporting spans: HTTP_503" }));
    expect(health.stats.otel.failed).toBeGreaterThanOrEqual(1);
  });
});

describe("parseTraceparent", () => {
  test("reads a valid header and rejects malformed ones", () => {
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(parseTraceparent(`00-${trace}-00f067aa0ba902b7-01`)).toEqual({ traceId: trace, parentSpanId: "00f067aa0ba902b7" });
    expect(parseTraceparent(`01-${trace}-00f067aa0ba902b7-01-future`)).toEqual({ traceId: trace, parentSpanId: "00f067aa0ba902b7" });
    for (const bad of [
      null,
      "",
      `ff-${trace}-00f067aa0ba902b7-01`,
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-${trace}-${"0".repeat(16)}-01`,
      `00-${trace.toUpperCase()}-00f067aa0ba902b7-01`,
      `00-${trace}-00f067aa0ba902b7-01-extra`,
      `00-${trace}-00f067aa0ba902b7`,
    ]) {
      expect(parseTraceparent(bad)).toBeNull();
    }
  });
});
