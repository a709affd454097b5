/** What the compat tests share: the gateway in front of the mock, with every compat provider pointed at it, and the official `openai` client. */
import OpenAI from "openai";
import type { Config } from "../../src/sdk.ts";
import { gatewayWithMock, type GatewayWithMock } from "../support/with-mock.ts";

/** Base URLs that put every provider the compat tests use on the mock. */
export function compatProviders(upstream: string): NonNullable<Config["providers"]> {
  return {
    "google-ai-studio": { baseUrl: upstream },
    groq: { baseUrl: `${upstream}/v1` },
    mistral: { baseUrl: upstream },
  };
}

/** The gateway and mock, with Gemini, Groq and Mistral on the mock too; `config` may add to it. */
export function compatGateway(config: (upstream: string) => Config = () => ({})): Promise<GatewayWithMock> {
  return gatewayWithMock((upstream) => {
    const given = config(upstream);
    return { ...given, providers: { ...compatProviders(upstream), ...given.providers } };
  });
}

/** The official client pointed at the compat endpoint, as the issue asks: `baseURL: "<host>/v1/{account}/{gateway}/compat"`. */
export function compatClient(t: GatewayWithMock, options: { apiKey?: string; gateway?: string; headers?: Record<string, string> } = {}): OpenAI {
  return new OpenAI({ baseURL: `${t.gw.base(options.gateway)}/compat`, apiKey: options.apiKey ?? "sk-client", maxRetries: 0, defaultHeaders: options.headers });
}

/** A raw POST to `/compat/{path}` of a gateway. */
export function postCompat(t: GatewayWithMock, body: unknown, headers: Record<string, string> = {}, path = "chat/completions", gateway?: string): Promise<Response> {
  return fetch(`${t.gw.base(gateway)}/compat/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-client", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A weather tool, as a client offers it. */
export const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", description: "Weather at a place", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } },
};
