import { ErrorCode, GatewayError } from "../pipeline/errors.ts";

/** Where a `/v1/…` request goes, read from the request-target. */
export interface Target {
  account: string;
  gateway: string;
  provider: string | null;
  endpoint: string;
  search: string;
}

export function parseTarget(url: string): Target {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?", pathStart);
  const path = queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
  const search = queryStart === -1 ? "" : url.slice(queryStart);
  // path is "/v1/{account}/{gateway}/{provider}/{endpoint…}"
  const parts = path.split("/");
  const [, , account = "", gateway = "", provider = ""] = parts;
  if (!account || !gateway) {
    throw new GatewayError(400, ErrorCode.BadRequest, "Malformed path; expected /v1/{account}/{gateway}/{provider}/{path}");
  }
  return { account: decode(account), gateway: decode(gateway), provider: provider ? decode(provider) : null, endpoint: parts.slice(5).join("/"), search };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, ErrorCode.BadRequest, `Malformed path segment "${segment}"`);
  }
}
