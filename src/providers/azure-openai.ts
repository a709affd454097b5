import { GatewayError, ErrorCode } from "../pipeline/errors.ts";
import { bodyModel } from "./common.ts";
import type { BaseParams, ProviderDef } from "./types.ts";
import { echo } from "./url-guard.ts";
import { openaiUsage } from "./usage/openai.ts";

/** Azure resource (custom subdomain) name: 2–64 letters, digits and hyphens, a letter or digit at each end. */
const RESOURCE = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}[A-Za-z0-9]$/;
/** Azure OpenAI deployment name: 1–64 letters, digits, `-`, `_` and `.`, not starting with `.`. */
const DEPLOYMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/**
 * Azure OpenAI. `/azure-openai/{resource}/{deployment}/chat/completions?api-version=…` →
 * `https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions?api-version=…`.
 * The first two endpoint segments are always resource and deployment; they fill `{resource}` and
 * `{deployment}` wherever the (default or configured) base has them. The resource becomes part of the
 * host, so both are checked against Azure's naming rules before any URL is built.
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
  baseParams(endpoint): BaseParams {
    const { resource, deployment, rest } = splitEndpoint(endpoint);
    if (!RESOURCE.test(resource)) {
      throw invalid(`resource name ${echo(resource)}: use 2–64 letters, digits and hyphens, starting and ending with a letter or digit`);
    }
    if (!DEPLOYMENT.test(deployment)) {
      throw invalid(`deployment name ${echo(deployment)}: use 1–64 letters, digits, "-", "_" and ".", not starting with "."`);
    }
    return { params: { resource, deployment }, endpoint: rest };
  },
};

function invalid(problem: string): GatewayError {
  return new GatewayError(400, ErrorCode.BadRequest, `Invalid Azure ${problem}; the path is /azure-openai/{resource}/{deployment}/…`);
}

function splitEndpoint(endpoint: string): { resource: string; deployment: string; rest: string } {
  const [resource = "", deployment = "", ...rest] = endpoint.replace(/^\/+/, "").split("/");
  return { resource, deployment, rest: rest.join("/") };
}
