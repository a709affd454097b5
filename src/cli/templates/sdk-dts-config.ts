/** The config types of the "switchboard" module, as `switchboard.d.ts` declares them. Part of `switchboard.d.ts` (sdk-dts.ts); test/cli/init.test.ts checks it against the real SDK. */
export const CONFIG_TYPES = `  export type MetadataValue = string | number | boolean;
  export type Metadata = Record<string, MetadataValue>;
  export type BuiltInPluginName = "auth" | "metadata" | "cache" | "budget" | "rate-limit" | "fallback" | "logging" | "guardrails";
  export type RequestType = "provider" | "universal" | "websocket" | "compat";

  export interface RateLimitRule {
    limit: number;
    /** Seconds. */
    interval: number;
    technique?: "fixed" | "sliding";
    /** "gateway" (default), "ip", "token", "header:<name>" or "metadata:<key>". */
    key?: string;
    unit?: "requests" | "tokens";
  }

  /** A spend limit (the "budget" plugin): USD per window for one key's requests. */
  export interface BudgetRule {
    usd: number;
    /** Seconds, or "1h", "1d", "30d" (any "<n>s|m|h|d"). */
    interval: number | string;
    /** "gateway" (default), "token", "header:<name>" or "metadata:<key>"; a request without the value is not counted. */
    key?: string;
    /** @default "budget-<position from 1>" */
    name?: string;
    /** @default "fixed" */
    technique?: "fixed" | "sliding";
    /** Globs ("*"); only matching requests count. */
    provider?: string;
    model?: string;
  }

  /** A rule of the "guardrails" plugin: block → 424 (2029/2030 detectors, 2016/2017 regex/keywords); redact → [REDACTED:<name>]; flag → metadata "guardrails". */
  export interface GuardrailRule {
    detect: "email" | "phone" | "card" | "iban" | "api-key" | { regex: string; flags?: string } | { keywords: string[] };
    /** @default "prompt" */
    on?: "prompt" | "answer" | "both";
    action: "block" | "redact" | "flag";
    /** @default the detector, "regex" or "keywords" */
    name?: string;
  }

  export interface GatewayConfig {
    logs?: { collect?: boolean; payloads?: boolean; maxPayloadBytes?: number; maxRows?: number; maxAgeDays?: number };
    requestTimeout?: number;
    /** Longest silence inside a started stream, ms. @default server.streamIdleTimeout */
    streamIdleTimeout?: number;
    /**
     * Retries of every step (the "fallback" plugin); cf-aig-max-attempts / -retry-delay / -backoff win.
     * maxAttempts 1–5 (@default 1), delay ms 0–5000 (@default 0), backoff (@default "constant"),
     * statuses that count as failures (@default 429 and every 5xx).
     */
    retry?: { maxAttempts?: number; delay?: number; backoff?: "constant" | "linear" | "exponential"; statuses?: number[] };
    /** Circuit breaker per target: failures within window (s) open it for cooldown (s). @default { failures: 5, window: 60, cooldown: 30 } */
    breaker?: { failures?: number; window?: number; cooldown?: number };
    authentication?: boolean;
    tokens?: (string | { name?: string; token: string })[];
    /**
     * Cache answers for ttl seconds. semantic: on an exact miss, replay the answer of a similar prompt
     * (cosine ≥ threshold, @default 0.95), embedded through embed.provider; timeout ms @default 2000.
     */
    cache?: { ttl: number; semantic?: { threshold?: number; embed: { provider: string; model: string }; timeout?: number } };
    rateLimit?: RateLimitRule | RateLimitRule[];
    /** Spend limits in USD (at most 20). */
    budgets?: BudgetRule[];
    guardrails?: { rules: GuardrailRule[] };
    metadata?: { maxEntries?: number };
    providers?: Record<string, { apiKey: string }>;
  }

  export interface ProviderConfig {
    baseUrl?: string;
    apiKey?: string;
  }

  /** Operators on one metadata value; numbers only for $gt / $lt. */
  export interface ConditionOperators {
    $eq?: string | number | boolean;
    $ne?: string | number | boolean;
    $in?: (string | number | boolean)[];
    $nin?: (string | number | boolean)[];
    $gt?: number;
    $lt?: number;
  }

  /** A condition on cf-aig-metadata: { key: value }, { key: { $in: [...] } }, { $and: [...] }, { $or: [...] }. */
  export type RouteCondition = { $and: RouteCondition[] } | { $or: RouteCondition[] } | Record<string, string | number | boolean | ConditionOperators>;

  /** A model route, used as model: "dynamic/<name>" on the compat endpoint. */
  export interface RouteConfig {
    /** @default "fallback" */
    strategy?: "fallback" | "weighted" | "latency";
    targets: {
      /** "{provider}/{model}", e.g. "anthropic/claude-sonnet-4-5". */
      model: string;
      /** Chance of being tried first (strategy "weighted"). @default 1 */
      weight?: number;
      /** ms to first byte before the next target. */
      timeout?: number;
      /** Retries (0–4) before the next target. */
      retries?: number;
      /** The target is used only when this holds. */
      when?: RouteCondition;
    }[];
    /** Requests whose metadata does not meet it get 400 (2141). */
    when?: RouteCondition;
    /** Seeds the weighted draw. @default Math.random */
    seed?: number;
  }

  export interface Config {
    accountId?: string;
    server?: {
      hostname?: string;
      port?: number;
      adminToken?: string;
      /** Bytes; larger bodies get 413. @default 104857600 */
      maxBodyBytes?: number;
      /** Request-body bytes held in memory at once; past it 503 + Retry-After. @default 268435456 */
      bodyMemoryBytes?: number;
      /** Bytes per second a body must arrive at, over each bodyRateWindow; 0 = off. @default 1024 */
      minBodyRate?: number;
      /** ms. @default 10000 */
      bodyRateWindow?: number;
      /** Time to the provider's first byte, ms, before 504. @default 300000 */
      requestTimeout?: number;
      /** Longest silence inside a started stream, ms, before it is cut. @default 300000 */
      streamIdleTimeout?: number;
      /** A plugin's own time per request, ms (time in next() excluded); 0 = off. @default 5000 */
      pluginTimeout?: number;
      /** Per-plugin limits by name, ms. */
      pluginTimeouts?: Record<string, number>;
      /** How long a stop waits for requests in flight, ms. @default 30000 */
      drainTimeout?: number;
      /** WebSocket limits. */
      websocket?: {
        /** @default 16777216 */
        maxFrameBytes?: number;
        /** @default 128 */
        maxInFlight?: number;
        /** Seconds. @default 120 */
        idleTimeout?: number;
        /** @default 8388608 */
        maxBufferedBytes?: number;
      };
      /** Who may read GET /metrics (Prometheus): "admin" needs the admin token, "public" is open, "off" counts nothing. @default "admin" */
      metrics?: "admin" | "public" | "off";
      /** Browsers on these origins may call the AI routes (/v1/*); "*" for any. @default closed (no CORS header, preflights refused) */
      cors?: { origins: string[]; /** Preflight cache, seconds. @default 600 */ maxAge?: number };
      /** One OpenTelemetry span per request over OTLP/HTTP JSON to {endpoint}/v1/traces. @default off */
      otel?: {
        /** Collector base URL, e.g. "http://localhost:4318". */
        endpoint: string;
        /** Sent with every export (a collector's API key); never logged. */
        headers?: Record<string, string>;
        /** Spans per POST. @default 512 */
        batchSize?: number;
        /** ms between exports of a batch that is not full. @default 5000 */
        intervalMs?: number;
      };
    };
    storage?: {
      sqlite?: string;
      /** PostgreSQL URL: logs and gateway tokens, shared by every replica. */
      postgres?: string;
      /** Redis URL: counters, budgets, cache, vectors, in-flight coalescing and breakers, shared by every replica. */
      redis?: string;
      /** ms a request waits on PostgreSQL or Redis. @default 250 */
      timeout?: number;
      /** Rate limits and budgets while Redis is away. @default "open" */
      limitsWhenDown?: "open" | "closed";
      /** Log records held in memory while PostgreSQL is away. @default 10000 */
      logBuffer?: number;
    };
    providers?: Record<string, ProviderConfig>;
    /** Model routes for the compat endpoint, by name. */
    routes?: Record<string, RouteConfig>;
    gateways?: Record<string, GatewayConfig>;
    /** USD per million tokens, keyed "provider/model" or "model"; win over the built-in prices. cacheRead / cacheWrite default to input. */
    prices?: Record<string, { input: number; output: number; cacheRead?: number; cacheWrite?: number }>;
    plugins?: (BuiltInPluginName | Plugin)[];
  }
`;
