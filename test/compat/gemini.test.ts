import { describe, expect, test } from "bun:test";
import { APIError } from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { expectedUsage, MOCK_REPLY, MOCK_THOUGHT_SIGNATURE, MOCK_TOOL_INPUT } from "../support/mock-upstream.ts";
import { compatClient, compatGateway, postCompat, weatherTool } from "./harness.ts";

const model = "google-ai-studio/gemini-2.5-flash";

describe("compat → Gemini generateContent", () => {
  test("a chat request becomes a Gemini request (systemInstruction, contents, generationConfig); the answer a chat.completion with usageMetadata's counts", async () => {
    await using t = await compatGateway();

    const response = await postCompat(t, {
      model,
      temperature: 0.3,
      top_p: 0.8,
      max_tokens: 100,
      stop: ["END"],
      seed: 7,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "say hello to me" },
        { role: "assistant", content: "hello" },
        { role: "user", content: "again" },
      ],
    });
    const completion = await response.json();

    const received = t.upstream.lastRequest()!;
    expect<unknown>({ path: received.path, search: received.search, key: received.headers["x-goog-api-key"], auth: received.headers.authorization ?? null }).toEqual({
      path: "/v1beta/models/gemini-2.5-flash:generateContent",
      search: "",
      key: "sk-client",
      auth: null,
    });
    expect(received.json).toEqual({
      systemInstruction: { parts: [{ text: "be brief" }] },
      contents: [
        { role: "user", parts: [{ text: "say hello to me" }] },
        { role: "model", parts: [{ text: "hello" }] },
        { role: "user", parts: [{ text: "again" }] },
      ],
      generationConfig: { temperature: 0.3, topP: 0.8, maxOutputTokens: 100, stopSequences: ["END"], seed: 7 },
    });
    const usage = expectedUsage(received.json);
    expect(completion).toEqual({
      id: "resp-mock-1",
      object: "chat.completion",
      created: expect.any(Number),
      model: "gemini-2.5-flash",
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: "assistant", content: MOCK_REPLY, refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect([response.headers.get("cf-aig-provider"), response.headers.get("cf-aig-model")]).toEqual(["google-ai-studio", "gemini-2.5-flash"]);
    expect(await t.log(response)).toMatchObject({ request_type: "compat", provider: "google-ai-studio", model: "gemini-2.5-flash", path: "v1beta/models/gemini-2.5-flash:generateContent", tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
  });

  test("streams go to :streamGenerateContent?alt=sse and come back as chunks, the finish reason and a final usage chunk", async () => {
    await using t = await compatGateway();
    const messages = [{ role: "user" as const, content: "say hello to me" }];

    const { data: stream, response } = await compatClient(t).chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect([t.upstream.lastRequest()!.path, t.upstream.lastRequest()!.search]).toEqual(["/v1beta/models/gemini-2.5-flash:streamGenerateContent", "?alt=sse"]);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(MOCK_REPLY);
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["stop"]);
    const usage = expectedUsage({ contents: [{ parts: [{ text: "say hello to me" }] }] });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens } });
    expect(await t.log(response.headers.get("cf-aig-log-id")!)).toMatchObject({ success: true, aborted: false, tokens_in: usage.promptTokens, tokens_out: usage.completionTokens });
  });

  test("JSON mode: json_object asks for application/json, json_schema adds the schema; n asks for that many candidates", async () => {
    await using t = await compatGateway();
    const messages = [{ role: "user", content: "list two colours" }];
    const schema = { type: "object", properties: { colours: { type: "array", items: { type: "string" } } } };

    await postCompat(t, { model, messages, response_format: { type: "json_object" } });
    const objectConfig = (t.upstream.lastRequest()!.json as { generationConfig: unknown }).generationConfig;
    await postCompat(t, { model, messages, response_format: { type: "json_schema", json_schema: { name: "colours", schema } } });
    const schemaConfig = (t.upstream.lastRequest()!.json as { generationConfig: unknown }).generationConfig;
    const two = (await (await postCompat(t, { model, messages, n: 2 })).json()) as { choices: { index: number; message: { content: string } }[] };

    expect([objectConfig, schemaConfig]).toEqual([{ responseMimeType: "application/json" }, { responseMimeType: "application/json", responseJsonSchema: schema }]);
    expect(two.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, MOCK_REPLY],
      [1, MOCK_REPLY],
    ]);
  });

  test("tool calls round-trip: functionCall comes back as tool_calls (its thought signature kept in the id), and goes back as functionCall + functionResponse", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: "weather in Paris?" }];

    const first = await client.chat.completions.create({ model, messages, tools: [weatherTool], tool_choice: { type: "function", function: { name: "get_weather" } } });
    const call = first.choices[0].message.tool_calls![0] as { id: string; function: { name: string; arguments: string } };
    expect(first.choices[0].finish_reason).toBe("tool_calls");
    expect(call.function).toEqual({ name: "get_weather", arguments: JSON.stringify(MOCK_TOOL_INPUT) });
    expect(call.id).toMatch(/^call_[0-9a-f]{24}\.sig\./);
    expect(t.upstream.lastRequest()!.json).toMatchObject({
      tools: [{ functionDeclarations: [{ name: "get_weather", description: "Weather at a place", parametersJsonSchema: weatherTool.function.parameters }] }],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } },
    });

    messages.push(first.choices[0].message, { role: "tool", tool_call_id: call.id, content: '{"temperature":18}' });
    const second = await client.chat.completions.create({ model, messages, tools: [weatherTool] });

    expect(second.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: MOCK_REPLY } });
    expect((t.upstream.lastRequest()!.json as { contents: unknown }).contents).toEqual([
      { role: "user", parts: [{ text: "weather in Paris?" }] },
      { role: "model", parts: [{ functionCall: { name: "get_weather", args: MOCK_TOOL_INPUT }, thoughtSignature: MOCK_THOUGHT_SIGNATURE }] },
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temperature: 18 } } }] },
    ]);
  });

  test("streamed function calls arrive as one tool-call delta each and finish with tool_calls", async () => {
    await using t = await compatGateway();

    const stream = compatClient(t).chat.completions.stream({ model, messages: [{ role: "user", content: "weather?" }], tools: [weatherTool] });
    const final = await stream.finalChatCompletion();

    expect(final.choices[0]).toMatchObject({ finish_reason: "tool_calls", message: { tool_calls: [{ type: "function", function: { name: "get_weather", arguments: JSON.stringify(MOCK_TOOL_INPUT) } }] } });
  });

  test("images and audio: data URLs become inlineData, an http image URL fileData with its type; one whose type cannot be told is refused", async () => {
    await using t = await compatGateway();
    const content = [
      { type: "text", text: "what is this" },
      { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
      { type: "image_url", image_url: { url: "https://example.com/cat.png?size=2" } },
      { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
    ];

    await postCompat(t, { model, messages: [{ role: "user", content }] });
    const refused = await postCompat(t, { model, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/image" } }] }] });

    expect((t.upstream.lastRequest()!.json as { contents: unknown }).contents).toEqual([
      {
        role: "user",
        parts: [
          { text: "what is this" },
          { inlineData: { mimeType: "image/jpeg", data: "/9j/4AAQ" } },
          { fileData: { mimeType: "image/png", fileUri: "https://example.com/cat.png?size=2" } },
          { inlineData: { mimeType: "audio/wav", data: "UklGRg==" } },
        ],
      },
    ]);
    expect(await expectGatewayError(refused, 400, ErrorCode.NotTranslatable)).toContain("google-ai-studio cannot take the image URL");
    expect(t.upstream.requests.length).toBe(1);
  });

  test("Google's errors reach the openai client in OpenAI's shape with Google's status; a malformed history is Gemini's own 400", async () => {
    await using t = await compatGateway();
    t.upstream.failNext({ status: 429 });

    const limited = (await compatClient(t).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as APIError;
    const unsigned = await postCompat(t, {
      model,
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
      ],
    });

    expect({ status: limited.status, type: limited.type, code: limited.code }).toEqual({ status: 429, type: "resource_exhausted", code: "RESOURCE_EXHAUSTED" });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toEqual({
      error: { message: "Function call is missing a thought_signature in functionCall parts (contents[1])", type: "invalid_argument", param: null, code: "INVALID_ARGUMENT" },
    });
  });

  test("a model id that could reshape the URL is refused before anything is sent", async () => {
    await using t = await compatGateway();

    for (const bad of ["../x", "gemini:evil", "a/b", "x?y"]) await expectGatewayError(await postCompat(t, { model: `google-ai-studio/${bad}`, messages: [{ role: "user", content: "hi" }] }), 400, ErrorCode.CompatBadFormat);

    expect(t.upstream.requests).toEqual([]);
  });
});
