/**
 * Issue 14, item 1: a provider key goes only where the operator pointed it. Every client-controlled
 * piece of the path — endpoint, Azure resource and deployment, Workers AI account — is sent with
 * hostile values (fragments, userinfo, host:port, slashes, backslashes, encoded slashes, dot segments,
 * absolute URLs) at a local "trap" listener, over raw HTTP/1.1 request-targets and over fetch. The
 * gateway must refuse each with a 400 envelope or keep it under the provider's configured base; the
 * trap must see no connection at all, and no answer may carry a held key.
 */
import { describe, expect, test } from "bun:test";
import { connect, createServer, type AddressInfo } from "node:net";
import type { ProviderConfig } from "../../src/config/schema.ts";
import { ErrorCode } from "../../src/pipeline/errors.ts";
import { BUILT_IN_PROVIDERS } from "../../src/providers/registry.ts";
import { expectGatewayError } from "../support/gateway-error.ts";
import type { MockUpstream } from "../support/mock-upstream.ts";
import { gatewayWithMock } from "../support/with-mock.ts";

const SECRET = "SECRET";
const heldKey = (slug: string) => `sk-held-${slug}-${SECRET}`;
const chat = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

/** A TCP listener nothing may reach: it counts every connection and closes it at once. */
interface Trap extends AsyncDisposable {
  /** `127.0.0.1:PORT` */
  hostPort: string;
  readonly connections: number;
}

async function startTrap(): Promise<Trap> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  const listening = Promise.withResolvers<void>();
  server.listen(0, "127.0.0.1", listening.resolve);
  await listening.promise;
  const { port } = server.address() as AddressInfo;
  return {
    hostPort: `127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      const closed = Promise.withResolvers<void>();
      server.close(() => closed.resolve());
      await closed.promise;
    },
  };
}

/**
 * Sends `POST {target}` byte for byte — `#`, `\` and `..` reach the server as written, which `fetch`
 * would normalise away — and returns the whole answer as a Response.
 */
async function rawPost(gatewayUrl: string, target: string, body: string): Promise<Response> {
  const { hostname, port } = new URL(gatewayUrl);
  const request = [
    `POST ${target} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    "",
    body,
  ].join("\r\n");
  const done = Promise.withResolvers<Buffer>();
  const chunks: Buffer[] = [];
  const socket = connect(Number(port), hostname, () => socket.write(request));
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("end", () => done.resolve(Buffer.concat(chunks)));
  socket.on("error", done.reject);
  return parseResponse(await done.promise);
}

function parseResponse(raw: Buffer): Response {
  const text = raw.toString("latin1");
  const headEnd = text.indexOf("\r\n\r\n");
  const [statusLine = "", ...lines] = text.slice(0, headEnd).split("\r\n");
  const headers = new Headers(lines.map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()] as [string, string]));
  let body = raw.subarray(headEnd + 4);
  if (headers.get("transfer-encoding") === "chunked") body = dechunk(body);
  headers.delete("transfer-encoding");
  return new Response(body, { status: Number(statusLine.split(" ")[1]), headers });
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = data.indexOf("\r\n", at);
    const size = Number.parseInt(data.subarray(at, lineEnd).toString("latin1"), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** Every built-in provider plus a configured custom one, all pointed at the mock with a held key. */
function providersAt(upstream: string): Record<string, ProviderConfig> {
  const providers: Record<string, ProviderConfig> = {};
  for (const { slug } of BUILT_IN_PROVIDERS) providers[slug] = { baseUrl: `${upstream}/p/${slug}/v1`, apiKey: heldKey(slug) };
  providers["workers-ai"] = { baseUrl: `${upstream}/client/v4/accounts/{account}/ai/run`, apiKey: heldKey("workers-ai") };
  providers["azure-openai"] = { baseUrl: `${upstream}/{resource}/openai/deployments/{deployment}`, apiKey: heldKey("azure-openai") };
  providers["custom-mock"] = { baseUrl: `${upstream}/custom`, apiKey: heldKey("custom-mock") };
  return providers;
}

const SLUGS = [...BUILT_IN_PROVIDERS.map((p) => p.slug), "custom-mock"];

/** Where a forwarded request may land at the mock: the provider's base path (Workers AI: beside `/run`). */
function allowedPath(slug: string): RegExp {
  if (slug === "workers-ai") return /^\/client\/v4\/accounts\/local\/ai\//;
  if (slug === "azure-openai") return /^\/[A-Za-z0-9-]+\/openai\/deployments\/[A-Za-z0-9_-][A-Za-z0-9._-]*(\/|$)/;
  if (slug === "custom-mock") return /^\/custom(\/|$)/;
  return new RegExp(`^/p/${slug}/v1(/|$)`);
}

/** Hostile endpoints aimed at `trap` (host:port). */
function hostileEndpoints(trap: string): string[] {
  const endpoints = [
    `${trap}#/dep/chat/completions`,
    `res#@${trap}/x`,
    `x@${trap}/chat/completions`,
    `${trap}/chat/completions`,
    `/${trap}/x`,
    `..\\${trap}\\x`,
    `chat\\..\\..\\${trap}`,
    `%2F%2F${trap}/x`,
    `x%2f..%2f..%2f..%2f${trap}`,
    `../${trap}/x`,
    `v1/../../${trap}/x`,
    `%2e%2e/${trap}/x`,
    `x/.%2E/.%2e/${trap}`,
    `http://${trap}/x`,
    `//${trap}/x`,
    `https:%2F%2F${trap}`,
  ];
  // The same again in Azure's deployment position (harmless text for the other providers).
  return [...endpoints, ...endpoints.map((e) => `my-res/${e}`)];
}

/**
 * The answer is either the gateway's 400 refusal (nothing sent) or a request that reached the mock
 * under the provider's base path; either way it carries no held key.
 */
async function expectRefusedOrConfined(res: Response, upstream: MockUpstream, before: number, slug: string, what: string): Promise<"refused" | "forwarded"> {
  const text = await res.clone().text();
  expect({ what, leaked: text.includes(SECRET) }).toEqual({ what, leaked: false });
  if (upstream.requests.length === before) {
    const code = (JSON.parse(text) as { internalCode?: number }).internalCode;
    // Bun resolves raw `..` in the request-target, which can turn the next segment into an unknown provider.
    const refusals: number[] = [ErrorCode.BadRequest, ErrorCode.UnknownProvider];
    expect({ what, refusal: refusals.includes(code ?? 0) }).toEqual({ what, refusal: true });
    await expectGatewayError(res, 400, code!);
    return "refused";
  }
  expect({ what, forwarded: upstream.requests.length - before }).toEqual({ what, forwarded: 1 });
  expect({ what, path: upstream.lastRequest()!.path }).toEqual({ what, path: expect.stringMatching(allowedPath(slug)) });
  return "forwarded";
}

describe("hostile paths never reach a host the operator did not configure", () => {
  test.each(SLUGS)("%s: every hostile endpoint is refused with 400 or stays under the base; the trap sees nothing", async (slug) => {
    await using trap = await startTrap();
    await using t = await gatewayWithMock((upstream) => ({ providers: providersAt(upstream) }));

    const outcomes: { endpoint: string; raw: string; fetch: string }[] = [];
    for (const endpoint of hostileEndpoints(trap.hostPort)) {
      const target = `/v1/local/default/${slug}/${endpoint}`;
      let before = t.upstream.requests.length;
      const raw = await expectRefusedOrConfined(await rawPost(t.gw.url, target, chat), t.upstream, before, slug, `raw ${target}`);
      before = t.upstream.requests.length;
      const res = await fetch(`${t.gw.url}${target}`, { method: "POST", headers: { "content-type": "application/json" }, body: chat });
      outcomes.push({ endpoint, raw, fetch: await expectRefusedOrConfined(res, t.upstream, before, slug, `fetch ${target}`) });
    }

    expect(trap.connections).toBe(0);
    // An encoded slash survives every normaliser on the way, so only the gateway's own check can stop it.
    const encodedSlash = outcomes.filter(({ endpoint }) => /%2f/i.test(endpoint));
    expect(encodedSlash).toEqual(encodedSlash.map(({ endpoint }) => ({ endpoint, raw: "refused", fetch: "refused" })));
    // Hostile-looking text that is harmless as a path (`x@host:port/…`) still reaches the configured base.
    expect(outcomes.filter(({ raw, fetch }) => raw === "forwarded" || fetch === "forwarded").length).toBeGreaterThan(0);
  });

  test("the probe: an Azure resource of host:port# with the default base is refused before any connection", async () => {
    await using trap = await startTrap();
    await using t = await gatewayWithMock({ providers: { "azure-openai": { apiKey: heldKey("azure-openai") } } });

    const raw = await rawPost(t.gw.url, `/v1/local/default/azure-openai/${trap.hostPort}#/dep/chat/completions?api-version=2024-10-21`, chat);
    const fetched = await fetch(`${t.gw.base()}/azure-openai/${trap.hostPort}/dep/chat/completions?api-version=2024-10-21`, { method: "POST", body: chat });

    // Either line may catch it: the request-target parser may drop the fragment, leaving "host:port" as the resource.
    expect(await expectGatewayError(raw, 400, ErrorCode.BadRequest)).toMatch(/^(Invalid Azure resource name "127\.0\.0\.1:\d+"|Refused path for azure-openai: the URL may not contain "#")/);
    expect(await expectGatewayError(fetched, 400, ErrorCode.BadRequest)).toBe(
      `Invalid Azure resource name "${trap.hostPort}": use 2–64 letters, digits and hyphens, starting and ending with a letter or digit; the path is /azure-openai/{resource}/{deployment}/…`,
    );
    expect(trap.connections).toBe(0);
  });

  test("Azure resource and deployment names outside Azure's rules are refused with 400, naming the segment", async () => {
    await using trap = await startTrap();
    await using t = await gatewayWithMock({ providers: { "azure-openai": { apiKey: heldKey("azure-openai") } } });
    const send = (endpoint: string) => rawPost(t.gw.url, `/v1/local/default/azure-openai/${endpoint}`, chat);
    const resources = [`x@${trap.hostPort}`, "a", "-res", "res-", "my.res", "r_s", "r%2Fs", "a".repeat(65), trap.hostPort.replace(":", "%3A")];
    // No dot segments here: Bun resolves them before routing, which could leave valid names that this
    // default base would send to a real Azure host (the unit tests cover them).
    const deployments = [".hidden", "dep:1", "dep@x", "dep%2Fx", "d".repeat(65), ""];

    const messages: string[] = [];
    for (const resource of resources) messages.push(await expectGatewayError(await send(`${resource}/dep/chat/completions`), 400, ErrorCode.BadRequest));
    for (const deployment of deployments) messages.push(await expectGatewayError(await send(`my-res/${deployment}/chat/completions`), 400, ErrorCode.BadRequest));

    const resource = "Invalid Azure resource name";
    const deployment = "Invalid Azure deployment name";
    const encodedSlash = "Refused path";
    expect(messages.map((m) => m.match(/^Invalid Azure (resource|deployment) name|^Refused path/)?.[0] ?? m)).toEqual([
      ...[resource, resource, resource, resource, resource, resource, encodedSlash, resource, resource],
      ...[deployment, deployment, deployment, encodedSlash, deployment, deployment],
    ]);
    expect(trap.connections).toBe(0);
  });

  test("a long hostile segment is echoed cut to about 60 characters", async () => {
    await using t = await gatewayWithMock({ providers: { "azure-openai": { apiKey: heldKey("azure-openai") } } });
    const resource = `evil-${"x".repeat(300)}.example`;

    const message = await expectGatewayError(await fetch(`${t.gw.base()}/azure-openai/${resource}/dep/chat/completions`, { method: "POST", body: chat }), 400, ErrorCode.BadRequest);

    expect(message).toContain(`"${resource.slice(0, 60)}…"`);
    expect(message).not.toContain(resource.slice(0, 61));
  });

  test("a Workers AI account that is not a Cloudflare account id is refused with 400", async () => {
    await using trap = await startTrap();
    await using t = await gatewayWithMock((upstream) => ({ providers: providersAt(upstream) }));
    const accounts = [trap.hostPort, `x@${trap.hostPort}`, `%2F%2F${trap.hostPort}`, "x%2F..%2F..", "a%23b", "a".repeat(65)];

    for (const account of accounts) {
      const res = await rawPost(t.gw.url, `/v1/${account}/default/workers-ai/@cf/meta/llama-3.1-8b-instruct`, chat);
      expect(await expectGatewayError(res, 400, ErrorCode.BadRequest)).toStartWith("Invalid account id");
    }
    expect(t.upstream.requests).toEqual([]);
    expect(trap.connections).toBe(0);
  });
});

describe("valid paths still go where they always went", () => {
  test("Workers AI models, its v1/ API, Azure deployments and a doubled /v1 reach the configured base with the held key", async () => {
    await using t = await gatewayWithMock((upstream) => ({ providers: providersAt(upstream) }));
    const send = (path: string) => fetch(`${t.gw.base()}/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: chat });

    const statuses = [
      (await send("workers-ai/@cf/meta/llama-3.1-8b-instruct")).status,
      (await send("workers-ai/v1/chat/completions")).status,
      (await send("azure-openai/my-res/gpt-4o.prod_1/chat/completions?api-version=2024-10-21")).status,
      (await send("openai/v1/chat/completions")).status,
      (await send("google-ai-studio/models/gemini-2.5-flash:generateContent")).status,
    ];

    // The mock serves only the OpenAI and Workers AI paths; what matters is where each request landed.
    expect(statuses).toEqual([200, 200, 404, 404, 404]);
    expect(t.upstream.requests.map(({ path, search, headers }) => ({ path, search, key: headers["api-key"] ?? headers.authorization ?? headers["x-goog-api-key"] }))).toEqual([
      { path: "/client/v4/accounts/local/ai/run/@cf/meta/llama-3.1-8b-instruct", search: "", key: `Bearer ${heldKey("workers-ai")}` },
      { path: "/client/v4/accounts/local/ai/v1/chat/completions", search: "", key: `Bearer ${heldKey("workers-ai")}` },
      { path: "/my-res/openai/deployments/gpt-4o.prod_1/chat/completions", search: "?api-version=2024-10-21", key: heldKey("azure-openai") },
      { path: "/p/openai/v1/chat/completions", search: "", key: `Bearer ${heldKey("openai")}` },
      { path: "/p/google-ai-studio/v1/models/gemini-2.5-flash:generateContent", search: "", key: heldKey("google-ai-studio") },
    ]);
  });
});
