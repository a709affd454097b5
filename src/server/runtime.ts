import type { Pipeline } from "../pipeline/pipeline.ts";
import type { GatewayHandle } from "../pipeline/types.ts";

/** What the HTTP and WebSocket transports need: the plugins' view of the gateway and the pipeline. */
export interface Runtime {
  handle: GatewayHandle;
  pipeline: Pipeline;
}
