import { obj, type JsonObject } from "../providers/usage/fields.ts";
import { badFormat, quote } from "./errors.ts";

/** One piece of a message's content, provider-neutral. */
export type Part =
  | { type: "text"; text: string }
  /** `inline` is set for a `data:` URL; `url` for an http(s) URL. */
  | { type: "image"; url: string | null; inline: Inline | null }
  | { type: "audio"; inline: Inline }
  /** A `file` part: inline data, or a provider-side file id (which no translator can carry across providers). */
  | { type: "file"; inline: Inline | null; fileId: string | null; filename: string | null };

/** Base64 bytes with their media type. */
export interface Inline {
  mediaType: string;
  base64: string;
}

/** A call the assistant made, with its arguments parsed. */
export interface ToolCall {
  id: string;
  name: string;
  args: JsonObject;
}

/** One turn of the conversation, provider-neutral. System messages are kept apart (`Conversation.system`). */
export type Turn =
  | { role: "user"; parts: Part[] }
  | { role: "assistant"; parts: Part[]; toolCalls: ToolCall[] }
  /** A tool's answer; `name` is the function the matching assistant call named. */
  | { role: "tool"; callId: string; name: string; text: string };

export interface Conversation {
  /** The text of every `system` and `developer` message, in order. */
  system: string[];
  turns: Turn[];
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;
const AUDIO_TYPES: Record<string, string> = { wav: "audio/wav", mp3: "audio/mp3" };

/**
 * Reads OpenAI `messages` into a provider-neutral conversation, checking the shape as it goes: a
 * problem is 400/2019 naming the message (`messages[2].tool_calls[0].function.arguments is not JSON`).
 * A tool message must answer a call an earlier assistant message made, so its function name is known.
 */
export function readConversation(value: unknown): Conversation {
  if (!Array.isArray(value) || value.length === 0) throw badFormat('"messages" must be a non-empty array of messages');
  const system: string[] = [];
  const turns: Turn[] = [];
  const called = new Map<string, string>();
  value.forEach((raw, index) => {
    const at = `messages[${index}]`;
    const message = obj(raw);
    if (!message) throw badFormat(`${at} must be an object with a "role"`);
    const role = message.role;
    switch (role) {
      case "system":
      case "developer":
        system.push(textOnly(message.content, `${at}.content`));
        return;
      case "user":
        turns.push({ role: "user", parts: userParts(message.content, `${at}.content`) });
        return;
      case "assistant": {
        if (message.function_call) throw badFormat(`${at}.function_call is the deprecated form; send tool_calls`);
        const toolCalls = readToolCalls(message.tool_calls, `${at}.tool_calls`);
        for (const call of toolCalls) called.set(call.id, call.name);
        turns.push({ role: "assistant", parts: assistantParts(message.content, `${at}.content`), toolCalls });
        return;
      }
      case "tool": {
        const callId = message.tool_call_id;
        if (typeof callId !== "string" || callId === "") throw badFormat(`${at}.tool_call_id must name the call it answers`);
        const name = called.get(callId);
        if (name === undefined) throw badFormat(`${at} answers tool_call_id ${quote(callId)}, which no earlier assistant message called`);
        turns.push({ role: "tool", callId, name, text: textOnly(message.content, `${at}.content`) });
        return;
      }
      case "function":
        throw badFormat(`${at} has the deprecated role "function"; send role "tool" with tool_call_id`);
      default:
        throw badFormat(`${at}.role must be system, developer, user, assistant or tool; got ${typeof role === "string" ? quote(role) : typeof role}`);
    }
  });
  return { system, turns };
}

/** Text of a content that may only hold text: a string, or an array of `text` parts (joined by a blank line). */
function textOnly(content: unknown, at: string): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw badFormat(`${at} must be a string or an array of text parts`);
  return content
    .map((part, index) => {
      const p = obj(part);
      if (p?.type !== "text" || typeof p.text !== "string") throw badFormat(`${at}[${index}] must be a text part {type: "text", text}`);
      return p.text;
    })
    .join("\n\n");
}

function userParts(content: unknown, at: string): Part[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw badFormat(`${at} must be a string or an array of content parts`);
  return content.map((part, index) => userPart(part, `${at}[${index}]`));
}

function userPart(value: unknown, at: string): Part {
  const part = obj(value);
  switch (part?.type) {
    case "text":
      if (typeof part.text !== "string") break;
      return { type: "text", text: part.text };
    case "image_url": {
      const url = obj(part.image_url)?.url;
      if (typeof url !== "string") break;
      const inline = dataUrl(url);
      if (inline) return { type: "image", url: null, inline };
      if (!/^https?:\/\//i.test(url)) throw badFormat(`${at}.image_url.url must be an http(s) URL or a base64 data: URL`);
      return { type: "image", url, inline: null };
    }
    case "input_audio": {
      const audio = obj(part.input_audio);
      const mediaType = typeof audio?.format === "string" ? AUDIO_TYPES[audio.format] : undefined;
      if (typeof audio?.data !== "string" || !mediaType) break;
      return { type: "audio", inline: { mediaType, base64: audio.data } };
    }
    case "file": {
      const file = obj(part.file);
      if (!file) break;
      const data = typeof file.file_data === "string" ? file.file_data : null;
      const inline = data === null ? null : dataUrl(data);
      if (data !== null && !inline) throw badFormat(`${at}.file.file_data must be a base64 data: URL`);
      const fileId = typeof file.file_id === "string" ? file.file_id : null;
      if (!inline && !fileId) break;
      return { type: "file", inline, fileId, filename: typeof file.filename === "string" ? file.filename : null };
    }
  }
  throw badFormat(`${at} must be a content part: {type: "text", text}, {type: "image_url", image_url: {url}}, {type: "input_audio", input_audio: {data, format: "wav"|"mp3"}} or {type: "file", file: {file_data|file_id}}`);
}

function assistantParts(content: unknown, at: string): Part[] {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw badFormat(`${at} must be a string, null or an array of text parts`);
  return content.map((value, index) => {
    const part = obj(value);
    // A refusal the assistant gave earlier is, to the next provider, simply what it said.
    if (part?.type === "text" && typeof part.text === "string") return { type: "text", text: part.text };
    if (part?.type === "refusal" && typeof part.refusal === "string") return { type: "text", text: part.refusal };
    throw badFormat(`${at}[${index}] must be a text or refusal part`);
  });
}

function readToolCalls(value: unknown, at: string): ToolCall[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badFormat(`${at} must be an array`);
  return value.map((raw, index) => {
    const call = obj(raw);
    const fn = obj(call?.function);
    const where = `${at}[${index}]`;
    if (typeof call?.id !== "string" || call.id === "") throw badFormat(`${where}.id must be the call's id`);
    if (typeof fn?.name !== "string" || fn.name === "") throw badFormat(`${where}.function.name must name the function`);
    return { id: call.id, name: fn.name, args: parseArguments(fn.arguments, `${where}.function.arguments`) };
  });
}

/** A call's `arguments` string as an object ("" counts as no arguments). */
function parseArguments(value: unknown, at: string): JsonObject {
  if (value === undefined || value === null || value === "") return {};
  if (typeof value !== "string") throw badFormat(`${at} must be a JSON string`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw badFormat(`${at} is not JSON`);
  }
  const args = obj(parsed);
  if (!args) throw badFormat(`${at} must be a JSON object`);
  return args;
}

/** The media type and base64 data of a `data:…;base64,…` URL, or null for any other URL. */
export function dataUrl(url: string): Inline | null {
  const match = DATA_URL.exec(url);
  return match ? { mediaType: match[1].toLowerCase(), base64: match[2] } : null;
}
