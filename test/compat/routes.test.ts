import { describe, expect, test } from "bun:test";
import { RouteTable } from "../../src/compat/routes.ts";
import { matches } from "../../src/compat/conditions.ts";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { createRegistry } from "../../src/providers/registry.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import { MOCK_REPLY } from "../support/mock-upstream.ts";
import type { Config } from "../../src/sdk.ts";
import { compatClient, compatGateway, postCompat } from "./harness.ts";

const messages = [{ role: "user", content: "say hello to me" }];
/** Held keys for the route's targets: a route never forwards the client's bearer. */
const held = (upstream: string): Config["providers"] => ({
  openai: { baseUrl: `${upstream}/v1`, apiKey: "sk-openai-held" },
  anthropic: { baseUrl: upstream, apiKey: "sk-ant-held" },
});

describe("model routes (model: dynamic/<name>)", () => {
  test("fallback: a target that fails hands over to the next, which may be another provider; the answer is in OpenAI's shape and names what served", async () => {
    await using t = await compatGateway((upstream) => ({
      plugins: ["fallback", "logging"],
      providers: held(upstream),
      routes: { chat: { targets: [{ model: "openai/gpt-4o-mini" }, { model: "anthropic/claude-haiku-4-5" }] } },
    }));
    t.upstream.failNext({ status: 503 });

    const { data: completion, response } = await compatClient(t).chat.completions.create({ model: "dynamic/chat", messages: [{ role: "user", content: "hi" }] }).withResponse();

    expect(completion.choices[0].message.content).toBe(MOCK_REPLY);
    expect([response.headers.get("cf-aig-provider"), response.headers.get("cf-aig-model"), response.headers.get("cf-aig-step")]).toEqual(["anthropic", "claude-haiku-4-5", "1"]);
    expect(t.upstream.requests.map((r) => [r.path, r.headers.authorization ?? r.headers["x-api-key"]])).toEqual([
      ["/v1/chat/completions", "Bearer sk-openai-held"],
      ["/v1/messages", "sk-ant-held"],
    ]);
    const log = await t.log(response.headers.get("cf-aig-log-id")!);
    expect(log).toMatchObject({ request_type: "compat", provider: "anthropic", model: "claude-haiku-4-5", step: 1, success: true });
    expect(log!.attempts.map((a) => [a.provider, a.status])).toEqual([
      ["openai", 503],
      ["anthropic", 200],
    ]);
  });

  test("a target's retries and timeout are its step's cf-aig-max-attempts and cf-aig-request-timeout", async () => {
    await using t = await compatGateway((upstream) => ({
      plugins: ["fallback", "logging"],
      providers: held(upstream),
      routes: {
        retried: { targets: [{ model: "openai/gpt-4o-mini", retries: 2 }, { model: "anthropic/claude-haiku-4-5" }] },
        timed: { targets: [{ model: "openai/gpt-4o-mini", timeout: 50 }, { model: "anthropic/claude-haiku-4-5" }] },
      },
    }));

    t.upstream.failNext({ status: 500, times: 2 });
    const retried = await postCompat(t, { model: "dynamic/retried", messages });
    const retriedPaths = t.upstream.requests.map((r) => r.path);
    t.upstream.reset();
    t.upstream.failNext({ delayMs: 1000 });
    const timed = await postCompat(t, { model: "dynamic/timed", messages });

    expect([retried.status, retried.headers.get("cf-aig-provider")]).toEqual([200, "openai"]);
    expect(retriedPaths).toEqual(["/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions"]);
    expect([timed.status, timed.headers.get("cf-aig-provider")]).toEqual([200, "anthropic"]);
    expect((await t.log(timed))!.attempts.map((a) => [a.provider, a.status])).toEqual([
      ["openai", null],
      ["anthropic", 200],
    ]);
  });

  test("weighted: with a seed, the first target is drawn by weight (about 3 in 4 here) and the others follow as fallbacks", async () => {
    await using t = await compatGateway((upstream) => ({
      providers: held(upstream),
      routes: { split: { strategy: "weighted", seed: 7, targets: [{ model: "openai/gpt-4o-mini", weight: 3 }, { model: "anthropic/claude-haiku-4-5", weight: 1 }] } },
    }));

    const served: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => postCompat(t, { model: "dynamic/split", messages })));
      for (const answer of answers) served.push(answer.headers.get("cf-aig-provider")!);
    }

    const share = served.filter((p) => p === "openai").length / served.length;
    expect(share).toBeGreaterThan(0.65);
    expect(share).toBeLessThan(0.85);
    expect(new Set(served)).toEqual(new Set(["openai", "anthropic"]));
  });

  test("latency: targets not measured yet go first; then the lowest recent median time to first byte leads", async () => {
    await using t = await compatGateway((upstream) => ({
      providers: held(upstream),
      routes: { fast: { strategy: "latency", targets: [{ model: "openai/gpt-4o-mini" }, { model: "anthropic/claude-haiku-4-5" }] } },
    }));

    t.upstream.failNext({ delayMs: 150 });
    const served = [];
    for (let i = 0; i < 4; i++) served.push((await postCompat(t, { model: "dynamic/fast", messages })).headers.get("cf-aig-provider"));

    // 1st: nothing measured, listed order (openai, slow). 2nd: anthropic unmeasured goes first. Then anthropic is faster.
    expect(served).toEqual(["openai", "anthropic", "anthropic", "anthropic"]);
  });

  test("conditions on cf-aig-metadata: a target's when picks it; a route's when that fails is 400/2141; an unknown route 400/2140", async () => {
    await using t = await compatGateway((upstream): Config => ({
      providers: held(upstream),
      routes: {
        plans: {
          targets: [
            { model: "openai/gpt-4o-mini", when: { "metadata.plan": { $in: ["free", "trial"] } } },
            { model: "anthropic/claude-haiku-4-5", when: { $or: [{ plan: "pro" }, { seats: { $gt: 10 } }] } },
          ],
        },
        internal: { when: { team: "ml" }, targets: [{ model: "openai/gpt-4o-mini" }] },
      },
    }));
    const ask = (route: string, metadata?: object) => postCompat(t, { model: `dynamic/${route}`, messages }, metadata ? { "cf-aig-metadata": JSON.stringify(metadata) } : {});

    const providers = await Promise.all([{ plan: "free" }, { plan: "pro" }, { plan: "team", seats: 50 }].map(async (m) => (await ask("plans", m)).headers.get("cf-aig-provider")));
    expect(providers).toEqual(["openai", "anthropic", "anthropic"]);
    expect(await expectGatewayError(await ask("plans", { plan: "enterprise" }), 400, ErrorCode.RouteNotApplicable)).toContain("no target's \"when\" condition holds");
    expect(await expectGatewayError(await ask("internal"), 400, ErrorCode.RouteNotApplicable)).toContain('Route "internal" does not serve this request');
    expect((await ask("internal", { team: "ml" })).status).toBe(200);
    expect(await expectGatewayError(await ask("nope"), 400, ErrorCode.UnknownRoute)).toContain("configured routes: internal, plans");
  });

  test("a route target naming an unknown provider stops the gateway at start-up, naming the config path", async () => {
    const start = compatGateway(() => ({ routes: { bad: { targets: [{ model: "openai/gpt-4o" }, { model: "nope/x" }] } } }));

    await expect(start).rejects.toThrow('routes.bad.targets[1].model: Provider "nope" in "model" is not a known provider');
  });
});

describe("route ordering", () => {
  const providers = createRegistry({});
  const route = (strategy: "weighted" | "latency", weights: number[]) =>
    new RouteTable({ r: { strategy, targets: weights.map((weight, i) => ({ model: ["openai/a", "anthropic/b", "groq/c"][i], weight })) } }, providers, { random: sequence() });
  function sequence() {
    let i = 0;
    // An even spread over [0, 1): draws land in proportion to the weights.
    return () => ((i++ * 0.6180339887) % 1);
  }

  test("weighted draws follow the weights over many requests, and the undrawn targets follow in listed order", () => {
    const table = route("weighted", [5, 3, 2]);
    const firsts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const plan = table.plan("r", () => ({}));
      firsts.set(plan[0].routeTarget!, (firsts.get(plan[0].routeTarget!) ?? 0) + 1);
      if (i === 0) expect(plan.map((p) => p.routeTarget)).toEqual(["openai/a", "anthropic/b", "groq/c"]);
    }
    expect([firsts.get("openai/a")! / 10_000, firsts.get("anthropic/b")! / 10_000, firsts.get("groq/c")! / 10_000].map((share) => Math.round(share * 100) / 100)).toEqual([0.5, 0.3, 0.2]);
  });

  test("a weight of 0 is never drawn first, only a fallback", () => {
    const table = route("weighted", [0, 1]);
    for (let i = 0; i < 100; i++) expect(table.plan("r", () => ({})).map((p) => p.routeTarget)).toEqual(["anthropic/b", "openai/a"]);
  });

  test("latency orders by the median of recent samples; failures count their full duration", () => {
    const table = route("latency", [1, 1, 1]);
    const planned = table.plan("r", () => ({}));
    table.observe(
      [
        { step: 0, provider: "openai", status: 200, durationMs: 90, ttfbMs: 90 },
        { step: 1, provider: "anthropic", status: null, durationMs: 500, ttfbMs: null, error: "timeout" },
        { step: 2, provider: "groq", status: 200, durationMs: 30, ttfbMs: 30 },
      ],
      planned,
    );
    expect(table.plan("r", () => ({})).map((p) => p.routeTarget)).toEqual(["groq/c", "openai/a", "anthropic/b"]);
  });

  test("conditions: equality, $ne, $in, $nin, $gt, $lt, $and, $or; a missing key meets only $ne and $nin", () => {
    const m = { plan: "pro", seats: 12, beta: true };
    expect([
      matches({ plan: "pro" }, m),
      matches({ "metadata.plan": { $ne: "free" } }, m),
      matches({ seats: { $gt: 10, $lt: 20 } }, m),
      matches({ seats: { $gt: "10" as unknown as number } }, m),
      matches({ $and: [{ beta: true }, { plan: { $in: ["pro", "team"] } }] }, m),
      matches({ $or: [{ plan: "free" }, { seats: { $lt: 5 } }] }, m),
      matches({ region: { $ne: "eu" } }, m),
      matches({ region: { $nin: ["eu"] } }, m),
      matches({ region: { $in: ["eu"] } }, m),
      matches({ region: "eu" }, m),
    ]).toEqual([true, true, true, false, true, false, true, true, false, false]);
  });
});
