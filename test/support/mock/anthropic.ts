/** Anthropic wire formats: Messages (JSON and the real SSE event sequence), count_tokens, Models, errors. */
import { MOCK_REPLY, json, modelOf, replyDeltas, sseEvent, sseResponse, type MockCall } from "./shared.ts";

export function anthropicError(status: number, message: string): unknown {
  const type =
    status === 529 ? "overloaded_error"
    : status === 429 ? "rate_limit_error"
    : status === 401 ? "authentication_error"
    : status === 404 ? "not_found_error"
    : status >= 500 ? "api_error"
    : "invalid_request_error";
  return { type: "error", error: { type, message } };
}

/** `POST /v1/messages`. */
export function messages(call: MockCall): Response {
  const { usage } = call;
  const cache = { cache_creation_input_tokens: usage.cacheCreationTokens, cache_read_input_tokens: usage.cachedTokens };
  const message = (content: object[], outputTokens: number, stopReason: string | null) => ({
    id: `msg_mock_${call.seq}`,
    type: "message",
    role: "assistant",
    model: modelOf(call.body),
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: usage.promptTokens, ...cache, output_tokens: outputTokens },
  });
  if (call.body.stream !== true) {
    return json(message([{ type: "text", text: MOCK_REPLY, citations: null }], usage.completionTokens, "end_turn"));
  }
  const ev = (type: string, fields: object = {}) => sseEvent({ type, ...fields }, type);
  const events = [
    ev("message_start", { message: message([], 1, null) }),
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ev("ping"),
    ...replyDeltas().map((text) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text } })),
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: usage.completionTokens } }),
    ev("message_stop"),
  ];
  return sseResponse(call, events, 4);
}

/** `POST /v1/messages/count_tokens`. */
export function countTokens(call: MockCall): Response {
  return json({ input_tokens: call.usage.promptTokens });
}

/** `GET /v1/models` with an `anthropic-version` header. */
export function models(): Response {
  const data = ["claude-sonnet-4-5", "claude-haiku-4-5"].map((id) => ({
    type: "model",
    id,
    display_name: id,
    created_at: "2025-01-01T00:00:00Z",
  }));
  return json({ data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id });
}
