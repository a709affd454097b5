/**
 * Google AI Studio (Gemini API) wire formats: `models/{model}:generateContent`,
 * `:streamGenerateContent` (`?alt=sse`: SSE of GenerateContentResponse chunks, each with running
 * `usageMetadata`; without it a JSON array), `:batchEmbedContents`, and Google's error body. A request
 * is checked as the real API checks it (see {@link geminiProblem}). Offered function declarations, the
 * mock calls the first with {@link MOCK_TOOL_INPUT} and a `thoughtSignature`, which — like Gemini 3 —
 * it then requires on every `functionCall` part sent back.
 */
import { MOCK_REPLY, MOCK_TOOL_INPUT, json, replyDeltas, sseEvent, sseResponse, type Body, type MockCall } from "./shared.ts";

/** The thought signature the mock puts on its function calls. */
export const MOCK_THOUGHT_SIGNATURE = "c2lnLW1vY2s=";

/** `/v1beta/models/{model}:{method}` */
export const GEMINI_PATH = /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/;

const STATUS_NAMES: Record<number, string> = { 400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE" };

export function geminiError(status: number, message: string): unknown {
  return { error: { code: status, message, status: STATUS_NAMES[status] ?? (status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT") } };
}

const TOP_LEVEL = new Set(["contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "safetySettings", "cachedContent"]);
const CONFIG = new Set(["temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount", "seed", "presencePenalty", "frequencyPenalty", "responseMimeType", "responseSchema", "responseJsonSchema", "thinkingConfig"]);
const PART_DATA = ["text", "inlineData", "fileData", "functionCall", "functionResponse"];

type Part = Record<string, unknown>;
type Content = { role?: unknown; parts?: unknown };
const partsOf = (content: Content | undefined): Part[] => (Array.isArray(content?.parts) ? (content.parts as Part[]) : []);

/**
 * What the real API would refuse, or null: unknown fields (`Invalid JSON payload received. Unknown
 * name …`), empty `contents`, roles other than `user` / `model`, a part without exactly one kind of
 * data, a `functionResponse` that answers no `functionCall` of the turn before, a `functionCall` sent
 * back without its `thoughtSignature`.
 */
export function geminiProblem(body: Body): string | null {
  for (const key of Object.keys(body)) if (!TOP_LEVEL.has(key)) return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
  for (const key of Object.keys((body.generationConfig as object | undefined) ?? {})) {
    if (!CONFIG.has(key)) return `Invalid JSON payload received. Unknown name "${key}" at 'generation_config': Cannot find field.`;
  }
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) return "* GenerateContentRequest.contents: contents is not specified";
  let previous: Content | undefined;
  for (const [index, content] of (contents as Content[]).entries()) {
    if (content.role !== "user" && content.role !== "model") return `Please use a valid role: user, model. (contents[${index}])`;
    const parts = partsOf(content);
    if (parts.length === 0) return `* GenerateContentRequest.contents[${index}].parts: contents.parts must not be empty.`;
    const called = new Set(partsOf(previous).filter((p) => p.functionCall).map((p) => (p.functionCall as { name?: unknown }).name));
    for (const part of parts) {
      if (PART_DATA.filter((kind) => part[kind] !== undefined).length !== 1) return `contents[${index}]: a part must hold exactly one of ${PART_DATA.join(", ")}`;
      if (part.functionCall && content.role === "model" && part.thoughtSignature === undefined) {
        return `Function call is missing a thought_signature in functionCall parts (contents[${index}])`;
      }
      const response = part.functionResponse as { name?: unknown; response?: unknown } | undefined;
      if (response && (!called.has(response.name) || typeof response.response !== "object" || response.response === null)) {
        return `contents[${index}]: a functionResponse must answer a functionCall of the previous turn, with a response object`;
      }
    }
    previous = content;
  }
  return null;
}

/** The function the mock calls: the first declared, unless the last turn answers a call. */
function functionToCall(body: Body): string | null {
  const declarations = ((body.tools as { functionDeclarations?: { name?: unknown }[] }[] | undefined) ?? []).flatMap((tool) => tool.functionDeclarations ?? []);
  const last = (body.contents as Content[]).at(-1);
  if (declarations.length === 0 || partsOf(last).some((p) => p.functionResponse)) return null;
  return typeof declarations[0].name === "string" ? declarations[0].name : null;
}

/** `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`. */
export function generate(call: MockCall, model: string, stream: boolean, sse: boolean): Response {
  const problem = geminiProblem(call.body);
  if (problem) return json(geminiError(400, problem), 400);
  const { usage } = call;
  const fn = functionToCall(call.body);
  const candidateCount = Number((call.body.generationConfig as { candidateCount?: unknown } | undefined)?.candidateCount ?? 1);
  const metadata = (completion: number) => ({ promptTokenCount: usage.promptTokens, candidatesTokenCount: completion, totalTokenCount: usage.promptTokens + completion });
  const answer = (parts: Part[], finish: string | null, completion: number) => ({
    candidates: Array.from({ length: candidateCount }, (_, index) => ({ content: { role: "model", parts }, ...(finish ? { finishReason: finish } : {}), index })),
    usageMetadata: metadata(completion),
    modelVersion: model,
    responseId: `resp-mock-${call.seq}`,
  });
  const callPart = fn ? { functionCall: { name: fn, args: MOCK_TOOL_INPUT }, thoughtSignature: MOCK_THOUGHT_SIGNATURE } : null;
  if (!stream) return json(answer(callPart ? [callPart] : [{ text: MOCK_REPLY }], "STOP", usage.completionTokens));
  const chunks = callPart
    ? [answer([callPart], "STOP", usage.completionTokens)]
    : replyDeltas().map((text, i, all) => answer([{ text }], i === all.length - 1 ? "STOP" : null, i + 1 === all.length ? usage.completionTokens : i + 1));
  if (!sse) return json(chunks);
  return sseResponse(call, chunks.map((chunk) => sseEvent(chunk)), 1);
}

/** `POST /v1beta/models/{model}:batchEmbedContents`: a small vector per request, from its text's length. */
export function batchEmbed(call: MockCall): Response {
  const requests = Array.isArray(call.body.requests) ? (call.body.requests as { content?: Content }[]) : [];
  if (requests.length === 0) return json(geminiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified"), 400);
  const embeddings = requests.map((request) => {
    const text = partsOf(request.content).map((p) => String(p.text ?? "")).join(" ");
    return { values: Array.from({ length: 8 }, (_, i) => (text.length + i) / 100) };
  });
  return json({ embeddings });
}
