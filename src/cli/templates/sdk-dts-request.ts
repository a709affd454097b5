/** The request types of the "switchboard" module (usage, records, the request context), as `switchboard.d.ts` declares them. Part of `switchboard.d.ts` (sdk-dts.ts); test/cli/init.test.ts checks it against the real SDK. */
export const REQUEST_TYPES = `  export interface Usage {
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
`;
