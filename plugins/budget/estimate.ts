import { parseCustomCost, priceFor, type Price, type RequestContext } from "switchboard";

/** Prompt tokens are estimated from the request body's size: one token per this many bytes. */
export const PROMPT_BYTES_PER_TOKEN = 4;

/** Body fields that cap the answer's tokens, by provider API (OpenAI chat / Anthropic, OpenAI chat, OpenAI Responses). */
const MAX_OUTPUT_FIELDS = ["max_tokens", "max_completion_tokens", "max_output_tokens"] as const;

/**
 * What the budget plugin reserves for a request, in USD: `ceil(body bytes / 4)` prompt tokens at the
 * input price plus the body's output cap at the output price. Priced with `cf-aig-custom-cost` when it is
 * valid, else the price table (with the config's `prices`); 0 when the model has no known price, as
 * such a request is charged 0 when it completes too.
 */
export function estimateCost(ctx: RequestContext): number {
  const price = priceOf(ctx);
  if (!price) return 0;
  const bytes = ctx.step.body?.byteLength ?? 0;
  const promptTokens = Math.ceil(bytes / PROMPT_BYTES_PER_TOKEN);
  return (promptTokens * price.input + maxOutputTokens(ctx.json()) * price.output) / 1e6;
}

function priceOf(ctx: RequestContext): Price | null {
  const header = ctx.option("cf-aig-custom-cost");
  if (header) {
    try {
      return parseCustomCost(header);
    } catch {
      // The record falls back to the price table for an unusable header; so does the estimate.
    }
  }
  return priceFor(ctx.provider, ctx.model, ctx.gateway.prices);
}

function maxOutputTokens(body: unknown): number {
  if (!body || typeof body !== "object") return 0;
  const fields = body as Record<string, unknown>;
  for (const name of MAX_OUTPUT_FIELDS) {
    const value = fields[name];
    if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  }
  return 0;
}
