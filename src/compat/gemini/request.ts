import type { JsonObject } from "../../providers/usage/fields.ts";
import { asksFor, OUTPUT_ONLY_OPENAI, type ChatIntent, type ToolChoice } from "../chat.ts";
import { badFormat, cannotExpress, quote } from "../errors.ts";
import type { Part, Turn } from "../messages.ts";
import type { NativeRequest } from "../translator.ts";
import { signatureOf } from "./tool-ids.ts";

/** A Gemini model id as it may stand in the URL path (`models/{model}:generateContent`). */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Media types of http(s) image URLs, by extension: Gemini's `fileData` needs one. */
const IMAGE_EXTENSIONS: Record<string, string> = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", webp: "image/webp", gif: "image/gif", heic: "image/heic", heif: "image/heif" };

type Content = { role: "user" | "model"; parts: JsonObject[] };

const refuse = (what: string, why: string) => cannotExpress("google-ai-studio", what, why);

/**
 * The model id for the URL path; a leading `models/` is dropped. Anything but letters, digits, `.`,
 * `_` and `-` is refused (400/2019) before it can shape the URL.
 */
export function geminiModel(model: string): string {
  const id = model.startsWith("models/") ? model.slice(7) : model;
  if (!MODEL_ID.test(id)) throw badFormat(`${quote(model)} is not a Gemini model id (letters, digits, ".", "_" and "-")`);
  return id;
}

/**
 * The Gemini API request (`v1beta/models/{model}:generateContent`, or `:streamGenerateContent?alt=sse`)
 * for an OpenAI chat request: system messages become `systemInstruction`; assistant turns `model`
 * turns with `functionCall` parts; tool messages `functionResponse` parts (the response is the tool's
 * JSON object, or `{result: <text>}`); sampling goes to `generationConfig`, JSON mode to
 * `responseMimeType` (and `responseJsonSchema`), tools to `functionDeclarations` with their JSON Schema.
 */
export function geminiRequest(chat: ChatIntent, model: string): NativeRequest {
  const id = geminiModel(model);
  checkExpressible(chat);
  const body: JsonObject = { contents: renderTurns(chat.turns) };
  if (chat.system.length > 0) body.systemInstruction = { parts: chat.system.map((text) => ({ text })) };
  const config = generationConfig(chat);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  if (chat.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: chat.tools.map((tool) => ({
          name: tool.name,
          ...(tool.description === null ? {} : { description: tool.description }),
          ...(tool.parameters === null ? {} : { parametersJsonSchema: tool.parameters }),
        })),
      },
    ];
    if (chat.toolChoice) body.toolConfig = { functionCallingConfig: callingConfig(chat.toolChoice) };
  }
  const method = chat.stream ? "streamGenerateContent" : "generateContent";
  return { endpoint: `v1beta/models/${id}:${method}`, search: chat.stream ? "?alt=sse" : "", body };
}

function checkExpressible(chat: ChatIntent): void {
  if (chat.otherTools.length > 0) throw refuse(`tools of type ${chat.otherTools.join(", ")}`, "only function tools translate to Gemini function declarations");
  for (const field of OUTPUT_ONLY_OPENAI) {
    if (asksFor(chat.raw, field)) throw refuse(`"${field}"`, "the Gemini API's equivalent is not translated");
  }
  const modalities = chat.raw.modalities;
  if (Array.isArray(modalities) && modalities.some((m) => m !== "text")) throw refuse("modalities other than text", "the compat endpoint translates text answers only");
  if (chat.stop.length > 5) throw refuse(`${chat.stop.length} stop sequences`, "Gemini takes at most 5");
}

function generationConfig(chat: ChatIntent): JsonObject {
  const config: JsonObject = {};
  if (chat.temperature !== null) config.temperature = chat.temperature;
  if (chat.topP !== null) config.topP = chat.topP;
  if (chat.maxTokens !== null) config.maxOutputTokens = chat.maxTokens;
  if (chat.stop.length > 0) config.stopSequences = chat.stop;
  if (chat.n > 1) config.candidateCount = chat.n;
  if (chat.seed !== null) config.seed = chat.seed;
  if (chat.presencePenalty !== null) config.presencePenalty = chat.presencePenalty;
  if (chat.frequencyPenalty !== null) config.frequencyPenalty = chat.frequencyPenalty;
  const format = chat.responseFormat;
  if (format.type !== "text") config.responseMimeType = "application/json";
  if (format.type === "json_schema" && format.schema) config.responseJsonSchema = format.schema;
  return config;
}

function renderTurns(turns: Turn[]): Content[] {
  const contents: Content[] = [];
  turns.forEach((turn, index) => {
    const at = `messages (turn ${index})`;
    let content: Content;
    if (turn.role === "tool") content = { role: "user", parts: [{ functionResponse: { name: turn.name, response: toolResponse(turn.text) } }] };
    else if (turn.role === "user") content = { role: "user", parts: turn.parts.map((part) => renderPart(part, at)) };
    else {
      const calls = turn.toolCalls.map((call) => {
        const signature = signatureOf(call.id);
        return { functionCall: { name: call.name, args: call.args }, ...(signature ? { thoughtSignature: signature } : {}) };
      });
      content = { role: "model", parts: [...turn.parts.filter((p) => p.type !== "text" || p.text !== "").map((part) => renderPart(part, at)), ...calls] };
    }
    if (content.parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === content.role) last.parts.push(...content.parts);
    else contents.push(content);
  });
  return contents;
}

/** A tool's answer as Gemini's `response` object: the JSON object the tool returned, else `{result: text}`. */
function toolResponse(text: string): JsonObject {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as JsonObject;
  } catch {
    // Plain text: wrapped below.
  }
  return { result: text };
}

function renderPart(part: Part, at: string): JsonObject {
  switch (part.type) {
    case "text":
      return { text: part.text };
    case "image": {
      if (part.inline) return { inlineData: { mimeType: part.inline.mediaType, data: part.inline.base64 } };
      const extension = /\.([A-Za-z0-9]+)$/.exec(pathOf(part.url!))?.[1]?.toLowerCase();
      const mimeType = extension ? IMAGE_EXTENSIONS[extension] : undefined;
      if (!mimeType) throw refuse(`the image URL in ${at}`, "Gemini's fileData needs the image type, and the URL does not end in .png, .jpg, .webp, .gif or .heic; send the image as a base64 data: URL");
      return { fileData: { mimeType, fileUri: part.url } };
    }
    case "audio":
      return { inlineData: { mimeType: part.inline.mediaType, data: part.inline.base64 } };
    case "file":
      if (part.inline === null) throw refuse(`a file_id in ${at}`, "an OpenAI file id means nothing to Google; send the file as file_data (a base64 data: URL)");
      return { inlineData: { mimeType: part.inline.mediaType, data: part.inline.base64 } };
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
}

function callingConfig(choice: ToolChoice): JsonObject {
  switch (choice.mode) {
    case "auto":
      return { mode: "AUTO" };
    case "none":
      return { mode: "NONE" };
    case "required":
      return { mode: "ANY" };
    case "function":
      return { mode: "ANY", allowedFunctionNames: [choice.name] };
  }
}
