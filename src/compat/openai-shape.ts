/** The OpenAI Chat Completions answer shapes the compat endpoint sends back for translated providers. */

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface OpenAIChoice {
  index: number;
  message: { role: "assistant"; content: string | null; refusal: null; tool_calls?: OpenAIToolCall[] };
  logprobs: null;
  finish_reason: FinishReason | null;
}

/** What every translated answer is stamped with. */
export interface AnswerInfo {
  /** `stream_options.include_usage` was set. */
  includeUsage: boolean;
  /** An id for answers that carry none (the request's log id). */
  fallbackId: string;
  /** Epoch seconds. */
  created: number;
}

/** OpenAI usage from prompt / completion counts; `cached` is part of `prompt`. */
export function usageOf(prompt: number, completion: number, cached = 0, reasoning?: number): OpenAIUsage {
  const usage: OpenAIUsage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
  if (reasoning) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/** A whole `chat.completion`. */
export function completion(id: string, model: string, created: number, choices: OpenAIChoice[], usage: OpenAIUsage | null): object {
  return { id, object: "chat.completion", created, model, choices, usage, system_fingerprint: null };
}

/** Builds `chat.completion.chunk` payloads for one answer: same id, model and created on every chunk. */
export class ChunkWriter {
  id: string;
  model: string;
  constructor(
    private readonly info: AnswerInfo,
    id?: string,
    model = "",
  ) {
    this.id = id ?? info.fallbackId;
    this.model = model;
  }

  /** One chunk with one choice's delta; `usage: null` rides along when the client asked for usage (as OpenAI does). */
  delta(index: number, delta: object, finish: FinishReason | null = null): object {
    const chunk: Record<string, unknown> = {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.info.created,
      model: this.model,
      system_fingerprint: null,
      choices: [{ index, delta, logprobs: null, finish_reason: finish }],
    };
    if (this.info.includeUsage) chunk.usage = null;
    return chunk;
  }

  /** The last chunk of a stream with `include_usage`: no choices, the usage. */
  usage(usage: OpenAIUsage): object {
    return { id: this.id, object: "chat.completion.chunk", created: this.info.created, model: this.model, system_fingerprint: null, choices: [], usage };
  }
}

/** OpenAI's error body. */
export function openaiError(message: string, type: string, code: string | null = null): { error: { message: string; type: string; param: null; code: string | null } } {
  return { error: { message, type, param: null, code } };
}
