/**
 * The pair most tests need: a mock provider and the real gateway in front of it, stopped together.
 * The chain defaults to `["logging"]` so these tests do not depend on other built-in plugins.
 *
 * @example
 * await using t = await gatewayWithMock((upstream) => ({ providers: { openai: { baseUrl: `${upstream}/v1`, apiKey: "sk-held" } } }));
 * const res = await fetch(`${t.gw.base()}/openai/chat/completions`, { method: "POST", body });
 * expect(await t.log(res)).toMatchObject({ status_code: 200 });
 */
import type { Config } from "../../src/sdk.ts";
import type { LogDetail } from "../../src/store/types.ts";
import { startTestGateway, type TestGateway } from "./gateway.ts";
import { startMockUpstream, type MockUpstream } from "./mock-upstream.ts";

export interface GatewayWithMock extends AsyncDisposable {
  upstream: MockUpstream;
  gw: TestGateway;
  /** Settles the gateway, then the stored log of this answer (by its `cf-aig-log-id`), or null. */
  log(response: Response | string, gateway?: string): Promise<LogDetail | null>;
  /** Settles the gateway, then every stored log of `gateway`, oldest first. */
  logs(gateway?: string): Promise<LogDetail[]>;
}

export async function gatewayWithMock(config: Config | ((upstream: string) => Config) = {}): Promise<GatewayWithMock> {
  const upstream = await startMockUpstream();
  const given = typeof config === "function" ? config(upstream.url) : config;
  let gw: TestGateway;
  try {
    gw = await startTestGateway({ upstream: upstream.url, config: { plugins: ["logging"], ...given } });
  } catch (error) {
    await upstream.stop();
    throw error;
  }
  const store = gw.running.handle.stores.logs;
  return {
    upstream,
    gw,
    async log(response, gateway = "default") {
      const id = typeof response === "string" ? response : response.headers.get("cf-aig-log-id");
      if (!id) throw new Error("the answer has no cf-aig-log-id");
      await gw.settle();
      return store.get(gateway, id);
    },
    async logs(gateway = "default") {
      await gw.settle();
      const { rows } = await store.list(gateway, { page: 1, perPage: 1000, orderBy: "created_at", direction: "asc", filters: [] });
      return Promise.all(rows.map(async (row) => (await store.get(gateway, row.id))!));
    },
    async [Symbol.asyncDispose]() {
      await gw.stop();
      await upstream.stop();
    },
  };
}

/** The assistant text of an OpenAI chat completion answer. */
export async function replyText(response: Response): Promise<string> {
  const body = (await response.json()) as { choices: { message: { content: string } }[] };
  return body.choices[0].message.content;
}
