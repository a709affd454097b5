import { obj, type JsonObject } from "../providers/usage/fields.ts";
import { badFormat, quote } from "./errors.ts";
import { readConversation, type Conversation } from "./messages.ts";

/** A function the model may call. */
export interface ToolDef {
  name: string;
  description: string | null;
  /** JSON Schema of the arguments object; null when the tool takes none. */
  parameters: JsonObject | null;
}

export type ToolChoice = { mode: "auto" | "none" | "required" } | { mode: "function"; name: string };

export type ResponseFormat = { type: "text" } | { type: "json_object" } | { type: "json_schema"; name: string; schema: JsonObject | null };

/**
 * An OpenAI Chat Completions request read into what a translator needs, provider-neutral. Fields the
 * client did not send are null (or empty); `raw` is the body as sent.
 */
export interface ChatIntent extends Conversation {
  raw: JsonObject;
  tools: ToolDef[];
  /** `type` of every tool that is not a function tool (no translator can carry those). */
  otherTools: string[];
  toolChoice: ToolChoice | null;
  parallelToolCalls: boolean | null;
  /** `max_completion_tokens`, else `max_tokens`. */
  maxTokens: number | null;
  temperature: number | null;
  topP: number | null;
  stop: string[];
  n: number;
  seed: number | null;
  presencePenalty: number | null;
  frequencyPenalty: number | null;
  responseFormat: ResponseFormat;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with `usage` and no choices. */
  includeUsage: boolean;
  user: string | null;
}

/** Fields of an OpenAI request that ask for output no translated provider gives; present and not off → 400. */
export const OUTPUT_ONLY_OPENAI = ["logprobs", "top_logprobs", "logit_bias", "audio", "prediction", "web_search_options"] as const;

/** Reads and checks the request body; a malformed field is 400/2019 naming it. */
export function readChat(raw: JsonObject): ChatIntent {
  const { tools, otherTools } = readTools(raw.tools);
  const n = optionalNumber(raw, "n", { integer: true, min: 1 }) ?? 1;
  const streamOptions = raw.stream_options === null || raw.stream_options === undefined ? {} : obj(raw.stream_options);
  if (!streamOptions) throw badFormat('"stream_options" must be an object');
  return {
    raw,
    ...readConversation(raw.messages),
    tools,
    otherTools,
    toolChoice: readToolChoice(raw.tool_choice),
    parallelToolCalls: optionalBoolean(raw, "parallel_tool_calls"),
    maxTokens: optionalNumber(raw, "max_completion_tokens", { integer: true, min: 1 }) ?? optionalNumber(raw, "max_tokens", { integer: true, min: 1 }),
    temperature: optionalNumber(raw, "temperature", { min: 0 }),
    topP: optionalNumber(raw, "top_p", { min: 0 }),
    stop: readStop(raw.stop),
    n,
    seed: optionalNumber(raw, "seed", { integer: true }),
    presencePenalty: optionalNumber(raw, "presence_penalty"),
    frequencyPenalty: optionalNumber(raw, "frequency_penalty"),
    responseFormat: readResponseFormat(raw.response_format),
    stream: optionalBoolean(raw, "stream") ?? false,
    includeUsage: streamOptions.include_usage === true,
    user: typeof raw.user === "string" && raw.user !== "" ? raw.user : null,
  };
}

/** True when the field is present and asks for something (not null, false, 0 or empty). */
export function asksFor(raw: JsonObject, field: string): boolean {
  const value = raw[field];
  if (value === undefined || value === null || value === false || value === 0) return false;
  if (typeof value === "object" && Object.keys(value).length === 0) return false;
  return true;
}

function optionalNumber(raw: JsonObject, field: string, rule: { integer?: boolean; min?: number } = {}): number | null {
  const value = raw[field];
  if (value === undefined || value === null) return null;
  const ok = typeof value === "number" && Number.isFinite(value) && (!rule.integer || Number.isInteger(value)) && (rule.min === undefined || value >= rule.min);
  if (!ok) throw badFormat(`"${field}" must be ${rule.integer ? "a whole number" : "a number"}${rule.min === undefined ? "" : ` of at least ${rule.min}`}`);
  return value;
}

function optionalBoolean(raw: JsonObject, field: string): boolean | null {
  const value = raw[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "boolean") throw badFormat(`"${field}" must be true or false`);
  return value;
}

function readStop(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((s) => typeof s === "string")) return value as string[];
  throw badFormat('"stop" must be a string or an array of strings');
}

function readTools(value: unknown): { tools: ToolDef[]; otherTools: string[] } {
  if (value === undefined || value === null) return { tools: [], otherTools: [] };
  if (!Array.isArray(value)) throw badFormat('"tools" must be an array');
  const tools: ToolDef[] = [];
  const otherTools: string[] = [];
  value.forEach((raw, index) => {
    const tool = obj(raw);
    if (typeof tool?.type !== "string") throw badFormat(`tools[${index}] must be {type: "function", function: {name, description, parameters}}`);
    if (tool.type !== "function") return void otherTools.push(tool.type);
    const fn = obj(tool.function);
    if (typeof fn?.name !== "string" || fn.name === "") throw badFormat(`tools[${index}].function.name must name the function`);
    if (fn.parameters !== undefined && fn.parameters !== null && !obj(fn.parameters)) throw badFormat(`tools[${index}].function.parameters must be a JSON Schema object`);
    tools.push({ name: fn.name, description: typeof fn.description === "string" ? fn.description : null, parameters: obj(fn.parameters) ?? null });
  });
  return { tools, otherTools };
}

function readToolChoice(value: unknown): ToolChoice | null {
  if (value === undefined || value === null) return null;
  if (value === "auto" || value === "none" || value === "required") return { mode: value };
  const choice = obj(value);
  const name = obj(choice?.function)?.name;
  if (choice?.type === "function" && typeof name === "string" && name !== "") return { mode: "function", name };
  const shown = typeof value === "string" ? quote(value) : typeof choice?.type === "string" ? `type ${quote(choice.type)}` : typeof value;
  throw badFormat(`"tool_choice" must be "auto", "none", "required" or {type: "function", function: {name}}; got ${shown}`);
}

function readResponseFormat(value: unknown): ResponseFormat {
  if (value === undefined || value === null) return { type: "text" };
  const format = obj(value);
  if (format?.type === "text" || format?.type === "json_object") return { type: format.type };
  if (format?.type === "json_schema") {
    const schema = obj(format.json_schema);
    if (!schema || typeof schema.name !== "string") throw badFormat('"response_format.json_schema" must be {name, schema}');
    return { type: "json_schema", name: schema.name, schema: obj(schema.schema) ?? null };
  }
  throw badFormat('"response_format.type" must be "text", "json_object" or "json_schema"');
}
