import type { UsageReader } from "../types.ts";
import { count, obj, text } from "./fields.ts";

/**
 * Replicate predictions: `{ model, version, metrics: { input_token_count, output_token_count } }` on the
 * prediction JSON (language models only). Replicate's own stream events (`output`, `done`) carry no usage.
 */
export const replicateUsage: UsageReader = {
  json(body, usage) {
    const prediction = obj(body);
    if (!prediction) return;
    const model = text(prediction.model);
    if (model) usage.model = model;
    const metrics = obj(prediction.metrics);
    const input = count(metrics?.input_token_count);
    const output = count(metrics?.output_token_count);
    if (input === null && output === null) return;
    usage.tokensIn = input ?? 0;
    usage.tokensOut = output ?? 0;
  },
  event(data, usage) {
    if (obj(data)?.metrics) replicateUsage.json(data, usage);
  },
};
