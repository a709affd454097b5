import { definePlugin, type Logger, type RequestContext, type ResolvedGateway } from "switchboard";
import { checkJson, redactParsed } from "./redact.ts";
import { blockError, compileRules, type CompiledRule, type Side } from "./rules.ts";
import { guardSse } from "./stream.ts";

export { detectors, luhn, ibanChecksumOk } from "./detectors.ts";

/** Options of {@link guardrails}; the built-in `"guardrails"` uses the defaults. */
export interface GuardrailsOptions {
  /** Characters of streamed answer text held back so a match split over SSE events is still found whole. @default 128 */
  streamWindow?: number;
  /** JSON answers up to this size are checked; larger ones pass unchecked (a warning is logged). @default 8388608 (8 MiB) */
  maxAnswerBytes?: number;
}

interface GatewayRules {
  prompt: CompiledRule[];
  answer: CompiledRule[];
}

const NONE: GatewayRules = { prompt: [], answer: [] };
/** The metadata key flag rules are recorded under: their names, comma-separated, each once. */
export const FLAG_KEY = "guardrails";
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Checks prompts and answers against the gateway's `guardrails.rules` (built-in `"guardrails"`):
 * built-in detectors (`email`, `phone`, `card`, `iban`, `api-key`) and deny-lists (`{ regex }`,
 * `{ keywords }`), each rule with an action:
 * - `block` — 424 with Cloudflare's codes: a detector 2029 on the prompt / 2030 on the answer, a
 *   deny-list 2016 / 2017. A blocked prompt sends nothing upstream.
 * - `redact` — the match becomes `[REDACTED:<rule name>]` in the body sent upstream, or in the answer
 *   before the client and the log see it.
 * - `flag` — the rule's name is added to the record's metadata under `guardrails` ("email,card").
 *
 * Every string value of a JSON request body and of a JSON answer is checked, except object keys and
 * names (`model`, `role`, `type`, `id`, …); non-JSON bodies pass unchecked. SSE answers are checked
 * as they pass (see stream.ts for the window that catches a match split over events); a block there
 * ends the stream with an `event: error` carrying the AiGatewayError. Only 2xx answers are checked.
 *
 * Put it after `metadata` and before `cache`, so the cache keys on the redacted prompt and stores
 * the clean answer.
 *
 * @example
 * gateways: { default: { guardrails: { rules: [
 *   { detect: "email", action: "redact", on: "both" },
 *   { detect: "card", action: "block" },
 *   { detect: { keywords: ["project falcon"] }, action: "flag", name: "falcon" },
 * ] } } },
 * plugins: ["auth", "metadata", "guardrails", "cache", "rate-limit", "fallback", "logging"],
 */
export function guardrails(options: GuardrailsOptions = {}) {
  const { streamWindow = 128, maxAnswerBytes = 8 * 1024 * 1024 } = options;
  const compiled = new WeakMap<ResolvedGateway, GatewayRules>();
  let logger: Logger | null = null;

  function rulesOf(gateway: ResolvedGateway): GatewayRules {
    let rules = compiled.get(gateway);
    if (!rules) {
      const all = compileRules(gateway.raw.guardrails?.rules ?? [], `gateways.${gateway.id}.guardrails`);
      rules = all.length === 0 ? NONE : { prompt: all.filter((r) => r.prompt), answer: all.filter((r) => r.answer) };
      compiled.set(gateway, rules);
    }
    return rules;
  }

  function flag(ctx: RequestContext, rule: CompiledRule): void {
    const names = typeof ctx.metadata[FLAG_KEY] === "string" ? (ctx.metadata[FLAG_KEY] as string).split(",") : [];
    if (names.includes(rule.name)) return;
    // In place: the metadata plugin hands the same object to the record.
    ctx.metadata[FLAG_KEY] = [...names, rule.name].join(",");
  }

  function refuse(ctx: RequestContext, rule: CompiledRule, side: Side): Response {
    const { status, code, message } = blockError(rule, side);
    return ctx.error(status, code, message);
  }

  /** Checks and redacts every step's body (a Universal request's fallback steps too); a refusal, or null. */
  function guardPrompt(ctx: RequestContext, rules: CompiledRule[]): Response | null {
    for (let i = 0; i < ctx.steps.length; i++) {
      const step = ctx.steps[i];
      if (!step.body || step.body.byteLength === 0) continue;
      const text = decoder.decode(step.body);
      if (i === ctx.stepIndex ? ctx.json() === undefined : !isJson(text)) continue;
      const verdict = checkJson(rules, text);
      if (verdict.block) return refuse(ctx, verdict.block, "prompt");
      for (const rule of verdict.flags) flag(ctx, rule);
      if (verdict.text !== null) {
        step.body = encoder.encode(verdict.text);
        step.headers.delete("content-length");
        if (i === ctx.stepIndex) redactParsed(rules, ctx.json());
      }
    }
    return null;
  }

  async function guardJsonAnswer(ctx: RequestContext, response: Response, rules: CompiledRule[]): Promise<Response> {
    const length = Number(response.headers.get("content-length") ?? NaN);
    if (length > maxAnswerBytes) {
      logger?.warn(`guardrails: a ${length}-byte JSON answer is over maxAnswerBytes and passed unchecked (gateway ${ctx.gatewayId})`);
      return response;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const text = decoder.decode(bytes);
    const rebuilt = (body: Uint8Array) => new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    if (!isJson(text)) return rebuilt(bytes);
    const verdict = checkJson(rules, text);
    if (verdict.block) return refuse(ctx, verdict.block, "answer");
    for (const rule of verdict.flags) flag(ctx, rule);
    if (verdict.text === null) return rebuilt(bytes);
    const body = encoder.encode(verdict.text);
    const headers = new Headers(response.headers);
    headers.set("content-length", String(body.byteLength));
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  }

  function guardStream(ctx: RequestContext, response: Response, rules: CompiledRule[]): Response {
    const body = guardSse(response.body!, {
      rules,
      window: streamWindow,
      flag: (rule) => flag(ctx, rule),
      async block(rule) {
        // The same envelope a refusal carries; ctx.error also marks the record as the gateway's error.
        const envelope = await refuse(ctx, rule, "answer").text();
        return encoder.encode(`event: error\ndata: ${envelope}\n\n`);
      },
    });
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  }

  return definePlugin({
    name: "guardrails",
    appliesTo: (gateway) => rulesOf(gateway) !== NONE,
    setup(gateway) {
      logger = gateway.logger;
      // Compiled now so a regex that does not compile stops the start, naming its rule.
      for (const resolved of gateway.config.gateways.values()) rulesOf(resolved);
    },
    async handle(ctx, next) {
      const rules = rulesOf(ctx.gateway);
      if (rules === NONE) return next();
      if (rules.prompt.length > 0) {
        const refusal = guardPrompt(ctx, rules.prompt);
        if (refusal) return refusal;
      }
      const response = await next();
      if (rules.answer.length === 0 || !response.body || response.status < 200 || response.status > 299) return response;
      const type = response.headers.get("content-type") ?? "";
      if (type.includes("text/event-stream")) return guardStream(ctx, response, rules.answer);
      if (type.includes("json")) return guardJsonAnswer(ctx, response, rules.answer);
      return response;
    },
  });
}

function isJson(text: string): boolean {
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[") return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
