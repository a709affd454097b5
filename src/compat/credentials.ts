import type { ResolvedGateway } from "../config/defaults.ts";
import type { Plugin } from "../pipeline/types.ts";

const BEARER = /^Bearer[ \t]+(\S+)$/i;

/** The client's credentials, sorted: what the chain sees, and what goes to the provider. */
export interface SortedCredentials {
  /** The client's headers minus `Authorization`; a gateway token sent as the bearer is here as `cf-aig-authorization`. */
  headers: Headers;
  /** The bearer when it is the provider's key (the `openai` client's `apiKey`), else null. */
  providerKey: string | null;
}

/**
 * Sorts the compat client's `Authorization: Bearer <key>`. On a gateway with `authentication: true`
 * whose chain has the `auth` plugin, a request without `cf-aig-authorization` can only pass with a
 * gateway token, so its bearer is taken as one: it becomes `cf-aig-authorization` for the chain and
 * goes to no provider (the gateway's held key does). The `auth` plugin then accepts it — config
 * tokens and `switchboard tokens` alike — or refuses it with 401/2009 and a record, exactly as it
 * judges `cf-aig-authorization`; nothing is sent upstream before it has. Any other bearer is the
 * provider's key, for the provider's own auth header.
 */
export function sortCredentials(auth: Plugin | undefined, gateway: ResolvedGateway, request: Request): SortedCredentials {
  const headers = new Headers(request.headers);
  const bearer = BEARER.exec(headers.get("authorization")?.trim() ?? "")?.[1] ?? null;
  headers.delete("authorization");
  if (bearer === null) return { headers, providerKey: null };
  if (auth && gateway.raw.authentication === true && !headers.has("cf-aig-authorization")) {
    headers.set("cf-aig-authorization", `Bearer ${bearer}`);
    return { headers, providerKey: null };
  }
  return { headers, providerKey: bearer };
}
