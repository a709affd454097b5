import { describe, expect, test } from "bun:test";
import { detectors } from "../../plugins/guardrails/index.ts";
import type { Config, GuardrailRule } from "../../src/sdk.ts";
import { ErrorCode } from "../../src/sdk.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { startTestGateway } from "../support/gateway.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

const found = (name: keyof typeof detectors, text: string) => detectors[name].find(text).map((s) => text.slice(s.start, s.end));

describe("detectors", () => {
  test("email: addresses, not look-alikes", () => {
    expect(found("email", "write to ada.lovelace+ai@example.co.uk or bob@mail.example.com.")).toEqual(["ada.lovelace+ai@example.co.uk", "bob@mail.example.com"]);
    expect(found("email", "@handle, user@localhost, a@b.c, name@ example.com, 2@3.45")).toEqual([]);
  });

  test("phone: international and grouped numbers, not dates, ids, decimals or addresses", () => {
    expect(found("phone", "call +1 (415) 555-0100 or 555 123 4567, Berlin (030) 1234567, +44 20 7946 0958")).toEqual([
      "+1 (415) 555-0100",
      "555 123 4567",
      "(030) 1234567",
      "+44 20 7946 0958",
    ]);
    expect(found("phone", "on 2024-01-15 and 15.01.2024, order 12345678, pi 3.14159265, host 192.168.100.200, list 1 2 3 4 5 6 7 8, v1.2.3")).toEqual([]);
  });

  test("card: 13–19 digits that pass Luhn, with or without separators", () => {
    expect(found("card", "visa 4111 1111 1111 1111, amex 378282246310005, mc 5555-5555-5555-4444")).toEqual([
      "4111 1111 1111 1111",
      "378282246310005",
      "5555-5555-5555-4444",
    ]);
    expect(found("card", "bad 4111 1111 1111 1112, short 4111 1111 111, long 41111111111111111111111, id 1234567890123")).toEqual([]);
  });

  test("iban: mod-97 checked", () => {
    expect(found("iban", "pay DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432 NOW")).toEqual(["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]);
    expect(found("iban", "bad DE88 3704 0044 0532 0130 00, GB82WEST12345698765433, XX00 ABCD")).toEqual([]);
  });

  test("api-key: the documented shapes", () => {
    const keys = [
      "sk-proj-abcdefghijklmnopqrstuvwx1234",
      "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
      "AKIAIOSFODNN7EXAMPLE",
      `ghp_${"a1".repeat(18)}`,
      "xoxb-1234567890-abcdefghij",
      `AIza${"B".repeat(35)}`,
    ];
    expect(found("api-key", keys.join(" and "))).toEqual(keys);
    expect(found("api-key", "task-management, sk-short, AKIA123, ghp_tooShort, desk-organizer-for-the-office")).toEqual([]);
  });
});

const chatBody = (content: string) => JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "system", content: "be brief" }, { role: "user", content }], temperature: 1.0 });

function withRules(rules: GuardrailRule[], extra: Partial<Config> = {}): Promise<GatewayWithMock> {
  return gatewayWithMock({ gateways: { default: { guardrails: { rules } } }, plugins: ["metadata", "guardrails", "logging"], ...extra });
}

function chat(t: GatewayWithMock, content: string) {
  return fetch(`${t.gw.base()}/openai/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-test" }, body: chatBody(content) });
}

describe("on the prompt", () => {
  test("block: a detector answers 424/2029 and nothing goes upstream", async () => {
    await using t = await withRules([{ detect: "card", action: "block" }]);
    const res = await chat(t, "my card is 4111 1111 1111 1111");
    expect(await expectGatewayError(res, 424, ErrorCode.PromptBlockedDlp)).toContain('guardrail rule "card"');
    expect(t.upstream.requests).toHaveLength(0);
    expect(await t.log(res)).toMatchObject({ status_code: 424, error_code: 2029, success: false });
  });

  test("block: keywords match whole words, case-insensitively, and answer 424/2016", async () => {
    await using t = await withRules([{ detect: { keywords: ["Project Falcon", "cat"] }, action: "block", name: "secret-projects" }]);
    expect((await chat(t, "what is a category?")).status).toBe(200);
    await expectGatewayError(await chat(t, "Tell me about PROJECT falcon."), 424, ErrorCode.PromptBlocked);
    expect(t.upstream.requests).toHaveLength(1);
  });

  test("block: a regex answers 424/2016; role and model values are never checked", async () => {
    await using t = await withRules([{ detect: { regex: "\\buser\\b|gpt", flags: "i" }, action: "block" }]);
    expect((await chat(t, "hello")).status).toBe(200);
    await expectGatewayError(await chat(t, "I am a USER"), 424, ErrorCode.PromptBlocked);
  });

  test("redact: the upstream receives the redacted body, every other byte as sent", async () => {
    await using t = await withRules([{ detect: "email", action: "redact" }, { detect: "api-key", action: "redact", name: "key" }]);
    // Spacing, 1.0 and the \u00e9 escape are kept: only the changed string is re-encoded.
    const body = (content: string) => `{ "model": "gpt-4o-mini",\n  "messages": [{"role": "user", "content": ${content}}], "temperature": 1.0, "user": "caf\\u00e9" }`;
    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
      body: body('"mail ada@example.com my key sk-ant-abcdefghijklmnopqrstuvwxyz \\u00e9"'),
    });
    expect(res.status).toBe(200);
    const sent = body('"mail [REDACTED:email] my key [REDACTED:key] é"');
    expect(t.upstream.lastRequest()!.body).toBe(sent);
    const payload = await t.gw.running.handle.stores.logs.payload("default", (await t.log(res))!.id, "request");
    expect(new TextDecoder().decode(payload!.body!)).toBe(sent);
  });

  test("flag: the request goes through untouched and the log's metadata names the rules", async () => {
    await using t = await withRules([{ detect: "phone", action: "flag" }, { detect: "iban", action: "flag", name: "bank" }]);
    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", "cf-aig-metadata": '{"user":"ada"}' },
      body: chatBody("call +44 20 7946 0958 and pay DE89370400440532013000"),
    });
    expect(res.status).toBe(200);
    expect(t.upstream.lastRequest()!.body).toBe(chatBody("call +44 20 7946 0958 and pay DE89370400440532013000"));
    expect(JSON.parse((await t.log(res))!.metadata!)).toEqual({ user: "ada", guardrails: "phone,bank" });
  });
});

describe("on the answer (JSON)", () => {
  const echo = (t: GatewayWithMock, text: string) =>
    fetch(`${t.gw.base()}/custom-mock/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text }) });

  test("redact: the client and the log get the redacted answer; the prompt went up as sent", async () => {
    await using t = await withRules([{ detect: "email", action: "redact", on: "answer" }]);
    const res = await echo(t, "reach me at ada@example.com");
    const answer = await res.json() as { body: string };
    expect(answer.body).toBe(JSON.stringify({ text: "reach me at [REDACTED:email]" }));
    expect(t.upstream.lastRequest()!.body).toContain("ada@example.com");
    const payload = await t.gw.running.handle.stores.logs.payload("default", (await t.log(res))!.id, "response");
    expect(new TextDecoder().decode(payload!.body!)).not.toContain("ada@example.com");
  });

  test("block: a detector answers 424/2030, a deny-list 424/2017", async () => {
    await using t = await withRules([{ detect: "card", action: "block", on: "answer" }, { detect: { keywords: ["forbidden"] }, action: "block", on: "both" }]);
    const res = await echo(t, "card 5555-5555-5555-4444");
    await expectGatewayError(res, 424, ErrorCode.AnswerBlockedDlp);
    expect(t.upstream.requests).toHaveLength(1);
    expect(await t.log(res)).toMatchObject({ status_code: 424, error_code: 2030 });
    // "both": the prompt is checked first.
    await expectGatewayError(await echo(t, "forbidden"), 424, ErrorCode.PromptBlocked);
    expect(t.upstream.requests).toHaveLength(1);
  });

  test("block on the answer by a deny-list: 424/2017", async () => {
    await using t = await withRules([{ detect: { regex: "s3cr3t" }, action: "block", on: "answer" }]);
    await expectGatewayError(await echo(t, "the s3cr3t"), 424, ErrorCode.AnswerBlocked);
  });
});

/** A provider that streams the given SSE writes, each its own write, in order. */
async function sseUpstream(writes: string[]) {
  const server = Bun.serve({
    port: 0,
    fetch() {
      const encoder = new TextEncoder();
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (i < writes.length) controller.enqueue(encoder.encode(writes[i++]));
          else controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  return { url: server.url.origin, [Symbol.asyncDispose]: () => server.stop(true) };
}

const delta = (content: string) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] })}\n\n`;

async function streamThrough(writes: string[], rules: GuardrailRule[]) {
  await using upstream = await sseUpstream(writes);
  await using gw = await startTestGateway({
    config: { providers: { "custom-sse": { baseUrl: upstream.url } }, gateways: { default: { guardrails: { rules } } }, plugins: ["guardrails", "logging"] },
  });
  const res = await fetch(`${gw.base()}/custom-sse/stream`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const text = await res.text();
  await gw.settle();
  const log = await gw.running.handle.stores.logs.get("default", res.headers.get("cf-aig-log-id")!);
  const payload = await gw.running.handle.stores.logs.payload("default", log!.id, "response");
  return { res, text, log: log!, logged: new TextDecoder().decode(payload?.body ?? new Uint8Array()) };
}

/** The answer text of an OpenAI-shaped SSE stream. */
const contentOf = (sse: string) =>
  sse
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content: string } }[] }).choices[0].delta.content)
    .join("");

describe("on the answer (SSE)", () => {
  test("redact: an e-mail split over two events and two writes is redacted, the stream keeps its shape", async () => {
    const writes = [delta("Hello, write to ada.love"), delta("lace@exam").slice(0, 20), delta("lace@exam").slice(20), delta("ple.com today. ") + delta("Bye."), "data: [DONE]\n\n"];
    const { res, text, logged } = await streamThrough(writes, [{ detect: "email", action: "redact", on: "answer" }]);
    expect(res.status).toBe(200);
    expect(contentOf(text)).toBe("Hello, write to [REDACTED:email] today. Bye.");
    expect(text.split("\n\n").filter(Boolean)).toHaveLength(5);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(logged).toBe(text);
  });

  test("events without a match pass byte for byte", async () => {
    const writes = [delta("nothing "), delta("to see"), "data: [DONE]\n\n"];
    const { text } = await streamThrough(writes, [{ detect: "email", action: "redact", on: "answer" }]);
    expect(text).toBe(writes.join(""));
  });

  test("block: the stream ends with the gateway's SSE error event (424/2030) and the log says so", async () => {
    const writes = [delta("Here it is: 4111 "), delta("1111 1111 1111"), delta(" — and more text that never arrives"), "data: [DONE]\n\n"];
    const { res, text, log } = await streamThrough(writes, [{ detect: "card", action: "block", on: "answer" }]);
    expect(res.status).toBe(200);
    expect(text).not.toContain("1111 1111");
    const events = text.split("\n\n").filter(Boolean);
    const last = events.at(-1)!;
    expect(last.startsWith("event: error\ndata: ")).toBe(true);
    expect(JSON.parse(last.slice("event: error\ndata: ".length))).toMatchObject({ name: "AiGatewayError", internalCode: 2030, httpCode: 424 });
    expect(log).toMatchObject({ error_code: 2030, success: false });
  });

  test("flag: recorded in the log's metadata, the stream untouched", async () => {
    const writes = [delta("call +1 415 "), delta("555 0100"), "data: [DONE]\n\n"];
    const { text, log } = await streamThrough(writes, [{ detect: "phone", action: "flag", on: "answer" }]);
    expect(text).toBe(writes.join(""));
    expect(JSON.parse(log.metadata!)).toEqual({ guardrails: "phone" });
  });
});

test("a regex that does not compile stops the start, naming the rule", async () => {
  await expect(startTestGateway({ config: { gateways: { default: { guardrails: { rules: [{ detect: { regex: "(" }, action: "block" }] } } }, plugins: ["guardrails"] } })).rejects.toThrow(
    /gateways\.default\.guardrails\.rules\[0\]\.detect\.regex does not compile/,
  );
});
