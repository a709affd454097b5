import type { RequestContext } from "../pipeline/context.ts";
import { judgeStreamEnd } from "../pipeline/deliver.ts";
import { ErrorCode, errorResponse, GatewayError } from "../pipeline/errors.ts";
import { openaiError } from "./openai-shape.ts";
import type { PlannedTarget } from "./routes.ts";
import { translateSse, type EventTranslator } from "./sse-stream.ts";

/** How the answer of the step that served goes back to the client. */
export interface AnswerShape {
  /** The provider spoke OpenAI: its answer goes back untouched. */
  passthrough: boolean;
  /** A 2xx JSON answer, parsed → the OpenAI body. */
  json(body: unknown): object;
  /** An error answer (parsed, or its text when not JSON) → OpenAI's error body. */
  error(status: number, body: unknown): object;
  /** A streaming answer's translator; absent for answers that never stream. */
  stream?(): EventTranslator;
}

/** Provider headers that describe the native body, which a translated answer replaces. */
const BODY_HEADERS = ["content-type", "content-length", "content-encoding", "transfer-encoding"];

/**
 * The client's answer to a compat request, from the Response the pipeline delivered (the provider's
 * native answer, already observed and recorded): `cf-aig-provider` and `cf-aig-model` name what
 * served; the gateway's own refusals stay AiGatewayError envelopes; an OpenAI-speaking provider's
 * answer passes untouched; any other is translated — JSON to JSON, SSE to `chat.completion.chunk`
 * events, errors to OpenAI's error body with the provider's status.
 */
export async function compatAnswer(ctx: RequestContext, response: Response, planned: readonly PlannedTarget[], shapeOf: (target: PlannedTarget) => AnswerShape): Promise<Response> {
  if (ctx.gatewayError) return response;
  const target = planned[ctx.stepIndex];
  // Delivery made this Response with its own (mutable) Headers: naming the target there keeps the body as delivery left it.
  response.headers.set("cf-aig-provider", target.ref.provider.slug);
  response.headers.set("cf-aig-model", target.ref.model);
  const shape = shapeOf(target);
  if (shape.passthrough) return response;
  const headers = new Headers(response.headers);
  const init = { status: response.status, statusText: response.statusText, headers };
  const sse = (response.headers.get("content-type") ?? "").includes("text/event-stream");
  for (const name of BODY_HEADERS) headers.delete(name);
  if (sse && response.ok && shape.stream && response.body) {
    headers.set("content-type", "text/event-stream; charset=utf-8");
    headers.set("cache-control", "no-cache");
    const translated = translateSse(response.body, shape.stream());
    const slug = target.ref.provider.slug;
    // The provider's clean end is not the answer's: only the translator knows whether the final event came, and the record must say so.
    judgeStreamEnd(ctx, () => {
      const why = translated.incomplete();
      return why === null ? null : `${slug}'s stream ${why}`;
    });
    return new Response(translated.body, init);
  }
  let text: string;
  try {
    text = await response.text();
  } catch {
    // The provider's answer broke while it was read whole (the record says why): say so, never half an answer.
    return errorResponse(new GatewayError(502, ErrorCode.StreamBroken, `${target.ref.provider.slug}'s answer broke before its end`), Object.fromEntries(headers));
  }
  const parsed = parse(text);
  if (!response.ok) return Response.json(shape.error(response.status, parsed === undefined ? text : parsed), init);
  if (parsed === undefined) {
    return Response.json(openaiError(`${target.ref.provider.slug} answered ${response.status} with a body that is not JSON`, "api_error", "bad_provider_answer"), { ...init, status: 502 });
  }
  return Response.json(shape.json(parsed), init);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
