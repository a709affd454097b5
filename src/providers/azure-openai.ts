import { bodyModel } from "./common.ts";
import type { ProviderDef } from "./types.ts";
import { joinUrl } from "./url.ts";
import { openaiUsage } from "./usage/openai.ts";

/**
 * Azure OpenAI. `/azure-openai/{resource}/{deployment}/chat/completions?api-version=…` →
 * `https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions?api-version=…`.
 * The first two endpoint segments are always resource and deployment; they fill `{resource}` and
 * `{deployment}` wherever the (default or configured) base has them.
 */
export const azureOpenAI: ProviderDef = {
  slug: "azure-openai",
  baseUrl: "https://{resource}.openai.azure.com/openai/deployments/{deployment}",
  // `api-key` is Azure's key header; `authorization` carries Entra ID bearer tokens.
  authHeaders: ["api-key", "authorization"],
  applyKey(headers, key) {
    headers.set("api-key", key);
  },
  usage: openaiUsage,
  model(endpoint, body) {
    return bodyModel(body) ?? (splitEndpoint(endpoint).deployment || null);
  },
  url(base, endpoint, search) {
    const { resource, deployment, rest } = splitEndpoint(endpoint);
    return joinUrl(base.replaceAll("{resource}", resource).replaceAll("{deployment}", deployment), rest, search);
  },
};

function splitEndpoint(endpoint: string): { resource: string; deployment: string; rest: string } {
  const [resource = "", deployment = "", ...rest] = endpoint.replace(/^\/+/, "").split("/");
  return { resource, deployment, rest: rest.join("/") };
}
