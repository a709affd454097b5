import type { BreakerTarget, RequestContext } from "switchboard";

/** A step's target and its key: what the circuit breaker guards, and what "failed earlier in this request" compares. */
export interface StepTarget {
  target: BreakerTarget;
  /** JSON of the parts, so no two targets share one whatever their parts contain. Made on first use. */
  readonly key: string;
}

/**
 * The target of step `index`, read when that step is reached (its model comes from its own body, so
 * a Universal step that is never tried is never parsed).
 */
export function stepTarget(ctx: RequestContext, index: number): StepTarget {
  const current = ctx.stepIndex;
  ctx.stepIndex = index;
  try {
    const step = ctx.step;
    const target: BreakerTarget = { gatewayId: ctx.gatewayId, provider: step.provider.slug, baseUrl: step.provider.baseUrl, model: ctx.model };
    let key: string | undefined;
    // Only a request with several steps or a failure compares keys: most never need one.
    return {
      target,
      get key() {
        return (key ??= JSON.stringify([target.gatewayId, target.provider, target.baseUrl, target.model]));
      },
    };
  } finally {
    ctx.stepIndex = current;
  }
}

/** How a target is named in messages: the provider and model, never the host. */
export function describeTarget(target: BreakerTarget): string {
  return target.model ? `${target.provider} (${target.model})` : target.provider;
}
