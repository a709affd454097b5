import { describe, expect, test } from "bun:test";
import { APIError } from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { ANTHROPIC_DEFAULT_MAX_TOKENS } from "../../src/compat/anthropic/index.ts";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { expectedUsage, MOCK_REPLY, MOCK_TOOL_INPUT, MOCK_TOOL_PREAMBLE } from "../support/mock-upstream.ts";
import type { GatewayWithMock } from "../support/with-mock.ts";
import { compatClient, compatGateway, postCompat, weatherTool } from "./harness.ts";

const model = "anthropic/claude-sonnet-4-5";
const decoder = new TextDecoder();

async function payload(t: GatewayWithMock, logId: string, side: "request" | "response"): Promise<string> {
  await t.gw.settle();
  const stored = await t.gw.running.handle.stores.logs.payload("default", logId, side);
  return decoder.decode(stored!.body!);
}

describe("compat → Anthropic Messages", () => {
  test("a chat request becomes a well-formed Messages request; the answer comes back as a chat.completion with Anthropic's usage", async () => {
    await using t = await compatGateway();
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "say hello to me" },
    ];

    const response = await postCompat(t, { model, messages });
    const completion = await response.json();

    const received = t.upstream.lastRequest()!;
    expect({ path: received.path, body: received.json }).toEqual({
      path: "/v1/messages",
      body: { model: "claude-sonnet-4-5", max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS, system: "be brief", messages: [{ role: "user", content: [{ type: "text", text: "say hello to me" }] }] },
    });
    expect<unknown>([received.headers["x-api-key"], received.headers["anthropic-version"], received.headers.authorization ?? null]).toEqual(["sk-client", "2023-06-01", null]);
    const usage = expectedUsage(received.json);
    expect(completion).toEqual({
      id: "msg_mock_1",
      object: "chat.completion",
      created: expect.any(Number),
      model: "claude-sonnet-4-5",
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: "assistant", content: MOCK_REPLY, refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect([response.headers.get("cf-aig-provider"), response.headers.get("cf-aig-model")]).toEqual(["anthropic", "claude-sonnet-4-5"]);
    const logId = response.headers.get("cf-aig-log-id")!;
    expect(await t.log(logId)).toMatchObject({ request_type: "compat", provider: "anthropic", model: "claude-sonnet-4-5", path: "v1/messages", success: true, tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
    // The log keeps what the provider was sent and what it answered, not the translation.
    expect(JSON.parse(await payload(t, logId, "response"))).toMatchObject({ type: "message", id: "msg_mock_1" });
    expect(JSON.parse(await payload(t, logId, "request"))).toMatchObject({ model: "claude-sonnet-4-5", max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS });
  });

  test("sampling and limits: max_completion_tokens is max_tokens, stop is stop_sequences, user is metadata.user_id; turns of one role are merged", async () => {
    await using t = await compatGateway();

    await compatClient(t).chat.completions.create({
      model,
      max_completion_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop: "END",
      user: "ada",
      messages: [
        { role: "developer", content: "rule one" },
        { role: "system", content: [{ type: "text", text: "rule two" }] },
        { role: "user", content: "first" },
        { role: "user", content: [{ type: "text", text: "second" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] },
        { role: "assistant", content: "an answer" },
        { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.jpg" } }] },
      ],
    });

    expect(t.upstream.lastRequest()!.json).toEqual({
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ["END"],
      metadata: { user_id: "ada" },
      system: "rule one\n\nrule two",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "first" },
            { type: "text", text: "second" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          ],
        },
        { role: "assistant", content: [{ type: "text", text: "an answer" }] },
        { role: "user", content: [{ type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } }] },
      ],
    });
  });

  test("streams become chat.completion.chunk events: role first, text deltas, the finish reason, and usage from message_start and the last message_delta", async () => {
    await using t = await compatGateway();
    const messages = [{ role: "user" as const, content: "say hello to me" }];

    const { data: stream, response } = await compatClient(t).chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(MOCK_REPLY);
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["stop"]);
    const usage = expectedUsage({ messages });
    expect(chunks.at(-1)).toMatchObject({ object: "chat.completion.chunk", id: "msg_mock_1", choices: [], usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens } });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect((t.upstream.lastRequest()!.json as { stream: boolean }).stream).toBe(true);
    expect(await t.log(response.headers.get("cf-aig-log-id")!)).toMatchObject({ provider: "anthropic", success: true, aborted: false, tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
  });

  test("tool calls round-trip: tool_use comes back as tool_calls, and the assistant call and the tool's answer go back as tool_use and tool_result", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: "weather in Paris?" }];

    const first = await client.chat.completions.create({ model, messages, tools: [weatherTool], tool_choice: "required", parallel_tool_calls: false });
    const call = first.choices[0].message.tool_calls![0] as { id: string; type: string; function: { name: string; arguments: string } };
    expect(first.choices[0]).toMatchObject({ finish_reason: "tool_calls", message: { content: MOCK_TOOL_PREAMBLE } });
    expect(call).toEqual({ id: "toolu_mock_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify(MOCK_TOOL_INPUT) } });
    expect(t.upstream.lastRequest()!.json).toMatchObject({
      tools: [{ name: "get_weather", description: "Weather at a place", input_schema: weatherTool.function.parameters }],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
    });

    messages.push(first.choices[0].message, { role: "tool", tool_call_id: call.id, content: "18°C and sunny" });
    const second = await client.chat.completions.create({ model, messages, tools: [weatherTool] });

    expect(second.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: MOCK_REPLY } });
    expect((t.upstream.lastRequest()!.json as { messages: unknown }).messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather in Paris?" }] },
      { role: "assistant", content: [{ type: "text", text: MOCK_TOOL_PREAMBLE }, { type: "tool_use", id: "toolu_mock_1", name: "get_weather", input: MOCK_TOOL_INPUT }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_mock_1", content: "18°C and sunny" }] },
    ]);
  });

  test("streamed tool calls arrive as tool-call deltas (id and name, then the arguments in pieces) and finish with tool_calls", async () => {
    await using t = await compatGateway();

    const stream = compatClient(t).chat.completions.stream({ model, messages: [{ role: "user", content: "weather?" }], tools: [weatherTool] });
    const deltas: unknown[] = [];
    stream.on("chunk", (chunk) => deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? [])));
    const final = await stream.finalChatCompletion();

    expect(final.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: { content: MOCK_TOOL_PREAMBLE, tool_calls: [{ id: "toolu_mock_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify(MOCK_TOOL_INPUT) } }] },
    });
    expect(deltas[0]).toEqual({ index: 0, id: "toolu_mock_1", type: "function", function: { name: "get_weather", arguments: "" } });
    expect(deltas.length).toBe(4);
  });

  test("a stream that breaks after the first byte makes the openai client raise, never end cleanly; the record says 2114", async () => {
    await using t = await compatGateway();
    const client = compatClient(t, { headers: { "x-mock-break-after": "4" } });

    const { data: stream, response } = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true }).withResponse();
    let text = "";
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(Error);
    expect(text).toBe("Hello");
    expect(await t.log(response.headers.get("cf-aig-log-id")!)).toMatchObject({ success: false, error_code: ErrorCode.StreamBroken });
  });

  test("translated chunks reach the client as the provider sends them; a client that leaves mid-stream ends the provider's stream and the record says aborted", async () => {
    await using t = await compatGateway();
    const hold = t.upstream.holdStream();
    const controller = new AbortController();

    const res = await fetch(`${t.gw.base()}/compat/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-client" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "hi" }] }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let seen = "";
    while (!seen.includes('"content":"Hello"')) seen += decoder.decode((await reader.read()).value);
    await hold.firstChunkSent;
    controller.abort();
    await reader.read().catch(() => {});
    hold.release();

    expect(seen).not.toContain("[DONE]");
    expect(await t.log(res)).toMatchObject({ success: false, aborted: true, error_code: ErrorCode.ClientClosed });
  });

  test("Anthropic's errors reach the openai client in OpenAI's shape, with Anthropic's status and error type", async () => {
    await using t = await compatGateway();
    t.upstream.failNext({ status: 529 });

    const error = (await compatClient(t).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as APIError;

    expect(error).toBeInstanceOf(APIError);
    expect({ status: error.status, type: error.type, message: error.message }).toEqual({ status: 529, type: "overloaded_error", message: "529 mock: scripted 529" });
  });

  test("what Claude cannot express is refused with 400/2142 saying what and why, and nothing is sent", async () => {
    await using t = await compatGateway();
    const messages = [{ role: "user", content: "hi" }];
    const cases = [
      [{ n: 2 }, "n = 2"],
      [{ response_format: { type: "json_object" } }, "no JSON mode"],
      [{ temperature: 1.5 }, "from 0 to 1"],
      [{ logprobs: true }, '"logprobs"'],
      [{ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }] }, "audio"],
    ] as const;

    for (const [extra, why] of cases) {
      const message = await expectGatewayError(await postCompat(t, { model, messages, ...extra }), 400, ErrorCode.NotTranslatable);
      expect(message).toContain("anthropic cannot take");
      expect(message).toContain(why);
    }
    expect(t.upstream.requests).toEqual([]);
  });

  test("a tool message that answers no earlier call is 400/2019", async () => {
    await using t = await compatGateway();

    const message = await expectGatewayError(
      await postCompat(t, { model, messages: [{ role: "user", content: "hi" }, { role: "tool", tool_call_id: "call_x", content: "42" }] }),
      400,
      ErrorCode.CompatBadFormat,
    );

    expect(message).toContain('answers tool_call_id "call_x", which no earlier assistant message called');
  });
});
