import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** Documented once here; `defaults.ts` merges these defaults, `loader.ts` validates against this. */
const Strict = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, description });

export const LogsSchema = Strict({
  /** Keep a record of each request. @default true */
  collect: Type.Optional(Type.Boolean()),
  /** Keep request and response bodies with the record. @default true */
  payloads: Type.Optional(Type.Boolean()),
  /** Bytes of each body kept; the rest is cut and the log says so. @default 1048576 */
  maxPayloadBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Keep at most this many logs for the gateway; oldest are deleted first. */
  maxRows: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Delete logs older than this many days. */
  maxAgeDays: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
});

const Seconds = (max: number) => Type.Integer({ minimum: 0, maximum: max });

export const RateLimitRuleSchema = Strict({
  /** How many requests (or tokens, with `unit: "tokens"`) one key may spend per interval. */
  limit: Type.Integer({ minimum: 1 }),
  /** Window length in seconds. */
  interval: Type.Integer({ minimum: 1, maximum: 31 * 24 * 3600 }),
  /** `fixed`: clock-aligned windows; `sliding`: the previous window weighs in. @default "fixed" */
  technique: Type.Optional(Type.Union([Type.Literal("fixed"), Type.Literal("sliding")])),
  /** Who shares a budget: the whole gateway, a client address, a gateway token, a header's value or a metadata value. @default "gateway" */
  key: Type.Optional(Type.String({ pattern: "^(gateway|ip|token|header:.+|metadata:.+)$" })),
  /** What is counted: requests, or the tokens the provider reported. @default "requests" */
  unit: Type.Optional(Type.Union([Type.Literal("requests"), Type.Literal("tokens")])),
});

/** A window length: seconds, or `<n>s|m|h|d` such as `"1h"`, `"1d"`, `"30d"`. */
export const IntervalSchema = Type.Union([
  Type.Integer({ minimum: 1, maximum: 366 * 24 * 3600 }),
  Type.String({ pattern: "^[1-9][0-9]{0,5}(s|m|h|d)$" }),
]);

export const BudgetRuleSchema = Strict({
  /** The spend limit in USD per window; requests are refused once the key's spend reaches it. */
  usd: Type.Number({ exclusiveMinimum: 0 }),
  /** Window length: seconds, or `"1h"`, `"1d"`, `"30d"` (any `<n>s|m|h|d`, at most 366 days). Fixed windows are clock-aligned. */
  interval: IntervalSchema,
  /** Who shares the budget: the whole gateway, a gateway token, a header's value or a metadata value. A request without the value is not counted. @default "gateway" */
  key: Type.Optional(Type.String({ pattern: "^(gateway|token|header:.+|metadata:.+)$" })),
  /** Names the rule in 429 messages and the admin API. @default "budget-<position from 1>" */
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** `fixed`: clock-aligned windows; `sliding`: the previous window's spend weighs in. @default "fixed" */
  technique: Type.Optional(Type.Union([Type.Literal("fixed"), Type.Literal("sliding")])),
  /** Count only requests to this provider (glob, `*` matches anything), e.g. `"openai"`. @default every provider */
  provider: Type.Optional(Type.String({ minLength: 1 })),
  /** Count only requests for this model (glob), e.g. `"gpt-4o*"`. @default every model */
  model: Type.Optional(Type.String({ minLength: 1 })),
});

export const BackoffSchema = Type.Union([Type.Literal("constant"), Type.Literal("linear"), Type.Literal("exponential")]);

export const RetrySchema = Strict({
  /** Attempts per step, the first included (at most 5). @default 1 */
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
  /** ms before the second attempt; later ones follow `backoff` (at most 5000). @default 0 */
  delay: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000 })),
  /** How the delay grows: `constant`, `linear` (delay × n) or `exponential` (delay × 2ⁿ⁻¹), capped at 5000 ms. @default "constant" */
  backoff: Type.Optional(BackoffSchema),
  /** Provider statuses that trigger a retry or the next step (network errors and first-byte timeouts always do). @default 429 and every 5xx */
  statuses: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }))),
});

export const BreakerSchema = Strict({
  /** Failures within `window` that open the breaker of a target. @default 5 */
  failures: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Seconds over which failures are counted. @default 60 */
  window: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Seconds an open target is skipped; then one probe decides. @default 30 */
  cooldown: Type.Optional(Type.Integer({ minimum: 1 })),
});

export const GatewayTokenSchema = Type.Union([
  Type.String({ minLength: 16 }),
  Strict({ name: Type.Optional(Type.String({ minLength: 1 })), token: Type.String({ minLength: 16 }) }),
]);

/**
 * The semantic cache: on an exact-cache miss, a chat-like request's prompt is embedded through the
 * gateway's own `embed.provider` (with the key the gateway holds for it) and the answer of the most
 * similar earlier prompt of the same partition is replayed when the cosine similarity reaches `threshold`.
 * @example semantic: { threshold: 0.95, embed: { provider: "openai", model: "text-embedding-3-small" } }
 */
export const SemanticCacheSchema = Strict({
  /** Lowest cosine similarity (0–1) that answers from the cache. @default 0.95 */
  threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** The OpenAI-compatible embeddings route: a provider slug (built-in or `custom-<name>`) and its model. */
  embed: Strict({ provider: Type.String({ minLength: 1 }), model: Type.String({ minLength: 1 }) }),
  /** ms the embedding call may take before the request goes on as a MISS. @default 2000 */
  timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
});

/**
 * One guardrail rule (the "guardrails" plugin): what to look for, where, and what to do.
 * @example { detect: "email", on: "both", action: "redact" }
 */
export const GuardrailRuleSchema = Strict({
  /** A built-in detector, a deny-list regex (`flags` may add i, m, s, u) or whole words matched case-insensitively. */
  detect: Type.Union([
    Type.Union([Type.Literal("email"), Type.Literal("phone"), Type.Literal("card"), Type.Literal("iban"), Type.Literal("api-key")]),
    Strict({ regex: Type.String({ minLength: 1 }), flags: Type.Optional(Type.String({ pattern: "^[imsu]*$" })) }),
    Strict({ keywords: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }) }),
  ]),
  /** Which side is checked. @default "prompt" */
  on: Type.Optional(Type.Union([Type.Literal("prompt"), Type.Literal("answer"), Type.Literal("both")])),
  /** `block`: 424 (2029/2030 for detectors, 2016/2017 for regex and keywords); `redact`: `[REDACTED:<name>]`; `flag`: metadata `guardrails` names the rule. */
  action: Type.Union([Type.Literal("block"), Type.Literal("redact"), Type.Literal("flag")]),
  /** Shown in markers, flags and block messages. @default the detector ("email"), "regex" or "keywords" */
  name: Type.Optional(Type.String({ minLength: 1, pattern: "^[^,]+$" })),
});

export const GatewaySchema = Strict({
  logs: Type.Optional(LogsSchema),
  /** Require `cf-aig-authorization: Bearer <token>` on every request. @default false */
  authentication: Type.Optional(Type.Boolean()),
  /** Tokens accepted by this gateway, besides those made with `switchboard tokens create`. */
  tokens: Type.Optional(Type.Array(GatewayTokenSchema)),
  /** Cache answers for `ttl` seconds (0 = off). @default off */
  cache: Type.Optional(Strict({ ttl: Seconds(30 * 24 * 3600), semantic: Type.Optional(SemanticCacheSchema) })),
  /** One rate-limit rule or several. */
  rateLimit: Type.Optional(Type.Union([RateLimitRuleSchema, Type.Array(RateLimitRuleSchema)])),
  /** Spend limits in USD per window (the "budget" plugin); every rule that applies must have room. */
  budgets: Type.Optional(Type.Array(BudgetRuleSchema, { maxItems: 20 })),
  /** Prompt and answer checks of the "guardrails" plugin (which must be in the chain). @default none */
  guardrails: Type.Optional(Strict({ rules: Type.Array(GuardrailRuleSchema) })),
  /** Rules for `cf-aig-metadata`. */
  metadata: Type.Optional(Strict({ /** @default 5 */ maxEntries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) })),
  /** Provider keys this gateway injects when the client sent none (override `providers.<slug>.apiKey`). */
  providers: Type.Optional(Type.Record(Type.String(), Strict({ apiKey: Type.String({ minLength: 1 }) }))),
  /** Time to first byte from the provider, in ms, before the gateway answers 504. @default server.requestTimeout (300000) */
  requestTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
  /** A stream that has started but sends nothing for this long, in ms, is cut (the client sees an error). @default server.streamIdleTimeout (300000) */
  streamIdleTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Retries of every step of this gateway's requests (provider-native ones too); a step's `config` and the `cf-aig-*` retry headers win. */
  retry: Type.Optional(RetrySchema),
  /** The circuit breaker of each target (provider + base URL + model) this gateway calls. */
  breaker: Type.Optional(BreakerSchema),
});

export const ProviderSchema = Strict({
  /** Upstream base URL; `{account}` is replaced with the account from the request path. */
  baseUrl: Type.Optional(Type.String({ pattern: "^https?://" })),
  /** Key injected in the provider's own auth header when the client sent none. Never logged. */
  apiKey: Type.Optional(Type.String({ minLength: 1 })),
});

const ConditionScalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

/** Operators on one metadata value; every operator given must hold. */
export const ConditionOperatorsSchema = Strict({
  $eq: Type.Optional(ConditionScalar),
  $ne: Type.Optional(ConditionScalar),
  $in: Type.Optional(Type.Array(ConditionScalar)),
  $nin: Type.Optional(Type.Array(ConditionScalar)),
  /** Numbers only: a value that is not a number never matches. */
  $gt: Type.Optional(Type.Number()),
  $lt: Type.Optional(Type.Number()),
});

/**
 * A condition on the request's `cf-aig-metadata` (Mongo-like, as Cloudflare's dynamic routes):
 * `{ plan: "free" }` (equality), `{ "metadata.plan": { $in: ["free", "trial"] } }`, `{ tier: { $gt: 2 } }`,
 * `{ $and: [...] }`, `{ $or: [...] }`. Several keys in one object must all hold. A missing key matches
 * only `$ne` and `$nin`.
 */
export const RouteConditionSchema = Type.Recursive(
  (This) =>
    Type.Union([
      Strict({ $and: Type.Array(This, { minItems: 1 }) }),
      Strict({ $or: Type.Array(This, { minItems: 1 }) }),
      Type.Record(Type.String({ pattern: "^[^$]" }), Type.Union([ConditionScalar, ConditionOperatorsSchema]), { minProperties: 1, additionalProperties: false }),
    ]),
  { $id: "RouteCondition", description: "a metadata condition: { key: value }, { key: { $eq|$ne|$in|$nin|$gt|$lt } }, { $and: [...] } or { $or: [...] }" },
);

export const RouteTargetSchema = Strict({
  /** `{provider}/{model}` as the compat endpoint takes it, e.g. `"anthropic/claude-sonnet-4-5"`. */
  model: Type.String({ pattern: "^[^/]+/.+" }),
  /** Relative chance of being tried first (strategy `weighted`); 0 = only ever a fallback. @default 1 */
  weight: Type.Optional(Type.Number({ minimum: 0 })),
  /** ms to this target's first byte before the next target is tried (its `cf-aig-request-timeout`). @default the gateway's requestTimeout */
  timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 60 * 60 * 1000 })),
  /** Retries of this target before the next (`cf-aig-max-attempts` = retries + 1). @default the gateway's retry.maxAttempts - 1 */
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
  /** This target is used only when the condition holds for the request's metadata. @default always */
  when: Type.Optional(RouteConditionSchema),
});

/** A model route, used as `model: "dynamic/<name>"` on the compat endpoint. */
export const RouteSchema = Strict({
  /**
   * Order the targets are tried in: `fallback` as listed; `weighted` one drawn by weight first, the
   * rest as listed after it; `latency` lowest recent median time to first byte first. @default "fallback"
   */
  strategy: Type.Optional(Type.Union([Type.Literal("fallback"), Type.Literal("weighted"), Type.Literal("latency")])),
  /** Tried in the strategy's order by the `fallback` plugin (1–32). */
  targets: Type.Array(RouteTargetSchema, { minItems: 1, maxItems: 32 }),
  /** The route serves only requests whose metadata meets it; others get 400 (2141). @default always */
  when: Type.Optional(RouteConditionSchema),
  /** Seeds the weighted draw, so a sequence of draws repeats (tests, reproducible canaries). @default Math.random */
  seed: Type.Optional(Type.Integer()),
});

export const OtelSchema = Strict({
  /** Collector base URL; spans are POSTed to `{endpoint}/v1/traces`, e.g. `"http://localhost:4318"`. */
  endpoint: Type.String({ pattern: "^https?://" }),
  /** Headers sent with every export (a collector's API key). Never logged. */
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** Spans per POST; a full batch is sent at once. @default 512 */
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  /** ms between exports of a batch that is not full. @default 5000 */
  intervalMs: Type.Optional(Type.Integer({ minimum: 10 })),
});

export const CorsSchema = Strict({
  /**
   * Origins whose pages may call the AI routes (`/v1/*`: provider, Universal, compat) from a browser,
   * exactly as the browser sends them (`https://app.example.com`), or `["*"]` for any origin. The admin
   * API, the dashboard data and `/metrics` never answer cross-origin.
   */
  origins: Type.Array(Type.String({ pattern: "^(\\*|https?://[^/\\s]+)$" }), { minItems: 1 }),
  /** How long a browser may cache a preflight answer, in seconds. @default 600 */
  maxAge: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
});

export const PluginObjectSchema = Type.Object(
  { name: Type.String({ minLength: 1 }) },
  { additionalProperties: true, description: "a plugin made with definePlugin()" },
);

/** A model's price in USD per million tokens; `cacheRead` / `cacheWrite` default to `input`. */
export const PriceSchema = Strict({
  input: Type.Number({ minimum: 0 }),
  output: Type.Number({ minimum: 0 }),
  cacheRead: Type.Optional(Type.Number({ minimum: 0 })),
  cacheWrite: Type.Optional(Type.Number({ minimum: 0 })),
});

export const ConfigSchema = Strict({
  /** When set, `/v1/{account}/…` must match it. */
  accountId: Type.Optional(Type.String({ minLength: 1 })),
  server: Type.Optional(
    Strict({
      /** @default "127.0.0.1" */
      hostname: Type.Optional(Type.String({ minLength: 1 })),
      /** @default 8787 */
      port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
      /** Bearer token for the admin (logs) API; the admin API is off without one. */
      adminToken: Type.Optional(Type.String({ minLength: 8 })),
      /** Largest request body accepted, in bytes; larger ones get 413 by any amount. @default 104857600 (100 MiB) */
      maxBodyBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 * 1024 * 1024 })),
      /** Request-body bytes held in memory at once across all connections; past it new bodies get 503 with Retry-After. @default 268435456 (256 MiB) */
      bodyMemoryBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
      /** Slowest a request body may arrive, in bytes per second over each `bodyRateWindow`; slower is cut with 408. 0 turns it off. @default 1024 */
      minBodyRate: Type.Optional(Type.Integer({ minimum: 0 })),
      /** The window, in ms, over which `minBodyRate` is measured. @default 10000 */
      bodyRateWindow: Type.Optional(Type.Integer({ minimum: 10 })),
      /** Time to the provider's first byte, in ms, before the gateway answers 504; a gateway's `requestTimeout` and `cf-aig-request-timeout` override it. @default 300000 */
      requestTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
      /** Longest silence inside a started stream, in ms, before it is cut; a gateway's `streamIdleTimeout` overrides it. @default 300000 */
      streamIdleTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
      /** Time one plugin may spend on a request, in ms, not counting the time it waits in `next()`. 0 turns it off. @default 5000 */
      pluginTimeout: Type.Optional(Type.Integer({ minimum: 0 })),
      /** Per-plugin time limits by plugin name, in ms; win over `pluginTimeout` and a plugin's own `timeout`. */
      pluginTimeouts: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))),
      /** WebSocket limits (the Universal API over WebSocket and realtime relays). */
      websocket: Type.Optional(
        Strict({
          /** Largest frame a client may send, in bytes; larger closes the socket with 1009. @default 16777216 (16 MiB) */
          maxFrameBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
          /** Requests one connection may have in flight; more are refused with a universal.error (2116). @default 128 */
          maxInFlight: Type.Optional(Type.Integer({ minimum: 1 })),
          /** Seconds without any frame (pings included) before the socket is closed; Bun pings meanwhile. @default 120 */
          idleTimeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 960 })),
          /** Bytes the gateway may hold for a client that does not read; past it the socket is closed with 1008. @default 8388608 (8 MiB) */
          maxBufferedBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
        }),
      ),
      /** On SIGTERM/SIGINT, how long requests in flight (streams included) may run before they are ended and recorded as aborted by shutdown, in ms. @default 30000 */
      drainTimeout: Type.Optional(Type.Integer({ minimum: 0 })),
      /**
       * Who may read `GET /metrics` (Prometheus text format): `"admin"` needs `Authorization: Bearer <server.adminToken>`,
       * `"public"` is open to anyone, `"off"` answers 403 and counts nothing. @default "admin"
       */
      metrics: Type.Optional(Type.Union([Type.Literal("admin"), Type.Literal("public"), Type.Literal("off")])),
      /** Export one OpenTelemetry span per request over OTLP/HTTP JSON. @default off */
      otel: Type.Optional(OtelSchema),
      /** Cross-origin calls from browsers to the AI routes. @default closed: no CORS header, preflights refused (403 / 2117) */
      cors: Type.Optional(CorsSchema),
    }),
  ),
  storage: Type.Optional(
    Strict({
      /** SQLite file, relative to the config file's folder; `:memory:` keeps nothing. @default "./data/switchboard.db" */
      sqlite: Type.Optional(Type.String({ minLength: 1 })),
      /**
       * PostgreSQL URL: logs and gateway tokens live there (and nowhere else), shared by every replica.
       * @example postgres: process.env.DATABASE_URL // "postgres://switchboard:secret@db:5432/switchboard"
       */
      postgres: Type.Optional(Type.String({ pattern: "^postgres(ql)?://" })),
      /**
       * Redis or Valkey URL: rate-limit counters, budgets, cache entries, semantic-cache vectors, the
       * coalescing of identical in-flight requests and circuit breakers live there, shared by every replica.
       * @example redis: process.env.REDIS_URL // "redis://cache:6379"
       */
      redis: Type.Optional(Type.String({ pattern: "^rediss?://" })),
      /** The longest a request waits on PostgreSQL or Redis before that feature's outage policy applies, in ms. @default 250 */
      timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
      /**
       * Rate limits and budgets while Redis cannot be asked: `"open"` lets requests through (and logs a
       * warning), `"closed"` refuses them with 503. @default "open"
       */
      limitsWhenDown: Type.Optional(Type.Union([Type.Literal("open"), Type.Literal("closed")])),
      /** Log records held in memory while PostgreSQL is away, retried on reconnect; past it records are counted as dropped. @default 10000 */
      logBuffer: Type.Optional(Type.Integer({ minimum: 100 })),
    }),
  ),
  providers: Type.Optional(Type.Record(Type.String(), ProviderSchema)),
  /** Model routes for the compat endpoint (`model: "dynamic/<name>"`), by name. */
  routes: Type.Optional(Type.Record(Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$" }), RouteSchema)),
  gateways: Type.Optional(Type.Record(Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }), GatewaySchema)),
  /**
   * Prices that add to or win over the built-in table, USD per million tokens, keyed `provider/model`
   * or `model` (a dated snapshot matches its base id by prefix). `cf-aig-custom-cost` still wins; cache hits cost 0.
   * @example prices: { "openai/gpt-4o": { input: 2.5, output: 10, cacheRead: 1.25 }, "my-finetune": { input: 1, output: 2 } }
   */
  prices: Type.Optional(Type.Record(Type.String({ minLength: 1 }), PriceSchema)),
  /** The ordered plugin chain: built-in names or plugin objects. */
  plugins: Type.Optional(Type.Array(Type.Union([Type.String(), PluginObjectSchema]))),
});

export type RateLimitRule = Static<typeof RateLimitRuleSchema>;
export type BudgetRule = Static<typeof BudgetRuleSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
export type BreakerConfig = Static<typeof BreakerSchema>;
export type GatewayTokenConfig = Static<typeof GatewayTokenSchema>;
export type LogsConfig = Static<typeof LogsSchema>;
export type GatewayConfig = Static<typeof GatewaySchema>;
export type GuardrailRule = Static<typeof GuardrailRuleSchema>;
export type ProviderConfig = Static<typeof ProviderSchema>;
export type RouteCondition = Static<typeof RouteConditionSchema>;
export type RouteTarget = Static<typeof RouteTargetSchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type OtelConfig = Static<typeof OtelSchema>;
/** What a user writes in gateway.config.ts (plugin objects are typed precisely in the SDK). */
export type ConfigInput = Static<typeof ConfigSchema>;
