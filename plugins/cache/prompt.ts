import type { RequestContext } from "switchboard";
import { ANSWER_HEADERS } from "./key.ts";

/** Bumped when what goes into a partition changes, so old vectors are simply never compared again. */
const PARTITION_VERSION = "v1";

/** Longer prompts are not embedded (they would pass most embedding models' input limits anyway). */
export const MAX_PROMPT_CHARS = 32_768;

/** Message fields the text can stand for; a message with any other (tool calls, names, …) keeps the request out. */
const MESSAGE_FIELDS = new Set(["role", "content"]);
/** Content part types whose `text` is embedded; any other part (an image, a file, audio) keeps the request out. */
const TEXT_PARTS = new Set(["text", "input_text", "output_text"]);

/** What the semantic cache embeds for a request, and the partition its vector is compared in. */
export interface Prompt {
  text: string;
  partition: string;
}

/**
 * The prompt of a chat-like request, or null when the request does not take part. It takes part when it
 * has one step, is not itself an embeddings call, and its JSON body has either
 * - `messages`: each message becomes `role: text` (a content array's text parts joined by a newline),
 *   the messages joined by a newline — `"system: Be brief.\nuser: What is the capital of France?"`;
 *   a message with anything but `role` and text content (tool calls, images, names) keeps it out; or
 * - a `prompt` or `input` string (legacy completions, Responses API), embedded as is.
 *
 * The partition hashes everything else that shapes the answer, exactly: gateway, account, provider,
 * endpoint, query, method, the client's credential headers, answer-shaping headers (API version,
 * betas), the model, the embedding provider and model, and the whole body except the embedded field
 * (so `stream`, `temperature`, `tools`, a `system` field … must be identical for two prompts to match).
 */
export function promptOf(ctx: RequestContext, embed: { provider: string; model: string }): Prompt | null {
  if (ctx.steps.length !== 1) return null;
  const step = ctx.steps[0];
  if (step.endpoint.includes("embeddings")) return null;
  const body = ctx.json();
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const { messages, prompt, input, ...rest } = body as Record<string, unknown>;
  let text: string | null = null;
  let kept: Record<string, unknown> = rest;
  if (messages !== undefined) {
    text = messagesText(messages);
    kept = { ...rest, prompt, input };
  } else if (typeof prompt === "string") {
    text = prompt;
    kept = { ...rest, input };
  } else if (typeof input === "string") {
    text = input;
    kept = { ...rest, prompt };
  }
  if (text === null || text.length === 0 || text.length > MAX_PROMPT_CHARS) return null;
  const credential = step.provider.authHeaders.map((name) => [name, step.headers.get(name)]);
  const shaping = ANSWER_HEADERS.map((name) => step.headers.get(name));
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(
    JSON.stringify([
      PARTITION_VERSION,
      ctx.gatewayId,
      ctx.accountId,
      step.provider.slug,
      step.endpoint,
      step.search,
      step.method,
      credential,
      shaping,
      ctx.model,
      embed.provider,
      embed.model,
      kept,
    ]),
  );
  return { text, partition: `${ctx.gatewayId}:${hasher.digest("hex")}` };
}

function messagesText(messages: unknown): string | null {
  if (!Array.isArray(messages) || messages.length === 0) return null;
  const lines: string[] = [];
  for (const message of messages) {
    if (typeof message !== "object" || message === null) return null;
    const { role, content } = message as Record<string, unknown>;
    if (typeof role !== "string" || Object.keys(message).some((field) => !MESSAGE_FIELDS.has(field))) return null;
    const text = contentText(content);
    if (text === null) return null;
    lines.push(`${role}: ${text}`);
  }
  return lines.join("\n");
}

function contentText(content: unknown): string | null {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return null;
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part !== "object" || part === null) return null;
    const { type, text } = part as Record<string, unknown>;
    if (typeof type !== "string" || !TEXT_PARTS.has(type) || typeof text !== "string") return null;
    // A part with more than type and text (cache_control, annotations) is not only text.
    if (Object.keys(part).length !== 2) return null;
    texts.push(text);
  }
  return texts.join("\n");
}
