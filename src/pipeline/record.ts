/** The one record the pipeline builds per request, after the body was delivered, failed or abandoned. */

export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue>;

/** Token usage as the provider reported it. `tokensIn` counts every prompt token, cached ones included. */
export interface Usage {
  tokensIn: number | null;
  tokensOut: number | null;
  /** Prompt tokens served from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  cacheReadTokens: number;
  /** Prompt tokens written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`). */
  cacheWriteTokens: number;
  /** The model the provider says answered, when the answer names one. */
  model?: string;
}

export const emptyUsage = (): Usage => ({ tokensIn: null, tokensOut: null, cacheReadTokens: 0, cacheWriteTokens: 0 });

export type RequestType = "provider" | "universal" | "websocket" | "compat";

/** One upstream attempt, as the retry/fallback machinery saw it. */
export interface Attempt {
  step: number;
  provider: string;
  status: number | null;
  durationMs: number;
  ttfbMs: number | null;
  error?: string;
}

export interface MessageSide {
  /** Headers with every credential removed. */
  headers: Record<string, string>;
  contentType: string | null;
  /** Bytes on the wire, whether or not the body was captured. */
  size: number;
  /** The captured body (capped), or null when not captured. */
  body: Uint8Array | null;
  truncated: boolean;
}

export interface RequestRecord {
  logId: string;
  eventId: string;
  gatewayId: string;
  accountId: string;
  /** Epoch milliseconds when the request arrived. */
  createdAt: number;
  requestType: RequestType;
  provider: string;
  model: string | null;
  /** The provider-relative path, e.g. `chat/completions`. */
  path: string;
  method: string;
  /** Index of the universal step that served (0 for provider-native requests). */
  step: number;
  status: number;
  success: boolean;
  cached: boolean;
  durationMs: number;
  /** Time from arrival to the first response byte from the provider (or the gateway's own answer). */
  ttfbMs: number | null;
  usage: Usage;
  /** USD; 0 for cache hits, null when the model has no known price. */
  cost: number | null;
  customCost: boolean;
  metadata: Metadata;
  userAgent: string | null;
  /** Id (never the secret) of the gateway token that authenticated the request. */
  tokenId: string | null;
  /** The gateway's own error, when the gateway produced the answer. Provider errors pass through and leave this null. */
  error: { code: number; message: string } | null;
  /** True when the client went away before the body was delivered. */
  aborted: boolean;
  attempts: Attempt[];
  request: MessageSide;
  response: MessageSide;
  /** Whether logging should keep this record at all, and with bodies. */
  collectLog: boolean;
  collectPayload: boolean;
}
