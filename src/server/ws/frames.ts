/**
 * The frames of the Universal API over WebSocket (reference §4a). The server's frames are exactly
 * Cloudflare's; `universal.error` is Switchboard's own (Cloudflare documents none), and so is
 * `metadata.status`, present only when a provider answered with a status outside 2xx.
 */
import type { ErrorEnvelope } from "../../pipeline/errors.ts";

export interface CreatedMetadata {
  cacheStatus: "HIT" | "MISS";
  eventId: string;
  logId: string;
  /** The serving step's index, as a string (Cloudflare's shape). */
  step: string;
  contentType: string | null;
  /** The provider's status, when it is not 2xx. */
  status?: number;
}

export type ServerFrame =
  | { type: "universal.created"; metadata: CreatedMetadata; response?: unknown }
  | { type: "universal.stream"; metadata: { eventId: string }; response: unknown }
  | { type: "universal.done"; metadata: CreatedMetadata }
  | { type: "universal.error"; metadata: { eventId: string | null; logId: string }; error: ErrorEnvelope };

/** A client frame's request: one step object or an array of steps (the first step's `eventId` tags every frame). */
export interface CreateFrame {
  type: "universal.create";
  request: unknown;
}

/** A provider's body as a frame carries it: parsed JSON when it is JSON, else the text as is. */
export function bodyValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
