import type { ProviderDef } from "../providers/types.ts";
import type { JsonObject } from "../providers/usage/fields.ts";
import type { ChatIntent } from "./chat.ts";
import type { AnswerInfo } from "./openai-shape.ts";
import type { EventTranslator } from "./sse-stream.ts";

/** A provider-native request: what one compat step sends. */
export interface NativeRequest {
  /** Provider-relative path, e.g. `v1/messages`. */
  endpoint: string;
  /** Query string with its `?`, or "". */
  search: string;
  body: unknown;
  /** Headers the provider's API needs besides the credential (e.g. `anthropic-version`). */
  headers?: Record<string, string>;
}

/** The chat request as the transport holds it: the body as sent, and its provider-neutral reading (made once, when a translator first asks). */
export interface ChatInput {
  raw: JsonObject;
  intent(): ChatIntent;
}

/**
 * How one provider family takes an OpenAI chat request and gives its answers back. A `passthrough`
 * family speaks OpenAI itself: its answers (JSON, streams, errors) go to the client untouched.
 */
export interface ChatTranslator {
  passthrough: boolean;
  request(chat: ChatInput, model: string, provider: ProviderDef): NativeRequest;
  /** The provider's JSON answer → an OpenAI `chat.completion`. */
  completion(body: unknown, info: AnswerInfo): object;
  /** A translator for one streaming answer. */
  stream(info: AnswerInfo): EventTranslator;
  /** The provider's error body (parsed, or the raw text when it is not JSON) → OpenAI's error body. */
  error(status: number, body: unknown): object;
}

/** An embeddings request read from the OpenAI body. */
export interface EmbeddingsInput {
  raw: JsonObject;
  /** The inputs as strings (token arrays are not translated). */
  texts: string[] | null;
}

/** How one provider family takes an OpenAI embeddings request and gives its answer back. */
export interface EmbeddingsTranslator {
  passthrough: boolean;
  request(input: EmbeddingsInput, model: string, provider: ProviderDef): NativeRequest;
  /** The provider's JSON answer → an OpenAI embeddings list. */
  answer(body: unknown, input: EmbeddingsInput, model: string): object;
  error(status: number, body: unknown): object;
}
