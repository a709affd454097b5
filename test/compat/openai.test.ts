import { describe, expect, test } from "bun:test";
import { APIError } from "openai";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { expectedUsage, MOCK_REPLY, MOCK_TOOL_INPUT } from "../support/mock-upstream.ts";
import { compatClient, compatGateway, postCompat, weatherTool } from "./harness.ts";

const messages = [{ role: "user" as const, content: "say hello to me" }];

describe("compat passthrough to OpenAI-speaking providers", () => {
  test("the openai client gets OpenAI's answer untouched; the provider gets the body with the prefix taken off model, and the client's key as its bearer", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);

    const { data: completion, response } = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages }).withResponse();

    expect(completion.choices[0].message.content).toBe(MOCK_REPLY);
    expect(completion.model).toBe("gpt-4o-mini");
    expect([response.headers.get("cf-aig-provider"), response.headers.get("cf-aig-model")]).toEqual(["openai", "gpt-4o-mini"]);
    const received = t.upstream.lastRequest()!;
    expect({ path: received.path, body: received.json, auth: received.headers.authorization }).toEqual({
      path: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages },
      auth: "Bearer sk-client",
    });
    const log = await t.log(response.headers.get("cf-aig-log-id")!);
    expect(log).toMatchObject({ request_type: "compat", provider: "openai", model: "gpt-4o-mini", path: "chat/completions", success: true, tokens_in: expectedUsage({ messages }).promptTokens });
  });

  test("streams pass through chunk for chunk, with the final usage chunk when asked", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);

    const stream = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: unknown = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }

    expect(text).toBe(MOCK_REPLY);
    expect(usage).toMatchObject({ prompt_tokens: expectedUsage({ messages }).promptTokens, completion_tokens: expectedUsage({}).completionTokens });
    const [log] = await t.logs();
    expect(log).toMatchObject({ request_type: "compat", provider: "openai", model: "gpt-4o-mini", success: true, tokens_out: expectedUsage({}).completionTokens });
  });

  test("workers-ai goes to its OpenAI route (v1/chat/completions) with the whole @cf/… model, tool calls included", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);

    const { data: completion, response } = await client.chat.completions
      .create({ model: "workers-ai/@cf/meta/llama-3.1-8b-instruct", messages, tools: [weatherTool] })
      .withResponse();

    expect(completion.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: { tool_calls: [{ type: "function", function: { name: "get_weather", arguments: JSON.stringify(MOCK_TOOL_INPUT) } }] },
    });
    expect(t.upstream.lastRequest()!.path).toBe("/client/v4/accounts/local/ai/v1/chat/completions");
    expect((t.upstream.lastRequest()!.json as { model: string }).model).toBe("@cf/meta/llama-3.1-8b-instruct");
    expect(await t.log(response.headers.get("cf-aig-log-id")!)).toMatchObject({ provider: "workers-ai", model: "@cf/meta/llama-3.1-8b-instruct" });
  });

  test("groq, mistral and custom-* providers pass through to their own chat paths; model keeps every segment after the provider", async () => {
    await using t = await compatGateway();
    const client = compatClient(t);

    for (const model of ["groq/openai/gpt-oss-120b", "mistral/mistral-large-latest", "custom-mock/local-model"]) {
      await client.chat.completions.create({ model, messages }).catch(() => undefined);
    }

    expect(t.upstream.requests.map((r) => [r.path, (r.json as { model: string }).model])).toEqual([
      ["/v1/chat/completions", "openai/gpt-oss-120b"],
      ["/v1/chat/completions", "mistral-large-latest"],
      ["/custom/chat/completions", "local-model"],
    ]);
  });

  test("Cloudflare's compat spellings name the same providers: perplexity → perplexity-ai, google → google-ai-studio, xai → grok", async () => {
    await using t = await compatGateway((upstream) => ({ providers: { "perplexity-ai": { baseUrl: `${upstream}/v1` }, grok: { baseUrl: upstream } } }));

    const answers = await Promise.all(["perplexity/sonar", "xai/grok-4", "google/gemini-2.5-flash"].map((model) => postCompat(t, { model, messages })));

    expect(answers.map((a) => [a.status, a.headers.get("cf-aig-provider")])).toEqual([
      [200, "perplexity-ai"],
      [200, "grok"],
      [200, "google-ai-studio"],
    ]);
  });

  test("a provider's error reaches the client untouched, with the provider's status; the openai client raises it", async () => {
    await using t = await compatGateway();
    const body = { error: { message: "Rate limit reached for gpt-4o-mini", type: "requests", param: null, code: "rate_limit_exceeded" } };
    t.upstream.failNext({ status: 429, body });

    const error = await compatClient(t).chat.completions.create({ model: "openai/gpt-4o-mini", messages }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(APIError);
    expect({ status: (error as APIError).status, code: (error as APIError).code, message: (error as APIError).message }).toEqual({
      status: 429,
      code: "rate_limit_exceeded",
      message: "429 Rate limit reached for gpt-4o-mini",
    });
  });

  test("keys: the client's bearer goes to the provider; without one the gateway's held key does; other credential headers never leave", async () => {
    await using t = await compatGateway((upstream) => ({ providers: { openai: { baseUrl: `${upstream}/v1`, apiKey: "sk-held" } } }));

    await postCompat(t, { model: "openai/gpt-4o-mini", messages });
    await postCompat(t, { model: "openai/gpt-4o-mini", messages }, { authorization: "", "x-api-key": "sk-stray", "x-goog-api-key": "g-stray" });

    expect<unknown>(t.upstream.requests.map((r) => [r.headers.authorization, r.headers["x-api-key"] ?? null, r.headers["x-goog-api-key"] ?? null])).toEqual([
      ["Bearer sk-client", null, null],
      ["Bearer sk-held", null, null],
    ]);
  });
});

describe("compat refusals are the gateway's own, before anything is sent", () => {
  test("a model without a provider prefix is 400/2019; an unknown or non-compat provider 400/2101 listing those served", async () => {
    await using t = await compatGateway();

    const noPrefix = await expectGatewayError(await postCompat(t, { model: "gpt-4o-mini", messages }), 400, ErrorCode.CompatBadFormat);
    const unknown = await expectGatewayError(await postCompat(t, { model: "nope/x", messages }), 400, ErrorCode.UnknownProvider);
    const notServed = await expectGatewayError(await postCompat(t, { model: "cohere/command-r", messages }), 400, ErrorCode.UnknownProvider);

    expect(noPrefix).toContain('"{provider}/{model}"');
    expect(unknown).toContain("anthropic, cerebras, custom-mock, deepseek, google-ai-studio, grok, groq, mistral, openai, openrouter, perplexity-ai, workers-ai");
    expect(notServed).toContain('"cohere" in "model" is not served by the compat endpoint');
    expect(t.upstream.requests).toEqual([]);
  });

  test("a body that is not a JSON object, or has no messages, is 400/2019; an unknown compat path 404; a wrong method 405", async () => {
    await using t = await compatGateway();

    await expectGatewayError(await postCompat(t, "not json"), 400, ErrorCode.CompatBadFormat);
    await expectGatewayError(await postCompat(t, [1, 2]), 400, ErrorCode.CompatBadFormat);
    await expectGatewayError(await postCompat(t, { model: "openai/gpt-4o-mini" }), 400, ErrorCode.CompatBadFormat);
    await expectGatewayError(await postCompat(t, {}, {}, "completions"), 404, ErrorCode.NotFound);
    const wrongMethod = await fetch(`${t.gw.base()}/compat/chat/completions`);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    await expectGatewayError(wrongMethod, 405, ErrorCode.MethodNotAllowed);
    expect(t.upstream.requests).toEqual([]);
  });
});
