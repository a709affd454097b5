import type { Pipeline } from "../pipeline/pipeline.ts";
import type { GatewayHandle } from "../pipeline/types.ts";
import type { BodyBudget, BodyLimits } from "./body.ts";

/** What the HTTP and WebSocket transports need: the plugins' view of the gateway and the pipeline. */
export interface Runtime {
  handle: GatewayHandle;
  pipeline: Pipeline;
  /** How request bodies are bounded, and the memory they share. */
  bodies: { limits: BodyLimits; budget: BodyBudget };
}
