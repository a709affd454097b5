/**
 * The `switchboard.d.ts` that `switchboard init` writes: the public module's types, so an editor
 * type-checks gateway.config.ts and plugins with no install step. It mirrors src/sdk.ts;
 * test/cli/init.test.ts type-checks the files init writes against it and against the real SDK.
 */
export const SDK_DTS = `// Types of the "switchboard" module, written by \`switchboard init\`. The gateway binary provides
// the module itself at run time; this file only serves your editor and \`tsc\`.
declare var process: { env: Record<string, string | undefined> };

declare module "switchboard" {
  export type MetadataValue = string | number | boolean;
  export type Metadata = Record<string, MetadataValue>;
  export type BuiltInPluginName = "auth" | "metadata" | "cache" | "rate-limit" | "fallback" | "logging";
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
    cache?: { ttl: number };
    rateLimit?: RateLimitRule | RateLimitRule[];
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
    };
    storage?: { sqlite?: string };
    providers?: Record<string, ProviderConfig>;
    /** Model routes for the compat endpoint, by name. */
    routes?: Record<string, RouteConfig>;
    gateways?: Record<string, GatewayConfig>;
    plugins?: (BuiltInPluginName | Plugin)[];
  }

  export interface Usage {
    tokensIn: number | null;
    tokensOut: number | null;
    cacheReadTokens: number;
    cacheWriteTokens: number;
    model?: string;
  }

  export interface Attempt {
    step: number;
    provider: string;
    status: number | null;
    durationMs: number;
    ttfbMs: number | null;
    error?: string;
  }

  export interface MessageSide {
    headers: Record<string, string>;
    contentType: string | null;
    size: number;
    body: Uint8Array | null;
    truncated: boolean;
  }

  export interface RequestRecord {
    logId: string;
    eventId: string;
    gatewayId: string;
    accountId: string;
    createdAt: number;
    requestType: RequestType;
    provider: string;
    model: string | null;
    path: string;
    method: string;
    step: number;
    status: number;
    success: boolean;
    cached: boolean;
    durationMs: number;
    ttfbMs: number | null;
    usage: Usage;
    cost: number | null;
    customCost: boolean;
    metadata: Metadata;
    userAgent: string | null;
    tokenId: string | null;
    error: { code: number; message: string } | null;
    aborted: boolean;
    attempts: Attempt[];
    request: MessageSide;
    response: MessageSide;
    collectLog: boolean;
    collectPayload: boolean;
  }

  export interface ResolvedGateway {
    id: string;
    logs: { collect: boolean; payloads: boolean; maxPayloadBytes: number; maxRows?: number; maxAgeDays?: number };
    requestTimeout: number;
    streamIdleTimeout: number;
    /** statuses: null means 429 and every 5xx. */
    retry: { maxAttempts: number; delayMs: number; backoff: "constant" | "linear" | "exponential"; statuses: ReadonlySet<number> | null };
    /** In ms. */
    breaker: BreakerSettings;
    raw: GatewayConfig;
  }

  export interface ProviderDef {
    slug: string;
    baseUrl: string;
    authHeaders: readonly string[];
    applyKey(headers: Headers, key: string): void;
    model(endpoint: string, body: unknown): string | null;
  }

  export interface Step {
    provider: ProviderDef;
    endpoint: string;
    search: string;
    method: string;
    headers: Headers;
    options: Headers | null;
    body: Uint8Array | null;
  }

  export class RequestContext {
    readonly logId: string;
    readonly eventId: string;
    readonly createdAt: number;
    readonly startedAt: number;
    readonly gateway: ResolvedGateway;
    readonly gatewayId: string;
    readonly accountId: string;
    readonly requestType: RequestType;
    /** The client's request headers. */
    readonly headers: Headers;
    readonly clientAddress: string | null;
    readonly steps: Step[];
    stepIndex: number;
    readonly step: Step;
    /** Slug of the current step's provider. */
    readonly provider: string;
    /** The model the current step asks for. */
    readonly model: string | null;
    metadata: Metadata;
    tokenId: string | null;
    cacheStatus: "HIT" | "MISS";
    collectLog: boolean;
    collectPayload: boolean;
    /** Extra headers for the client's response. */
    readonly responseHeaders: Headers;
    /** Scratch space for plugins. */
    readonly state: Map<string, unknown>;
    readonly attempts: Attempt[];
    ttfbMs: number | null;
    /** Why the request was ended early, once it was: the client left, or the gateway is stopping. */
    readonly abortReason: "client" | "shutdown" | null;
    /** Aborted when the request is ended early. */
    readonly signal: AbortSignal;
    /** True while the request body has not been read (only for plugins with readsBody: false). */
    readonly bodyPending: boolean;
    /** Reads the request body into steps[0].body, once. */
    loadBody(): Promise<void>;
    /** The current step's body parsed as JSON (once), or undefined. */
    json(): unknown;
    /** A cf-aig-* option: the step's value wins over the request's. */
    option(name: string): string | null;
    /** Keep up to \`bytes\` of the response body for onComplete (record.response.body). */
    captureResponse(bytes: number): void;
    /** An AiGatewayError answer: {"success":false,"error":[{code,message}],"name":"AiGatewayError",…}. */
    error(status: number, code: number, message: string): Response;
  }

  export type Next = () => Promise<Response>;

  export interface Logger {
    info(message: string): void;
    warn(message: string): void;
    error(message: string, error?: unknown): void;
  }

  export interface LogFilter {
    key: string;
    operator: "eq" | "neq" | "contains" | "lt" | "gt";
    value: (string | number | boolean | null)[];
  }

  /** A stored log as the logs API returns it (the main fields; see the README for all). */
  export interface LogRow {
    id: string;
    created_at: string;
    gateway_id: string;
    provider: string;
    model: string | null;
    path: string;
    status_code: number;
    success: boolean;
    cached: boolean;
    duration: number;
    tokens_in: number | null;
    tokens_out: number | null;
    cost: number | null;
    /** JSON string. */
    metadata: string | null;
    event_id: string;
  }

  /** Logs: appended in batches off the request path; queries see everything appended before them. */
  export interface LogStore {
    append(record: RequestRecord): void;
    flush(): Promise<void>;
    list(gatewayId: string, query: { page: number; perPage: number; orderBy: string; direction: "asc" | "desc"; filters: LogFilter[]; search?: string }): Promise<{ rows: LogRow[]; total: number }>;
    get(gatewayId: string, id: string): Promise<LogRow | null>;
    patch(gatewayId: string, id: string, patch: { feedback?: -1 | 0 | 1 | null; score?: number | null; metadata?: Metadata | null }): Promise<boolean>;
    delete(gatewayId: string, filters: LogFilter[]): Promise<number>;
  }

  export interface CacheEntry {
    status: number;
    headers: [name: string, value: string][];
    body: Uint8Array;
    step: number;
    createdAt: number;
    expiresAt: number;
  }

  export interface CacheStore {
    get(key: string, now?: number): Promise<CacheEntry | null>;
    put(key: string, entry: CacheEntry): Promise<void>;
    delete(key: string): Promise<boolean>;
    purgeExpired(now?: number): Promise<number>;
  }

  export interface CounterRequest {
    key: string;
    windowMs: number;
    limit: number;
    cost: number;
    sliding: boolean;
  }

  /** Windowed counters: \`take\` checks every request's window and charges all of them only when all pass. */
  export interface CounterStore {
    take(requests: readonly CounterRequest[], now?: number): Promise<{ allowed: boolean; windows: { allowed: boolean; count: number; remaining: number; resetMs: number }[] }>;
    add(key: string, windowMs: number, amount: number, now?: number): Promise<void>;
  }

  export interface GatewayToken {
    id: string;
    gatewayId: string;
    name: string | null;
    createdAt: number;
    expiresAt: number | null;
    revokedAt: number | null;
  }

  export interface TokenStore {
    create(input: { gatewayId: string; name?: string | null; expiresAt?: number | null }): Promise<{ token: string; info: GatewayToken }>;
    list(gatewayId?: string): Promise<GatewayToken[]>;
    revoke(id: string, gatewayId?: string): Promise<boolean>;
    verify(gatewayId: string, secret: string, now?: number): Promise<GatewayToken | null>;
  }

  /** What a circuit breaker guards: one model of one provider at one base URL, for one gateway. */
  export interface BreakerTarget {
    gatewayId: string;
    provider: string;
    baseUrl: string;
    model: string | null;
  }

  /** A gateway's breaker config, in ms. */
  export interface BreakerSettings {
    failures: number;
    windowMs: number;
    cooldownMs: number;
  }

  export type BreakerState = "closed" | "open" | "half-open";

  /** probe: this call is a half-open breaker's one probe; report it with success, failure or release. */
  export type BreakerPermit = { allowed: true; probe: boolean } | { allowed: false; retryAt: number };

  export interface BreakerStatus {
    target: BreakerTarget;
    state: BreakerState;
    failures: number;
    openedAt: number | null;
    retryAt: number | null;
  }

  /** Circuit breakers per target; times are epoch ms. */
  export interface BreakerStore {
    allow(target: BreakerTarget, settings: BreakerSettings, now: number): Promise<BreakerPermit>;
    success(target: BreakerTarget, now: number): Promise<void>;
    failure(target: BreakerTarget, settings: BreakerSettings, now: number): Promise<void>;
    release(target: BreakerTarget, now: number): Promise<void>;
    list(gatewayId: string, now: number): Promise<BreakerStatus[]>;
    close(): Promise<void>;
  }

  export interface Stores {
    logs: LogStore;
    cache: CacheStore;
    counters: CounterStore;
    tokens: TokenStore;
    breakers: BreakerStore;
  }

  export interface ProviderRegistry {
    get(slug: string): ProviderDef | undefined;
    slugs(): string[];
    url(provider: ProviderDef, accountId: string, endpoint: string, search: string): string;
  }

  export interface FaultOptions {
    /** What was being done, e.g. "writing cached answers". */
    during?: string;
  }

  export interface HealthFault {
    component: string;
    reason: string;
    count: number;
    since: string;
    last: string;
  }

  /** The body of GET /health (always HTTP 200). */
  export interface HealthReport {
    status: "ok" | "degraded";
    faults: HealthFault[];
    stats: Record<string, Record<string, number>>;
  }

  /** Background failures go here instead of ending the process; the first of a burst is logged. */
  export interface Health {
    fault(component: string, error: unknown, options?: FaultOptions): void;
    recovered(component: string): void;
    section(name: string, read: () => Record<string, number>): void;
    snapshot(): HealthReport;
  }

  export interface GatewayHandle {
    readonly config: {
      accountId?: string;
      server: {
        hostname: string;
        port: number;
        adminToken?: string;
        maxBodyBytes: number;
        bodyMemoryBytes: number;
        minBodyRate: number;
        bodyRateWindow: number;
        requestTimeout: number;
        streamIdleTimeout: number;
        pluginTimeout: number;
        pluginTimeouts: Record<string, number>;
        drainTimeout: number;
        websocket: { maxFrameBytes: number; maxInFlight: number; idleTimeout: number; maxBufferedBytes: number };
      };
      storage: { sqlite: string };
      gateways: Map<string, ResolvedGateway>;
      configPath: string | null;
      configDir: string;
    };
    readonly stores: Stores;
    readonly providers: ProviderRegistry;
    readonly logger: Logger;
    readonly health: Health;
  }

  export interface Plugin {
    name: string;
    setup?(gateway: GatewayHandle): void | Promise<void>;
    handle?(ctx: RequestContext, next: Next): Response | Promise<Response>;
    onComplete?(record: RequestRecord, ctx: RequestContext): void | Promise<void>;
    close?(): void | Promise<void>;
    callsNextRepeatedly?: boolean;
    /** ms of its own time per request (time in next() excluded); 0 = none. @default server.pluginTimeout */
    timeout?: number;
    /** false: handle never reads the body, so it runs before the body is read. @default true */
    readsBody?: boolean;
  }

  export class GatewayError extends Error {
    constructor(status: number, code: number, message: string, options?: { cause?: unknown; headers?: Record<string, string> });
    readonly status: number;
    readonly code: number;
    readonly headers?: Record<string, string>;
  }

  export const ErrorCode: Readonly<Record<string, number>>;

  /** The error of a request ended early: the client left (499/2112) or the gateway is stopping (503/2113). */
  export function requestEnded(reason: "client" | "shutdown", during: string, cause?: unknown): GatewayError;

  export function defineConfig(config: Config): Config;
  export function definePlugin<P extends Plugin>(plugin: P): P;
  export function booleanOption(ctx: RequestContext, name: string): boolean | undefined;
  export function integerOption(ctx: RequestContext, name: string, range?: { min?: number; max?: number }): number | undefined;
}
`;
