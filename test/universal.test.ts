import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../src/pipeline/errors.ts";
import { expectGatewayError } from "./support/gateway-error.ts";
import { MOCK_REPLY } from "./support/mock-upstream.ts";
import { gatewayWithMock, replyText } from "./support/with-mock.ts";

const messages = [{ role: "user", content: "say hello to me" }];
const openaiStep = (headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  provider: "openai",
  endpoint: "chat/completions",
  headers: { authorization: "Bearer sk-openai", "content-type": "application/json", ...headers },
  query: { model: "gpt-4o-mini", messages },
  ...extra,
});
const anthropicStep = (headers: Record<string, string> = {}) => ({
  provider: "anthropic",
  endpoint: "v1/messages",
  headers: { "x-api-key": "sk-ant", "anthropic-version": "2023-06-01", "content-type": "application/json", ...headers },
  query: { model: "claude-sonnet-4-5", max_tokens: 64, messages },
});
const universal = (steps: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: typeof steps === "string" ? steps : JSON.stringify(steps),
});

describe("the Universal endpoint", () => {
  test("answers with the first step's raw provider response and cf-aig-step: 0; later steps are not called", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(t.gw.base(), universal([openaiStep(), anthropicStep()]));

    expect(res.status).toBe(200);
    expect(res.headers.get("cf-aig-step")).toBe("0");
    expect(await replyText(res)).toBe(MOCK_REPLY);
    expect(t.upstream.requests.map((r) => r.path)).toEqual(["/v1/chat/completions"]);
    expect(t.upstream.requests[0].json).toEqual({ model: "gpt-4o-mini", messages });
  });

  test("takes one step object as well as an array, with or without a trailing slash", async () => {
    await using t = await gatewayWithMock();

    const single = await fetch(`${t.gw.base()}/`, universal(openaiStep()));

    expect(single.status).toBe(200);
    expect(single.headers.get("cf-aig-step")).toBe("0");
    expect(await t.log(single)).toMatchObject({ request_type: "universal", provider: "openai", model: "gpt-4o-mini", step: 0, success: true });
  });

  test("joins a step endpoint that carries the provider's version prefix without doubling it", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(t.gw.base(), universal([{ ...openaiStep(), endpoint: "v1/chat/completions" }]));

    expect(res.status).toBe(200);
    expect(t.upstream.lastRequest()?.path).toBe("/v1/chat/completions");
  });

  test("sends the step's headers upstream, never the Universal call's own provider headers or any cf-aig-* header", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(t.gw.base(), universal([openaiStep({ "cf-aig-cache-ttl": "0", "x-step": "1" })], { authorization: "Bearer sk-for-someone-else", "x-request": "1" }));

    expect(res.status).toBe(200);
    const sent = t.upstream.lastRequest()!.headers;
    expect(sent).toMatchObject({ authorization: "Bearer sk-openai", "x-step": "1" });
    expect(sent["x-request"]).toBeUndefined();
    expect(Object.keys(sent).filter((name) => name.startsWith("cf-aig-"))).toEqual([]);
  });

  test("a step's config wins over its own cf-aig-* header, which wins over the request's", async () => {
    await using t = await gatewayWithMock();
    // The request header alone would time out; the step header alone too; the step's config allows the wait.
    const step = openaiStep({ "cf-aig-request-timeout": "1", "x-mock-delay": "60" }, { config: { requestTimeout: 5000 } });

    const res = await fetch(t.gw.base(), universal([step], { "cf-aig-request-timeout": "1" }));

    expect(res.status).toBe(200);
  });

  test("a step's header wins over the request's", async () => {
    await using t = await gatewayWithMock();
    const step = openaiStep({ "cf-aig-request-timeout": "5000", "x-mock-delay": "60" });

    const res = await fetch(t.gw.base(), universal([step], { "cf-aig-request-timeout": "1" }));

    expect(res.status).toBe(200);
  });
});

describe("malformed Universal bodies are refused before anything goes upstream, naming the step and field", () => {
  const cases: [string, unknown, number, RegExp][] = [
    ["not JSON", "{not json", ErrorCode.BadRequest, /not JSON/],
    ["an empty array", [], ErrorCode.BadRequest, /empty array/],
    ["a step that is not an object", [openaiStep(), "openai"], ErrorCode.BadRequest, /step 1 must be an object/],
    ["an unknown provider in step 1", [openaiStep(), { ...anthropicStep(), provider: "nope" }], ErrorCode.UnknownProvider, /step 1: unknown provider "nope"/],
    ["a missing endpoint", [{ ...openaiStep(), endpoint: undefined }], ErrorCode.BadRequest, /step 0: "endpoint"/],
    ["headers that are not an object", [{ ...openaiStep(), headers: ["authorization"] }], ErrorCode.BadRequest, /step 0: "headers"/],
    ["a header value that is an object", [{ ...openaiStep(), headers: { "x-a": { b: 1 } } }], ErrorCode.BadRequest, /step 0: header "x-a"/],
    ["maxAttempts over 5", [openaiStep({}, { config: { maxAttempts: 6 } })], ErrorCode.BadRequest, /step 0: config.maxAttempts .* 1 to 5/],
    ["retryDelay over 5000", [openaiStep(), openaiStep({}, { config: { retryDelay: 5001 } })], ErrorCode.BadRequest, /step 1: config.retryDelay .* 0 to 5000/],
    ["an unknown backoff", [openaiStep({}, { config: { backoff: "random" } })], ErrorCode.BadRequest, /step 0: config.backoff/],
    ["an unknown config field", [openaiStep({}, { config: { retries: 2 } })], ErrorCode.BadRequest, /step 0: unknown config field "retries"/],
  ];
  test.each(cases)("%s", async (_, body, code, message) => {
    await using t = await gatewayWithMock();

    const res = await fetch(t.gw.base(), universal(body));

    expect(await expectGatewayError(res, 400, code)).toMatch(message);
    expect(t.upstream.requests).toEqual([]);
  });

  test("GET on the Universal path says how to use it", async () => {
    await using t = await gatewayWithMock();

    const res = await fetch(t.gw.base());

    expect(await expectGatewayError(res, 400, ErrorCode.BadRequest)).toContain("POST Universal steps");
  });
});
