import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { MOCK_REPLY, expectedUsage } from "./support/mock-upstream.ts";
import { gatewayWithMock, replyText } from "./support/with-mock.ts";

const decoder = new TextDecoder();
type Reader = { read(): Promise<{ done: boolean; value?: Uint8Array }> };
const chat = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "stream me a greeting" }] };
const post = (body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
  body: JSON.stringify(body),
  signal,
});

/** Reads until `text` contains `marker`; returns everything read so far. */
async function readUntil(reader: Reader, marker: string, text = ""): Promise<string> {
  while (!text.includes(marker)) {
    const { value, done } = await reader.read();
    if (done || !value) throw new Error(`stream ended before ${JSON.stringify(marker)}; got ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

async function readToEnd(reader: Reader, text = ""): Promise<string> {
  for (;;) {
    const { value, done } = await reader.read();
    if (done || !value) return text;
    text += decoder.decode(value, { stream: true });
  }
}

/** The `data:` payloads of an SSE text. */
const dataOf = (sse: string) =>
  sse
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => line.slice(6));

describe("SSE passes through unbuffered", () => {
  test("the first chunk reaches the client while the provider still holds the rest", async () => {
    await using t = await gatewayWithMock();
    const hold = t.upstream.holdStream();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ ...chat, stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const early = await readUntil(reader, `"content":"Hello"`);
    await hold.firstChunkSent;

    // The provider has sent the first delta and is holding; the client already has it.
    expect(early).not.toContain("[DONE]");
    expect(early).not.toContain(`" from"`);
    hold.release();
    const all = await readToEnd(reader, early);

    const data = dataOf(all);
    expect(data.at(-1)).toBe("[DONE]");
    const text = data
      .slice(0, -1)
      .map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "")
      .join("");
    expect(text).toBe(MOCK_REPLY);
    expect(await t.log(res)).toMatchObject({ status_code: 200, success: true, aborted: false, response_content_type: "text/event-stream; charset=utf-8" });
  });

  test("a provider stream that breaks mid-way reaches the client as a broken stream and is logged as failed", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ ...chat, stream: true }, { "x-mock-break-after": "3" }));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = "";
    const ending = await readToEnd(reader).then(
      (text) => ((received = text), "clean end"),
      () => "error",
    );

    expect({ ending, done: received.includes("[DONE]") }).toEqual({ ending: "error", done: false });
    const log = await t.log(res);
    expect(log).toMatchObject({ status_code: 200, success: false, aborted: false });
    expect(log!.error_message).toContain("stream broke");
  });

  test("a client that goes away mid-stream is logged as aborted, and the gateway keeps serving", async () => {
    await using t = await gatewayWithMock();
    const hold = t.upstream.holdStream();
    const controller = new AbortController();

    const res = await fetch(`${t.gw.base()}/openai/chat/completions`, post({ ...chat, stream: true }, {}, controller.signal));
    const reader = res.body!.getReader();
    await readUntil(reader, `"content":"Hello"`);
    controller.abort();
    await reader.read().catch(() => {});
    hold.release();

    const log = await t.log(res);
    expect(log).toMatchObject({ status_code: 200, aborted: true, tokens_out: null });
    // The provider's stream did not break: the client left. The record must not blame the provider.
    expect(log!.error_message ?? "").not.toContain("stream broke");

    const next = await fetch(`${t.gw.base()}/openai/chat/completions`, post(chat));
    expect(next.status).toBe(200);
    expect(await replyText(next)).toBe(MOCK_REPLY);
  });
});

describe("streamed usage is logged exactly", () => {
  test("OpenAI chat stream through the official client, usage from the final chunk", async () => {
    await using t = await gatewayWithMock();
    const client = new OpenAI({ baseURL: `${t.gw.base()}/openai`, apiKey: "sk-client", maxRetries: 0 });

    const { data: stream, response } = await client.chat.completions
      .create({ ...chat, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks = await Array.fromAsync(stream);

    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(MOCK_REPLY);
    const usage = expectedUsage(chat);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens });
    const log = await t.log(response.headers.get("cf-aig-log-id")!);
    expect(log).toMatchObject({
      provider: "openai",
      model: "gpt-4o-mini",
      path: "chat/completions",
      status_code: 200,
      // The client stops reading after [DONE]; that is a complete, successful answer.
      success: true,
      error_code: null,
      tokens_in: usage.promptTokens,
      tokens_out: usage.completionTokens,
      cached_tokens_in: 0,
    });
    expect(log!.cost).toBeCloseTo((usage.promptTokens * 0.15 + usage.completionTokens * 0.6) / 1e6, 12);
  });

  test("OpenAI responses stream through the official client, usage from response.completed", async () => {
    await using t = await gatewayWithMock();
    const client = new OpenAI({ baseURL: `${t.gw.base()}/openai`, apiKey: "sk-client", maxRetries: 0 });
    const body = { model: "gpt-4o-mini", input: "one two three four" };

    const response = await client.responses.stream(body, { headers: { "x-mock-cached-tokens": "2" } }).finalResponse();

    expect(response.output_text).toBe(MOCK_REPLY);
    const usage = expectedUsage(body);
    const [log] = await t.logs();
    expect(log).toMatchObject({ path: "responses", model: "gpt-4o-mini", tokens_in: usage.promptTokens, tokens_out: usage.completionTokens, cached_tokens_in: 2 });
  });

  test("Anthropic messages stream through the official client, with cache read and creation tokens", async () => {
    await using t = await gatewayWithMock();
    const client = new Anthropic({ baseURL: `${t.gw.base()}/anthropic`, apiKey: "sk-ant-client", maxRetries: 0 });
    const body = { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user" as const, content: "hello there claude" }] };

    const stream = client.messages.stream(body, { headers: { "x-mock-cached-tokens": "10", "x-mock-cache-creation-tokens": "4" } });
    const { response } = await stream.withResponse();
    const message = await stream.finalMessage();

    const usage = expectedUsage(body);
    expect(message.content.map((block) => (block.type === "text" ? block.text : block.type))).toEqual([MOCK_REPLY]);
    expect(message.usage).toMatchObject({ input_tokens: usage.promptTokens, output_tokens: usage.completionTokens, cache_read_input_tokens: 10, cache_creation_input_tokens: 4 });
    const log = await t.log(response.headers.get("cf-aig-log-id")!);
    expect(log).toMatchObject({
      provider: "anthropic",
      model: "claude-haiku-4-5",
      path: "v1/messages",
      success: true,
      tokens_in: usage.promptTokens + 10 + 4,
      tokens_out: usage.completionTokens,
      cached_tokens_in: 10,
      cache_write_tokens_in: 4,
    });
    expect(log!.cost).toBeGreaterThan(0);
  });

  test("Workers AI stream, usage from its last event", async () => {
    await using t = await gatewayWithMock();
    const body = { messages: [{ role: "user", content: "tell me something" }], stream: true };

    const res = await fetch(`${t.gw.base()}/workers-ai/@cf/meta/llama-3.1-8b-instruct`, post(body));
    const sse = await res.text();

    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const data = dataOf(sse);
    expect(data.at(-1)).toBe("[DONE]");
    expect(data.slice(0, -1).map((d) => JSON.parse(d).response).join("")).toBe(MOCK_REPLY);
    const usage = expectedUsage(body);
    expect(await t.log(res)).toMatchObject({
      provider: "workers-ai",
      model: "@cf/meta/llama-3.1-8b-instruct",
      tokens_in: usage.promptTokens,
      tokens_out: usage.completionTokens,
    });
  });
});
