/** Workers AI wire formats: `ai/run/@cf/…` (Cloudflare envelope, or SSE of `{response}` events) and errors. */
import { MOCK_REPLY, json, replyDeltas, sseEvent, sseResponse, type MockCall } from "./shared.ts";

export function workersAiError(status: number, message: string): unknown {
  return { result: null, success: false, errors: [{ code: status >= 500 ? 3043 : 3030, message }], messages: [] };
}

/** `POST /client/v4/accounts/:account/ai/run/:model` for text generation models. */
export function run(call: MockCall): Response {
  const { promptTokens, completionTokens } = call.usage;
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  if (call.body.stream !== true) {
    return json({ result: { response: MOCK_REPLY, usage }, success: true, errors: [], messages: [] });
  }
  const events = [
    ...replyDeltas().map((response) => sseEvent({ response })),
    sseEvent({ response: "", usage }),
    sseEvent("[DONE]"),
  ];
  return sseResponse(call, events, 1);
}
