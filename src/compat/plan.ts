import { ErrorCode, GatewayError } from "../pipeline/errors.ts";
import type { Step } from "../pipeline/context.ts";
import type { Metadata } from "../pipeline/record.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import { obj, type JsonObject } from "../providers/usage/fields.ts";
import type { AnswerShape } from "./answer.ts";
import { readChat, type ChatIntent } from "./chat.ts";
import { readEmbeddings } from "./embeddings.ts";
import { badFormat, cannotExpress } from "./errors.ts";
import { DYNAMIC_PREFIX, parseModelRef } from "./model-ref.ts";
import type { AnswerInfo } from "./openai-shape.ts";
import type { PlannedTarget, RouteTable } from "./routes.ts";
import { compatStep } from "./steps.ts";
import { CHAT_TRANSLATORS, EMBEDDINGS_TRANSLATORS } from "./translators.ts";
import type { ChatInput } from "./translator.ts";

/** The steps of one compat request, and how each step's answer goes back to the client. */
export interface CompatPlan {
  planned: PlannedTarget[];
  steps: Step[];
  /** The answer shape of a target; `info` stamps translated answers. */
  shapeOf(target: PlannedTarget, info: AnswerInfo): AnswerShape;
  /** `stream_options.include_usage` was set. */
  includeUsage: boolean;
}

/** What every plan needs from the transport. */
export interface PlanContext {
  routes: RouteTable;
  providers: ProviderRegistry;
  /** The client's request headers (for `cf-aig-metadata`, which route conditions read). */
  requestHeaders: Headers;
  /** The client's headers for upstream (see `clientHeaders`). */
  baseHeaders: Headers;
  providerKey: string | null;
}

/** The targets `model` names: one `{provider}/{model}`, or a route's targets in its strategy's order. */
export function planModel(model: unknown, context: PlanContext): PlannedTarget[] {
  if (typeof model !== "string" || model === "") throw badFormat('"model" must be "{provider}/{model}", e.g. "openai/gpt-4o-mini", or "dynamic/<route>"');
  if (model.startsWith(DYNAMIC_PREFIX)) return context.routes.plan(model.slice(DYNAMIC_PREFIX.length), () => requestMetadata(context.requestHeaders));
  return [{ ref: parseModelRef(model, context.providers), routeTarget: null, options: null }];
}

/** A chat request's plan: every target's native request is built (and refused if it cannot be) before anything is sent. */
export function chatPlan(raw: JsonObject, context: PlanContext): CompatPlan {
  if (!Array.isArray(raw.messages)) throw badFormat('"messages" must be an array of messages');
  const planned = planModel(raw.model, context);
  let intent: ChatIntent | null = null;
  const input: ChatInput = { raw, intent: () => (intent ??= readChat(raw)) };
  const steps = planned.map((target) => {
    const translator = CHAT_TRANSLATORS[target.ref.family];
    return compatStep(target, translator.request(input, target.ref.model, target.ref.provider), context.baseHeaders, context.providerKey, translator.passthrough);
  });
  return {
    planned,
    steps,
    includeUsage: obj(raw.stream_options)?.include_usage === true,
    shapeOf(target, info) {
      const translator = CHAT_TRANSLATORS[target.ref.family];
      return {
        passthrough: translator.passthrough,
        json: (body) => translator.completion(body, info),
        error: (status, body) => translator.error(status, body),
        stream: () => translator.stream(info),
      };
    },
  };
}

/** An embeddings request's plan; Anthropic, which has no embeddings API, is refused. */
export function embeddingsPlan(raw: JsonObject, context: PlanContext): CompatPlan {
  const input = readEmbeddings(raw);
  const planned = planModel(raw.model, context);
  const steps = planned.map((target) => {
    const translator = EMBEDDINGS_TRANSLATORS[target.ref.family];
    if (!translator) throw cannotExpress(target.ref.provider.slug, "an embeddings request", "it has no embeddings API");
    return compatStep(target, translator.request(input, target.ref.model, target.ref.provider), context.baseHeaders, context.providerKey, translator.passthrough);
  });
  return {
    planned,
    steps,
    includeUsage: false,
    shapeOf(target) {
      const translator = EMBEDDINGS_TRANSLATORS[target.ref.family]!;
      return { passthrough: translator.passthrough, json: (body) => translator.answer(body, input, target.ref.model), error: (status, body) => translator.error(status, body) };
    },
  };
}

/**
 * The request's `cf-aig-metadata` as route conditions read it: a flat JSON object (its full rules
 * are the metadata plugin's, in the chain). Absent means `{}`; not a JSON object is 400/2105.
 */
function requestMetadata(headers: Headers): Metadata {
  const raw = headers.get("cf-aig-metadata");
  if (raw === null || raw.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const metadata = obj(parsed);
  if (!metadata) throw new GatewayError(400, ErrorCode.InvalidMetadata, "cf-aig-metadata must be a flat JSON object such as {\"user\":\"ada\"}; route conditions read it");
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => ["string", "number", "boolean"].includes(typeof value))) as Metadata;
}
