/** OpenAI wire formats: Chat Completions, Responses, Embeddings, Models, and the error body. */
import { MOCK_CREATED, MOCK_REPLY, MOCK_TOOL_INPUT, json, modelOf, replyDeltas, sseEvent, sseResponse, type Body, type MockCall } from "./shared.ts";

export function openaiError(status: number, message: string): unknown {
  const type = status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
  return { error: { message, type, param: null, code: null } };
}

function chatUsage({ usage }: MockCall) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
  };
}

/** The tool the mock calls: the first one offered, unless the last message is a tool's answer. */
function toolToCall(body: Body): string | null {
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: unknown } }[]) : [];
  const last = Array.isArray(body.messages) ? (body.messages as { role?: unknown }[]).at(-1) : undefined;
  const name = tools[0]?.function?.name;
  return tools.length === 0 || last?.role === "tool" || typeof name !== "string" ? null : name;
}

/** An answer that calls the first tool with {@link MOCK_TOOL_INPUT} (streamed: id and name, then the arguments in two pieces). */
function toolCallAnswer(call: MockCall, name: string, base: object): Response {
  const id = `call_mock_${call.seq}`;
  const args = JSON.stringify(MOCK_TOOL_INPUT);
  if (call.body.stream !== true) {
    const message = { role: "assistant", content: null, refusal: null, tool_calls: [{ id, type: "function", function: { name, arguments: args } }] };
    return json({ ...base, object: "chat.completion", choices: [{ index: 0, message, logprobs: null, finish_reason: "tool_calls" }], usage: chatUsage(call) });
  }
  const chunk = (delta: object, finish: string | null) => sseEvent({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const events = [
    chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: "" } }] }, null),
    chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, 6) } }] }, null),
    chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(6) } }] }, null),
    chunk({}, "tool_calls"),
    sseEvent("[DONE]"),
  ];
  return sseResponse(call, events, 2);
}

/** `POST /v1/chat/completions`, also Workers AI's OpenAI-compatible `ai/v1/chat/completions`. Offered tools, it calls the first (see {@link toolToCall}). */
export function chatCompletions(call: MockCall): Response {
  const base = { id: `chatcmpl-mock-${call.seq}`, created: MOCK_CREATED, model: modelOf(call.body), system_fingerprint: null };
  const tool = toolToCall(call.body);
  if (tool) return toolCallAnswer(call, tool, base);
  if (call.body.stream !== true) {
    return json({
      ...base,
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: MOCK_REPLY, refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: chatUsage(call),
    });
  }
  const streamOptions = call.body.stream_options as { include_usage?: boolean } | undefined;
  const includeUsage = streamOptions?.include_usage === true;
  const chunk = (delta: object, finish: string | null) =>
    sseEvent({
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const events = [
    chunk({ role: "assistant", content: "" }, null),
    ...replyDeltas().map((content) => chunk({ content }, null)),
    chunk({}, "stop"),
  ];
  if (includeUsage) events.push(sseEvent({ ...base, object: "chat.completion.chunk", choices: [], usage: chatUsage(call) }));
  events.push(sseEvent("[DONE]"));
  return sseResponse(call, events, 2);
}

/** `POST /v1/responses`: the Responses object, or its event stream ending in `response.completed`. */
export function responses(call: MockCall): Response {
  const id = `resp_mock_${call.seq}`;
  const itemId = `msg_mock_${call.seq}`;
  const { usage } = call;
  const part = (text: string) => ({ type: "output_text", text, annotations: [] });
  const item = (status: string, content: object[]) => ({ type: "message", id: itemId, status, role: "assistant", content });
  const response = (status: string, output: object[], withUsage: boolean) => ({
    id,
    object: "response",
    created_at: MOCK_CREATED,
    status,
    model: modelOf(call.body),
    output,
    error: null,
    incomplete_details: null,
    instructions: call.body.instructions ?? null,
    metadata: {},
    parallel_tool_calls: true,
    temperature: null,
    tool_choice: "auto",
    tools: [],
    top_p: null,
    usage: withUsage
      ? {
          input_tokens: usage.promptTokens,
          input_tokens_details: { cached_tokens: usage.cachedTokens },
          output_tokens: usage.completionTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: usage.promptTokens + usage.completionTokens,
        }
      : null,
  });
  const done = response("completed", [item("completed", [part(MOCK_REPLY)])], true);
  if (call.body.stream !== true) return json(done);

  let seq = 0;
  const ev = (type: string, fields: object) => sseEvent({ type, sequence_number: seq++, ...fields }, type);
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  const events = [
    ev("response.created", { response: response("in_progress", [], false) }),
    ev("response.in_progress", { response: response("in_progress", [], false) }),
    ev("response.output_item.added", { output_index: 0, item: item("in_progress", []) }),
    ev("response.content_part.added", { ...at, part: part("") }),
    ...replyDeltas().map((delta) => ev("response.output_text.delta", { ...at, delta, logprobs: [] })),
    ev("response.output_text.done", { ...at, text: MOCK_REPLY, logprobs: [] }),
    ev("response.content_part.done", { ...at, part: part(MOCK_REPLY) }),
    ev("response.output_item.done", { output_index: 0, item: item("completed", [part(MOCK_REPLY)]) }),
    ev("response.completed", { response: done }),
  ];
  return sseResponse(call, events, 5);
}

/** `POST /v1/embeddings`: a small vector per input, base64 when asked (the `openai` client asks by default). */
export function embeddings(call: MockCall): Response {
  const inputs = Array.isArray(call.body.input) ? call.body.input : [call.body.input];
  const base64 = call.body.encoding_format === "base64";
  const data = inputs.map((input, index) => {
    const vector = Array.from({ length: 8 }, (_, i) => (String(input).length + i) / 100);
    const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector;
    return { object: "embedding", index, embedding };
  });
  const { promptTokens } = call.usage;
  return json({
    object: "list",
    data,
    model: modelOf(call.body),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

/** `GET /v1/models` without `anthropic-version`. */
export function models(): Response {
  const ids = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"];
  return json({ object: "list", data: ids.map((id) => ({ id, object: "model", created: MOCK_CREATED, owned_by: "mock" })) });
}
