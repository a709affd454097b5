import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { MOCK_REPLY, expectedUsage, startMockUpstream } from "./support/mock-upstream.ts";

const chatBody = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "say hello to me" }] };
const claudeBody = { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user" as const, content: "say hello" }] };

describe("mock upstream speaks OpenAI to the openai client", () => {
  test("chat completion with usage derived from the prompt, and the request recorded", async () => {
    await using upstream = await startMockUpstream();
    const client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: "sk-test", maxRetries: 0 });

    const completion = await client.chat.completions.create(chatBody, { headers: { "x-mock-cached-tokens": "2" } });

    expect(completion.choices[0].message.content).toBe(MOCK_REPLY);
    expect(completion.model).toBe("gpt-4o-mini");
    expect(completion.usage).toEqual({
      prompt_tokens: 7, // 4 words + 3
      completion_tokens: 5,
      total_tokens: 12,
      prompt_tokens_details: { cached_tokens: 2 },
    });
    expect(upstream.lastRequest()).toMatchObject({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { authorization: "Bearer sk-test" },
      json: chatBody,
    });
  });

  test("stream delivers the reply in deltas and usage in a final chunk", async () => {
    await using upstream = await startMockUpstream();
    const client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: "sk-test", maxRetries: 0 });

    const stream = await client.chat.completions.create({ ...chatBody, stream: true, stream_options: { include_usage: true } });
    const chunks = await Array.fromAsync(stream);

    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(MOCK_REPLY);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } });
  });

  test("responses stream ends in response.completed with usage", async () => {
    await using upstream = await startMockUpstream();
    const client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: "sk-test", maxRetries: 0 });

    const response = await client.responses.stream({ model: "gpt-4o-mini", input: "one two three" }).finalResponse();

    expect(response.output_text).toBe(MOCK_REPLY);
    expect(response.usage).toMatchObject({ input_tokens: 6, output_tokens: 5, total_tokens: 11 });
  });
});

describe("mock upstream speaks Anthropic to the @anthropic-ai/sdk client", () => {
  test("message and stream carry the same usage", async () => {
    await using upstream = await startMockUpstream();
    const client = new Anthropic({ baseURL: upstream.url, apiKey: "sk-ant-test", maxRetries: 0 });
    const cache = { headers: { "x-mock-cached-tokens": "10", "x-mock-cache-creation-tokens": "4" } };
    const usage = { input_tokens: 5, output_tokens: 5, cache_read_input_tokens: 10, cache_creation_input_tokens: 4 };

    const message = await client.messages.create(claudeBody, cache);
    const streamed = await client.messages.stream(claudeBody, cache).finalMessage();

    expect(message.content).toEqual([{ type: "text", text: MOCK_REPLY, citations: null }]);
    expect(message.usage).toMatchObject(usage);
    expect(streamed.content).toMatchObject([{ type: "text", text: MOCK_REPLY }]);
    expect(streamed.usage).toMatchObject(usage);
    expect(upstream.requests.map((r) => [r.method, r.path, r.json])).toEqual([
      ["POST", "/v1/messages", claudeBody],
      ["POST", "/v1/messages", { ...claudeBody, stream: true }],
    ]);
  });
});

describe("mock upstream scripts failures", () => {
  test("failNext answers the status with a provider-shaped body, then recovers", async () => {
    await using upstream = await startMockUpstream();
    const client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
    upstream.failNext({ status: 503, headers: { "retry-after": "7" }, times: 2 });

    for (let i = 0; i < 2; i++) {
      const error = await client.chat.completions.create(chatBody).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error).toMatchObject({ status: 503, error: { message: "mock: scripted 503", type: "server_error" } });
      expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toBe("7");
    }
    expect((await client.chat.completions.create(chatBody)).choices[0].message.content).toBe(MOCK_REPLY);
    expect(upstream.requests).toHaveLength(3);
  });

  test("reset closes the connection without an answer", async () => {
    await using upstream = await startMockUpstream();
    upstream.failNext({ reset: true });

    const body = JSON.stringify(chatBody);
    await expect(fetch(`${upstream.url}/v1/chat/completions`, { method: "POST", body })).rejects.toThrow();
    expect((await fetch(`${upstream.url}/v1/chat/completions`, { method: "POST", body })).status).toBe(200);
  });

  test("x-mock-break-after sends that many events, then breaks the stream", async () => {
    await using upstream = await startMockUpstream();
    const res = await fetch(`${upstream.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "x-mock-break-after": "3" },
      body: JSON.stringify({ ...chatBody, stream: true }),
    });
    expect(res.status).toBe(200);

    let received = "";
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const bytes of res.body!) received += decoder.decode(bytes);
    })();

    await expect(reading).rejects.toThrow();
    expect(received.match(/^data: /gm)).toHaveLength(3);
  });

  test("404 for an unknown route, echo for the custom provider", async () => {
    await using upstream = await startMockUpstream();
    const missing = await fetch(`${upstream.url}/nope`);
    const echo = await fetch(`${upstream.url}/custom/a/b?x=1`, { method: "PUT", body: "hi" });

    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { message: "mock: no route" } });
    expect(await echo.json()).toEqual({ method: "PUT", path: "/custom/a/b", search: "?x=1", body: "hi" });
  });
});

test("holdStream keeps the stream open after the first delta until released", async () => {
  await using upstream = await startMockUpstream();
  const client = new Anthropic({ baseURL: upstream.url, apiKey: "sk-ant-test", maxRetries: 0 });
  const hold = upstream.holdStream();

  const stream = await client.messages.create({ ...claudeBody, stream: true });
  const events = stream[Symbol.asyncIterator]();
  const seen: string[] = [];
  for (;;) {
    const { value } = await events.next();
    seen.push(value!.type);
    if (value!.type === "content_block_delta") break;
  }
  await hold.firstChunkSent;
  let finished = false;
  const rest = Array.fromAsync({ [Symbol.asyncIterator]: () => events }).then((all) => {
    finished = true;
    return all;
  });
  // A whole second stream, paced like the held one, completes while the held one gets nothing more.
  expect((await client.messages.stream(claudeBody).finalMessage()).content).toMatchObject([{ text: MOCK_REPLY }]);
  expect(finished).toBe(false);

  hold.release();
  const after = (await rest).map((e) => e.type);

  // The SDK drops the `ping` the mock sends after content_block_start, as it does Anthropic's.
  expect(seen).toEqual(["message_start", "content_block_start", "content_block_delta"]);
  expect(after).toEqual([...Array(4).fill("content_block_delta"), "content_block_stop", "message_delta", "message_stop"]);
});

test("expectedUsage counts prompt words plus a constant", () => {
  expect(expectedUsage({ system: "be brief", messages: [{ role: "user", content: [{ type: "text", text: "a b c" }] }] })).toEqual({
    promptTokens: 8,
    completionTokens: 5,
    cachedTokens: 0,
    cacheCreationTokens: 0,
  });
});
