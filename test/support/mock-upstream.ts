/**
 * A real local provider for the test suite: one `Bun.serve({ port: 0 })` speaking OpenAI,
 * Anthropic, Workers AI and an echoing custom provider well enough for the official SDKs.
 *
 * Configure the gateway with these base URLs:
 * - openai `${url}/v1` — `POST chat/completions`, `responses`, `embeddings`; `GET models`
 * - anthropic `${url}` — `POST /v1/messages`, `/v1/messages/count_tokens`; `GET /v1/models` (with `anthropic-version`)
 * - workers-ai `${url}/client/v4/accounts/{account}/ai/run` — `POST @cf/…`; `…/ai/v1/chat/completions` and `…/ai/v1/embeddings` are OpenAI-shaped
 * - google-ai-studio `${url}` — `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:batchEmbedContents`
 * - custom `${url}/custom` — any method, echoes `{ method, path, search, body }`
 *
 * Answers are deterministic: see {@link expectedUsage} and {@link MOCK_REPLY}. Offered tools, every
 * provider calls the first one with {@link MOCK_TOOL_INPUT} until a tool result comes back. Anthropic and
 * Gemini requests are checked as the real APIs check them (a malformed one gets their 400). Per-request
 * control through request headers (they pass through SDKs and the gateway):
 * - `x-mock-status: 500` — answer that status with the provider's error body
 * - `x-mock-delay: ms` — wait before the status line
 * - `x-mock-break-after: n` — streaming: send n SSE events, then destroy the connection (0: before the status line)
 * - `x-mock-reset: 1` — close the connection without any HTTP answer
 * - `x-mock-cached-tokens: n`, `x-mock-cache-creation-tokens: n` — cache counts in `usage`
 *
 * @example
 * await using upstream = await startMockUpstream();
 * upstream.failNext({ status: 503 });
 * const client = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
 */
import * as anthropic from "./mock/anthropic.ts";
import * as gemini from "./mock/gemini.ts";
import * as openai from "./mock/openai.ts";
import { connectionReset, expectedUsage, json, type Body, type Hold, type MockCall } from "./mock/shared.ts";
import * as workersAi from "./mock/workers-ai.ts";

export { MOCK_REPLY, MOCK_TOOL_INPUT, MOCK_TOOL_PREAMBLE, PROMPT_OVERHEAD, MOCK_CREATED, expectedUsage, type MockUsage } from "./mock/shared.ts";
export { MOCK_THOUGHT_SIGNATURE } from "./mock/gemini.ts";

export interface ReceivedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Query string with its `?`, or "". */
  search: string;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: unknown;
}

export interface ScriptedFailure {
  /** Answer this status; the body defaults to the provider's error shape for the route. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Close the connection without any HTTP answer (`fetch` rejects). */
  reset?: boolean;
  /** Wait this long before answering (before the failure, or before the normal answer when alone). */
  delayMs?: number;
  /** How many of the next requests get this script. @default 1 */
  times?: number;
}

export interface MockUpstream extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Every request since start (or the last `reset()`), in arrival order. */
  requests: ReceivedRequest[];
  lastRequest(): ReceivedRequest | undefined;
  /** Resolves once `requests.length >= n` (counted since the last `reset()`). */
  waitForRequests(n: number): Promise<void>;
  /** Queue a scripted failure for the next `times` requests, in order after earlier scripts. */
  failNext(f: ScriptedFailure): void;
  /**
   * Holds the next streaming answer after its first text delta until `release()`.
   * `firstChunkSent` resolves once those chunks were handed to the socket.
   */
  holdStream(): { firstChunkSent: Promise<void>; release(): void };
  /** Clears requests, scripted failures and holds not yet taken. */
  reset(): void;
  stop(): Promise<void>;
}

type Family = "openai" | "anthropic" | "workers-ai" | "gemini";

const WORKERS_RUN = /^\/client\/v4\/accounts\/[^/]+\/ai\/run\/(.+)$/;
const WORKERS_CHAT = /^\/client\/v4\/accounts\/[^/]+\/ai\/v1\/chat\/completions$/;
const WORKERS_EMBEDDINGS = /^\/client\/v4\/accounts\/[^/]+\/ai\/v1\/embeddings$/;

function familyOf(path: string, headers: Record<string, string>): Family {
  if (path.startsWith("/v1/messages") || headers["anthropic-version"]) return "anthropic";
  if (WORKERS_RUN.test(path)) return "workers-ai";
  if (gemini.GEMINI_PATH.test(path)) return "gemini";
  return "openai";
}

function errorBody(family: Family, status: number): unknown {
  const message = `mock: scripted ${status}`;
  if (family === "anthropic") return anthropic.anthropicError(status, message);
  if (family === "workers-ai") return workersAi.workersAiError(status, message);
  if (family === "gemini") return gemini.geminiError(status, message);
  return openai.openaiError(status, message);
}

function route(r: ReceivedRequest, call: MockCall): Response {
  const post = r.method === "POST";
  if (r.path === "/custom" || r.path.startsWith("/custom/")) {
    return json({ method: r.method, path: r.path, search: r.search, body: r.body });
  }
  if (post && (r.path === "/v1/chat/completions" || WORKERS_CHAT.test(r.path))) return openai.chatCompletions(call);
  if (post && r.path === "/v1/responses") return openai.responses(call);
  if (post && (r.path === "/v1/embeddings" || WORKERS_EMBEDDINGS.test(r.path))) return openai.embeddings(call);
  if (post && r.path === "/v1/messages") return anthropic.messages(call);
  if (post && r.path === "/v1/messages/count_tokens") return anthropic.countTokens(call);
  if (r.method === "GET" && r.path === "/v1/models") {
    return r.headers["anthropic-version"] ? anthropic.models() : openai.models();
  }
  if (post && WORKERS_RUN.test(r.path)) return workersAi.run(call);
  const google = post ? gemini.GEMINI_PATH.exec(r.path) : null;
  if (google) {
    const [, model, method] = google;
    if (method === "batchEmbedContents") return gemini.batchEmbed(call);
    return gemini.generate(call, model, method === "streamGenerateContent", new URLSearchParams(r.search).get("alt") === "sse");
  }
  return json({ error: { message: "mock: no route" } }, 404);
}

function intHeader(headers: Record<string, string>, name: string): number | undefined {
  const value = headers[name];
  return value === undefined ? undefined : Number.parseInt(value, 10);
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

interface PendingHold extends Hold {
  release(): void;
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const requests: ReceivedRequest[] = [];
  const scripts: ScriptedFailure[] = [];
  const holds: PendingHold[] = [];
  const heldOpen = new Set<PendingHold>();
  let waiters: { n: number; resolve(): void }[] = [];
  let seq = 0;

  function record(r: ReceivedRequest) {
    requests.push(r);
    waiters = waiters.filter((w) => (requests.length >= w.n ? (w.resolve(), false) : true));
  }

  function takeScript(): ScriptedFailure | undefined {
    const script = scripts[0];
    if (!script) return undefined;
    const left = (script.times ?? 1) - 1;
    if (left <= 0) scripts.shift();
    else scripts[0] = { ...script, times: left };
    return script;
  }

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    // Streams may be held open by a test for as long as it likes.
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = await req.text();
      const headers = Object.fromEntries(req.headers);
      const received: ReceivedRequest = { method: req.method, path: url.pathname, search: url.search, headers, body, json: parseJson(body) };
      record(received);

      const script = takeScript();
      const delay = script?.delayMs ?? intHeader(headers, "x-mock-delay");
      if (delay) await Bun.sleep(delay);
      if (script?.reset || headers["x-mock-reset"]) return connectionReset();
      const status = script?.status ?? intHeader(headers, "x-mock-status");
      const family = familyOf(url.pathname, headers);
      if (status !== undefined) {
        return json(script?.body ?? errorBody(family, status), status, script?.headers ?? {});
      }

      const parsed = received.json;
      const call: MockCall = {
        seq: ++seq,
        body: (parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {}) as Body,
        usage: expectedUsage(parsed, {
          cachedTokens: intHeader(headers, "x-mock-cached-tokens"),
          cacheCreationTokens: intHeader(headers, "x-mock-cache-creation-tokens"),
        }),
        breakAfter: intHeader(headers, "x-mock-break-after"),
        takeHold: () => holds.shift(),
      };
      return route(received, call);
    },
  });

  const upstream: MockUpstream = {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    lastRequest: () => requests.at(-1),
    waitForRequests(n) {
      if (requests.length >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ n, resolve });
      return promise;
    },
    failNext(f) {
      scripts.push({ ...f });
    },
    holdStream() {
      const sent = Promise.withResolvers<void>();
      const released = Promise.withResolvers<void>();
      const hold: PendingHold = {
        sent: sent.resolve,
        released: released.promise,
        release() {
          heldOpen.delete(hold);
          released.resolve();
        },
      };
      holds.push(hold);
      heldOpen.add(hold);
      return { firstChunkSent: sent.promise, release: hold.release };
    },
    reset() {
      requests.length = 0;
      scripts.length = 0;
      holds.length = 0;
    },
    async stop() {
      // A held stream would keep its connection (and `server.stop`) waiting forever.
      for (const hold of [...heldOpen]) hold.release();
      await server.stop(true);
    },
    [Symbol.asyncDispose]() {
      return upstream.stop();
    },
  };
  return upstream;
}
