import { emptyUsage, type Usage } from "../../src/pipeline/record.ts";
import type { UsageReader } from "../../src/providers/types.ts";

/** Feeds a raw SSE body through a reader the way the upstream layer does: one call per `data:` payload. */
export function readStream(reader: UsageReader, sse: string): Usage {
  const usage = emptyUsage();
  for (const block of sse.split(/\r?\n\r?\n/)) {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length === 0) continue;
    const payload = data.join("\n");
    let parsed: unknown = payload;
    try {
      parsed = JSON.parse(payload);
    } catch {
      // `[DONE]` and other non-JSON payloads reach the reader as text.
    }
    reader.event(parsed, usage, event);
  }
  return usage;
}

/** Feeds one whole JSON answer through a reader. */
export function readJson(reader: UsageReader, body: unknown): Usage {
  const usage = emptyUsage();
  reader.json(body, usage);
  return usage;
}
