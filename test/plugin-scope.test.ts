import { describe, expect, test } from "bun:test";
import { definePlugin, type RequestRecord } from "../src/sdk.ts";
import { gatewayWithMock } from "./support/with-mock.ts";

const chat = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
const post: RequestInit = { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-client" }, body: chat };

describe("a plugin's appliesTo leaves it out of the chains of gateways it has nothing to do for", () => {
  test("handle runs only for the gateways it applies to, once per request; onComplete runs for every gateway", async () => {
    const handled: string[] = [];
    const completed: string[] = [];
    const asked: string[] = [];
    const scoped = definePlugin({
      name: "scoped",
      appliesTo(gateway) {
        asked.push(gateway.id);
        return gateway.id === "on";
      },
      handle(ctx, next) {
        handled.push(ctx.gatewayId);
        return next();
      },
      onComplete(record: RequestRecord) {
        completed.push(record.gatewayId);
      },
    });
    await using t = await gatewayWithMock((upstream) => ({
      providers: { openai: { baseUrl: `${upstream}/v1` } },
      gateways: { on: {}, off: {} },
      plugins: [scoped, "logging"],
    }));

    for (const gateway of ["on", "off", "on", "off"]) {
      const res = await fetch(`${t.gw.url}/v1/local/${gateway}/openai/chat/completions`, post);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    }
    await t.gw.settle();

    expect(handled).toEqual(["on", "on"]);
    expect(completed.sort()).toEqual(["off", "off", "on", "on"]);
    // Asked once per gateway, not per request.
    expect(asked.sort()).toEqual(["off", "on"]);
  });

  test("a built-in that is not configured on a gateway is left out there and still works where it is", async () => {
    await using t = await gatewayWithMock((upstream) => ({
      providers: { openai: { baseUrl: `${upstream}/v1` } },
      gateways: { limited: { rateLimit: { limit: 1, interval: 60 } }, open: {} },
      plugins: ["rate-limit", "logging"],
    }));
    const call = (gateway: string) => fetch(`${t.gw.url}/v1/local/${gateway}/openai/chat/completions`, post).then(async (res) => (await res.arrayBuffer(), res.status));

    expect([await call("limited"), await call("limited")]).toEqual([200, 429]);
    expect([await call("open"), await call("open"), await call("open")]).toEqual([200, 200, 200]);
  });

  test("an appliesTo that throws keeps the plugin in the chain", async () => {
    let handled = 0;
    const broken = definePlugin({
      name: "broken-scope",
      appliesTo() {
        throw new Error("cannot tell");
      },
      handle(_ctx, next) {
        handled++;
        return next();
      },
    });
    await using t = await gatewayWithMock((upstream) => ({ providers: { openai: { baseUrl: `${upstream}/v1` } }, plugins: [broken, "logging"] }));

    const res = await fetch(`${t.gw.url}/v1/local/default/openai/chat/completions`, post);
    await res.arrayBuffer();

    expect(res.status).toBe(200);
    expect(handled).toBe(1);
  });
});
