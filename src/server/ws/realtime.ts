import { ErrorCode, GatewayError } from "../../pipeline/errors.ts";
import type { Runtime } from "../runtime.ts";
import type { SessionFactory } from "./upgrade.ts";

/** Realtime relay (reference §4b): not built yet. */
export function realtimeSession(_runtime: Runtime): SessionFactory {
  return () => {
    throw new GatewayError(501, ErrorCode.BadRequest, "Realtime WebSocket relays are not available yet");
  };
}
