import type { Usage } from "../pipeline/record.ts";

/**
 * Reads token usage out of one provider family's answers. `json` gets a whole non-streaming answer;
 * `event` gets each parsed SSE `data:` payload of a streaming answer, in order, and folds it into `usage`.
 */
export interface UsageReader {
  json(body: unknown, usage: Usage): void;
  event(data: unknown, usage: Usage, eventName: string | null): void;
}

export interface ProviderDef {
  /** The path slug, e.g. `openai`, `workers-ai`, `custom-local`. */
  slug: string;
  /**
   * Upstream base URL without a trailing slash. May contain `{account}` (replaced from the request
   * path) and the provider's own placeholders, filled by `baseParams`.
   */
  baseUrl: string;
  /**
   * Request headers that carry the provider credential, lower-case, most usual first.
   * Used for cache-key partitioning, key injection and redaction.
   */
  authHeaders: readonly string[];
  /** Writes a gateway-held API key into the provider's own auth header. */
  applyKey(headers: Headers, key: string): void;
  usage: UsageReader;
  /** The model a request asks for: from the JSON body, or from the endpoint where the provider puts it in the path. */
  model(endpoint: string, body: unknown): string | null;
  /**
   * Optional: values for the base URL's own placeholders, read from the front of the endpoint (Azure's
   * `{resource}/{deployment}/…`), and the endpoint that remains. Check each value against the
   * provider's own naming rules and throw a `GatewayError` 400 when one breaks them: these values
   * become part of the URL's host or path.
   */
  baseParams?(endpoint: string): BaseParams;
  /**
   * Optional: builds the upstream URL when joining base and endpoint is not enough (Workers AI's
   * OpenAI-compatible `v1/…` paths sit beside `/run`). `base` is the effective base URL (configured or
   * default) with every placeholder filled; `search` is the query string with its `?`, or "".
   * Without it the registry uses `joinUrl`.
   */
  url?(base: string, endpoint: string, search: string): string;
  /**
   * Optional: the URL prefix (origin plus path) this provider's upstream URLs must stay under, given
   * the filled base. The registry refuses any URL outside it before anything is sent.
   * @default the filled base itself
   * @example reach: (base) => base.replace(/\/run$/, "") // Workers AI: `…/ai/run` may also reach `…/ai/v1/…`
   */
  reach?(base: string): string;
  /**
   * Optional: the provider's realtime WebSocket API, which `GET /v1/{account}/{gateway}/{slug}` with
   * `Upgrade: websocket` relays frame for frame (reference §4b). Providers without it refuse the upgrade.
   * @example realtime: { endpoint: "realtime" } // openai: `/openai?model=…` → `wss://api.openai.com/v1/realtime?model=…`
   */
  realtime?: RealtimeDef;
}

/** How the realtime relay reaches one provider's WebSocket API. */
export interface RealtimeDef {
  /**
   * The path under the base URL the relay connects to; the client's own path after the slug is
   * appended to it (not doubled when the client already names it). "" for the base itself.
   */
  endpoint: string;
  /** Client request headers, besides `authHeaders`, that go to the provider (lower-case). @default [] */
  headers?: readonly string[];
  /**
   * `<name>.<value>` subprotocols whose upstream header is not simply `<name>: <value>`, by name.
   * @example { "openai-insecure-api-key": (key) => ["authorization", `Bearer ${key}`] }
   */
  protocolHeaders?: Readonly<Record<string, (value: string) => readonly [name: string, value: string]>>;
  /**
   * When the client names no path, the `model` query parameter becomes the path and leaves the query
   * (Workers AI: `?model=@cf/deepgram/nova-3` → `…/ai/run/@cf/deepgram/nova-3`). @default false
   */
  modelInPath?: boolean;
  /** Reads token usage from the provider's text frames. Without it, relayed sessions record no usage. */
  usage?: RealtimeUsage;
}

/** Usage in a realtime session's events. */
export interface RealtimeUsage {
  /** Only text frames containing this string are parsed (audio deltas are large and carry no usage). */
  marker: string;
  /** Adds one parsed event's usage to the session's running totals. */
  read(event: unknown, usage: Usage): void;
}

/** What `ProviderDef.baseParams` reads from an endpoint. */
export interface BaseParams {
  /** Placeholder name (without braces) → value, e.g. `{ resource: "my-res", deployment: "gpt-4o" }`. */
  params: Readonly<Record<string, string>>;
  /** The endpoint after the segments that held the values. */
  endpoint: string;
}
