import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { MOCK_REPLY } from "../support/mock-upstream.ts";
import { compatClient, compatGateway, postCompat } from "./harness.ts";

const TOKEN = "sb_compat_gateway_token_0001";
const messages = [{ role: "user", content: "say hello to me" }];

describe("compat requests go through the whole plugin chain", () => {
  const authenticated = () =>
    compatGateway((upstream) => ({
      plugins: ["auth", "metadata", "logging"],
      providers: { anthropic: { baseUrl: upstream, apiKey: "sk-ant-held" } },
      gateways: { prod: { authentication: true, tokens: [{ name: "ci", token: TOKEN }] } },
    }));

  test("on an authenticated gateway, the gateway token as the openai client's apiKey authenticates and goes to no provider: the held key does", async () => {
    await using t = await authenticated();

    const { data, response } = await compatClient(t, { apiKey: TOKEN, gateway: "prod" })
      .chat.completions.create({ model: "anthropic/claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] })
      .withResponse();

    expect(data.choices[0].message.content).toBe(MOCK_REPLY);
    const received = t.upstream.lastRequest()!;
    expect<unknown>([received.headers["x-api-key"], received.headers.authorization ?? null, received.headers["cf-aig-authorization"] ?? null]).toEqual(["sk-ant-held", null, null]);
    expect(await t.log(response.headers.get("cf-aig-log-id")!, "prod")).toMatchObject({ request_type: "compat", token_id: "config:ci", provider: "anthropic" });
  });

  test("with cf-aig-authorization the bearer is the provider's key; without it, a bearer that is no valid gateway token is refused 401/2009 (and recorded), never sent", async () => {
    await using t = await authenticated();

    const withToken = await postCompat(t, { model: "anthropic/claude-haiku-4-5", messages }, { authorization: "Bearer sk-ant-own", "cf-aig-authorization": `Bearer ${TOKEN}` }, "chat/completions", "prod");
    const without = await postCompat(t, { model: "anthropic/claude-haiku-4-5", messages }, { authorization: "Bearer sk-ant-own" }, "chat/completions", "prod");

    expect(withToken.status).toBe(200);
    expect(t.upstream.requests.map((r) => r.headers["x-api-key"])).toEqual(["sk-ant-own"]);
    expect(await expectGatewayError(without, 401, ErrorCode.Unauthorized)).toContain('Invalid, expired or revoked gateway token for gateway "prod"');
    expect(await t.log(without, "prod")).toMatchObject({ request_type: "compat", status_code: 401, error_code: ErrorCode.Unauthorized });
  });

  test("cf-aig-metadata is validated and logged as for any request", async () => {
    await using t = await authenticated();

    const ok = await postCompat(t, { model: "anthropic/claude-haiku-4-5", messages }, { authorization: `Bearer ${TOKEN}`, "cf-aig-metadata": '{"user":"ada"}' }, "chat/completions", "prod");
    const bad = await postCompat(t, { model: "anthropic/claude-haiku-4-5", messages }, { authorization: `Bearer ${TOKEN}`, "cf-aig-metadata": "[1]" }, "chat/completions", "prod");

    expect((await t.log(ok, "prod"))!.metadata).toBe('{"user":"ada"}');
    await expectGatewayError(bad, 400, ErrorCode.InvalidMetadata);
  });

  test("the cache answers a repeated translated request, JSON or stream, from the provider's stored answer: one upstream call, HIT, the same translation", async () => {
    await using t = await compatGateway((upstream) => ({
      plugins: ["cache", "logging"],
      providers: { anthropic: { baseUrl: upstream } },
      gateways: { default: { cache: { ttl: 600 } } },
    }));
    const client = compatClient(t);
    const ask = () => client.chat.completions.create({ model: "anthropic/claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const askStream = async () => {
      const { data, response } = await client.chat.completions.create({ model: "anthropic/claude-haiku-4-5", messages: [{ role: "user", content: "hi" }], stream: true }).withResponse();
      let text = "";
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
      return { text, status: response.headers.get("cf-aig-cache-status") };
    };

    const first = await ask();
    const second = await ask();
    const streams = [await askStream(), await askStream()];

    expect([first.response.headers.get("cf-aig-cache-status"), second.response.headers.get("cf-aig-cache-status")]).toEqual(["MISS", "HIT"]);
    expect({ ...second.data, created: 0 }).toEqual({ ...first.data, created: 0 });
    expect(second.response.headers.get("cf-aig-provider")).toBe("anthropic");
    expect(streams).toEqual([
      { text: MOCK_REPLY, status: "MISS" },
      { text: MOCK_REPLY, status: "HIT" },
    ]);
    expect(t.upstream.requests.length).toBe(2);
    expect((await t.logs()).map((log) => [log.request_type, log.cached])).toEqual([
      ["compat", false],
      ["compat", true],
      ["compat", false],
      ["compat", true],
    ]);
  });
});
