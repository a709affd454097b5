/** The plugin API of the "switchboard" module (stores, health, the gateway handle, plugins, helpers), as `switchboard.d.ts` declares them. Part of `switchboard.d.ts` (sdk-dts.ts); test/cli/init.test.ts checks it against the real SDK. */
export const PLUGIN_TYPES = `  export type Next = () => Promise<Response>;

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

  /** The nearest stored prompt vector: the cache key it points at and its cosine similarity. */
  export interface VectorMatch {
    key: string;
    similarity: number;
  }

  /** Prompt vectors of the semantic cache, searched per partition; implementations normalise. */
  export interface VectorIndex {
    nearest(partition: string, vector: Float32Array, now?: number): Promise<VectorMatch | null>;
    add(partition: string, key: string, vector: Float32Array, expiresAt: number): Promise<void>;
    delete(partition: string, key: string): Promise<boolean>;
    purgeExpired(now?: number): Promise<number>;
  }

  /** Coalescing of identical cache misses: one leader goes upstream, followers wait for what it stored (null: go yourself). */
  export interface FlightStore {
    follow(key: string, read: (key: string) => Promise<CacheEntry | null>): Promise<{ leader: false; landed: Promise<CacheEntry | null> } | null>;
    join(
      key: string,
      read: (key: string) => Promise<CacheEntry | null>,
    ): Promise<{ leader: false; landed: Promise<CacheEntry | null> } | { leader: true; land(entry: CacheEntry | null): void }>;
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
    /** \`unavailable\`: a shared store could not be asked and \`storage.limitsWhenDown\` answered (a refusal then is an outage: 503, not 429). */
    take(requests: readonly CounterRequest[], now?: number): Promise<{ allowed: boolean; windows: { allowed: boolean; count: number; remaining: number; resetMs: number }[]; unavailable?: true }>;
    add(key: string, windowMs: number, amount: number, now?: number): Promise<void>;
  }

  export interface SpendRequest {
    key: string;
    windowMs: number;
    limit: number;
    sliding: boolean;
    reserve: number;
  }

  export interface SpendWindow {
    allowed: boolean;
    spent: number;
    reserved: number;
    windowStart: number;
    resetMs: number;
  }

  export interface SpendCharge {
    key: string;
    windowMs: number;
    reserved: number;
    cost: number;
  }

  export interface SpendStatus {
    key: string;
    windowMs: number;
    sliding: boolean;
    spent: number;
    reserved: number;
    windowStart: number;
    resetsAt: number;
  }

  /** USD per budget window: \`reserve\` admits while settled + reserved is under every limit, and holds the estimate in all or none. */
  export interface SpendStore {
    /** \`unavailable\`: a shared store could not be asked and \`storage.limitsWhenDown\` answered (a refusal then is an outage: 503, not 429). */
    reserve(requests: readonly SpendRequest[], now?: number): Promise<{ allowed: boolean; windows: SpendWindow[]; unavailable?: true }>;
    settle(charges: readonly SpendCharge[], now?: number): Promise<void>;
    list(prefix: string, now?: number): Promise<SpendStatus[]>;
    close(): Promise<void>;
  }

  /** A model's price in USD per million tokens. */
  export interface Price {
    input: number;
    output: number;
    cacheRead?: number;
    cacheWrite?: number;
  }

  /** The built-in (plus extra) price of a model at a provider, or null when unknown. */
  export function priceFor(provider: string, model: string | null | undefined, extra?: Record<string, Price>): Price | null;

  /** Parses a cf-aig-custom-cost header (USD per token) into a Price; throws on a bad value. */
  export function parseCustomCost(headerValue: string): Price;

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
    vectors: VectorIndex;
    counters: CounterStore;
    spend: SpendStore;
    tokens: TokenStore;
    breakers: BreakerStore;
    flights: FlightStore;
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
      storage: { sqlite: string; postgres: string | null; redis: string | null; timeout: number; limitsWhenDown: "open" | "closed"; logBuffer: number };
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
    /** false: handle would only call next() for this gateway's requests, so its chain leaves the plugin out. @default true */
    appliesTo?(gateway: ResolvedGateway): boolean;
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
  /** Whether a header carries a credential (authorization, x-api-key, anything named like a key, token or secret): never store its value. */
  export function isCredentialHeader(name: string): boolean;
  /** 32 hex digits of the SHA-256 of a credential: what may stand for it where its value must not be stored. */
  export function credentialDigest(value: string): string;`;
