import type { Pipeline } from "../pipeline/pipeline.ts";
import type { GatewayHandle } from "../pipeline/types.ts";
import type { BodyBudget, BodyLimits } from "./body.ts";
import type { OpenSockets } from "./ws/session.ts";

/** What the HTTP and WebSocket transports need: the plugins' view of the gateway and the pipeline. */
export interface Runtime {
  handle: GatewayHandle;
  pipeline: Pipeline;
  /** How request bodies are bounded, and the memory they share. */
  bodies: { limits: BodyLimits; budget: BodyBudget };
  /** The open WebSockets, closed with 1001 on a graceful stop. */
  sockets: OpenSockets;
}
