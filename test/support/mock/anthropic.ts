/**
 * Anthropic wire formats: Messages (JSON and the real SSE event sequence, tool use included),
 * count_tokens, Models, errors. A Messages request is checked the way the real API checks it
 * (see {@link messagesProblem}); a malformed one gets Anthropic's 400.
 */
import { MOCK_REPLY, MOCK_TOOL_INPUT, MOCK_TOOL_PREAMBLE, json, modelOf, replyDeltas, sseEvent, sseResponse, type Body, type MockCall } from "./shared.ts";

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

const TOP_LEVEL = new Set(["model", "max_tokens", "messages", "system", "temperature", "top_p", "top_k", "stop_sequences", "stream", "tools", "tool_choice", "metadata", "thinking", "service_tier"]);
const BLOCK_TYPES = new Set(["text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"]);

type Block = Record<string, unknown>;
const blocksOf = (content: unknown): Block[] => (Array.isArray(content) ? (content as Block[]) : typeof content === "string" ? [{ type: "text", text: content }] : []);

/**
 * What the real Messages API would refuse in this body, or null: unknown top-level fields
 * ("Extra inputs are not permitted"), a missing `max_tokens`, temperature outside 0–1, roles that do
 * not alternate starting with `user`, unknown or empty blocks, a `tool_result` that answers no
 * `tool_use` of the turn before, tools without `input_schema`.
 */
export function messagesProblem(body: Body): string | null {
  for (const key of Object.keys(body)) if (!TOP_LEVEL.has(key)) return `${key}: Extra inputs are not permitted`;
  if (typeof body.model !== "string") return "model: Field required";
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) return "max_tokens: Field required";
  if (typeof body.temperature === "number" && (body.temperature < 0 || body.temperature > 1)) return "temperature: Input should be less than or equal to 1";
  if (body.system !== undefined && typeof body.system !== "string" && !Array.isArray(body.system)) return "system: Input should be a valid string";
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return "messages: at least one message is required";
  let previous: Block | null = null;
  for (const [index, message] of (messages as Block[]).entries()) {
    if (message.role !== "user" && message.role !== "assistant") return `messages.${index}.role: Input should be 'user' or 'assistant'`;
    if (index === 0 && message.role !== "user") return "messages: first message must use the \"user\" role";
    if (previous && previous.role === message.role) return `messages: roles must alternate between "user" and "assistant", but found multiple "${message.role}" roles in a row`;
    const blocks = blocksOf(message.content);
    if (blocks.length === 0) return `messages.${index}: all messages must have non-empty content`;
    const called = new Set(blocksOf(previous?.content).filter((b) => b.type === "tool_use").map((b) => b.id));
    for (const block of blocks) {
      if (!BLOCK_TYPES.has(String(block.type))) return `messages.${index}.content: unknown block type ${JSON.stringify(block.type)}`;
      if (block.type === "text" && (typeof block.text !== "string" || block.text === "")) return `messages.${index}: text content blocks must be non-empty`;
      if (block.type === "tool_use" && (message.role !== "assistant" || typeof block.id !== "string" || typeof block.input !== "object")) return `messages.${index}: malformed tool_use block`;
      if (block.type === "tool_result" && (message.role !== "user" || !called.has(block.tool_use_id))) {
        return `messages.${index}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
      if (block.type === "image" && typeof (block.source as Block | undefined)?.type !== "string") return `messages.${index}: image blocks need a source`;
    }
    previous = message;
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return "tools: Input should be a valid list";
    for (const [index, tool] of (body.tools as Block[]).entries()) {
      if (typeof tool.name !== "string" || typeof tool.input_schema !== "object" || tool.input_schema === null) return `tools.${index}: name and input_schema are required`;
    }
  }
  return null;
}

/** The tool the mock calls: the first one offered, unless the last turn already answers a call. */
function toolToCall(body: Body): string | null {
  const tools = Array.isArray(body.tools) ? (body.tools as Block[]) : [];
  const last = Array.isArray(body.messages) ? (body.messages as Block[]).at(-1) : undefined;
  if (tools.length === 0 || blocksOf(last?.content).some((b) => b.type === "tool_result")) return null;
  return typeof tools[0].name === "string" ? tools[0].name : null;
}

/** `POST /v1/messages`. */
export function messages(call: MockCall): Response {
  const problem = messagesProblem(call.body);
  if (problem) return json(anthropicError(400, problem), 400);
  const { usage } = call;
  const cache = { cache_creation_input_tokens: usage.cacheCreationTokens, cache_read_input_tokens: usage.cachedTokens };
  const tool = toolToCall(call.body);
  const toolId = `toolu_mock_${call.seq}`;
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
    if (tool) {
      const content = [{ type: "text", text: MOCK_TOOL_PREAMBLE, citations: null }, { type: "tool_use", id: toolId, name: tool, input: MOCK_TOOL_INPUT }];
      return json(message(content, usage.completionTokens, "tool_use"));
    }
    return json(message([{ type: "text", text: MOCK_REPLY, citations: null }], usage.completionTokens, "end_turn"));
  }
  const ev = (type: string, fields: object = {}) => sseEvent({ type, ...fields }, type);
  const text = (index: number, deltas: string[]) => [
    ev("content_block_start", { index, content_block: { type: "text", text: "" } }),
    ...deltas.map((delta) => ev("content_block_delta", { index, delta: { type: "text_delta", text: delta } })),
    ev("content_block_stop", { index }),
  ];
  const args = JSON.stringify(MOCK_TOOL_INPUT);
  const pieces = [args.slice(0, 5), args.slice(5, 12), args.slice(12)];
  const body = tool
    ? [
        ...text(0, [MOCK_TOOL_PREAMBLE]),
        ev("content_block_start", { index: 1, content_block: { type: "tool_use", id: toolId, name: tool, input: {} } }),
        ...pieces.map((partial_json) => ev("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json } })),
        ev("content_block_stop", { index: 1 }),
      ]
    : text(0, replyDeltas());
  const events = [
    ev("message_start", { message: message([], 1, null) }),
    body[0],
    ev("ping"),
    ...body.slice(1),
    ev("message_delta", { delta: { stop_reason: tool ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: usage.completionTokens } }),
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
