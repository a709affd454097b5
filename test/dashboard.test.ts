import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { DASHBOARD_CSP } from "../src/server/dashboard/index.ts";
import { gatewayWithMock, type GatewayWithMock } from "./support/with-mock.ts";

// What the in-page callbacks below touch: the test's tsconfig has no DOM lib, and the page's CSP
// forbids string evaluation, so they stay functions.
declare const document: { querySelectorAll(selector: string): { length: number }; documentElement: { scrollWidth: number } };
declare const sessionStorage: { length: number };

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-admin-token";
// Without chromium the browser cases skip, but only outside CI: .ci/run installs it, so in CI they must run.
const browserMissing = !existsSync(CHROMIUM) && !process.env.CI;
if (browserMissing) console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium); they always run in CI`);

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

let t: GatewayWithMock;
let browser: Browser | undefined;

beforeAll(async () => {
  t = await gatewayWithMock({ server: { adminToken: TOKEN } });
  const traffic = [
    fetch(`${t.gw.base()}/openai/chat/completions`, post({ model: "gpt-4o-mini", messages: [{ role: "user", content: "dashboard hello" }] })),
    fetch(`${t.gw.base()}/openai/chat/completions`, post({ model: "gpt-4o", messages: [{ role: "user", content: "second" }] })),
    fetch(`${t.gw.base()}/anthropic/v1/messages`, post({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi claude" }] }, { "anthropic-version": "2023-06-01" })),
  ];
  for (const response of await Promise.all(traffic)) expect(response.status).toBe(200);
  await t.gw.settle();
  if (!browserMissing) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }
});

afterAll(async () => {
  await browser?.close();
  await t?.[Symbol.asyncDispose]();
});

/** A fresh tab (own sessionStorage) at the dashboard, collecting page errors and CSP violations. */
async function openDashboard(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
  await page.goto(`${t.gw.url}/`);
  return { page, problems };
}

async function signIn(page: Page, token: string) {
  await page.fill("#token", token);
  await page.click("#login-form button[type=submit]");
}

describe("the dashboard's HTTP surface", () => {
  test("GET / is the page with a strict CSP, no inline script and no secret", async () => {
    const response = await fetch(`${t.gw.url}/`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toContain(TOKEN);
  });

  test("assets are served with an ETag that answers 304, and unknown names 404", async () => {
    const first = await fetch(`${t.gw.url}/dashboard/app.js`);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await first.text()).toContain("createApi");
    const again = await fetch(`${t.gw.url}/dashboard/app.js`, { headers: { "if-none-match": first.headers.get("etag")! } });
    expect(again.status).toBe(304);
    expect((await fetch(`${t.gw.url}/dashboard/../gateway.config.ts`)).status).toBe(404);
    expect((await fetch(`${t.gw.url}/dashboard/nope.js`)).status).toBe(404);
  });
});

describe.skipIf(browserMissing)("the dashboard in a browser", () => {
  test("loads and asks for the admin token", async () => {
    const { page, problems } = await openDashboard();
    await page.waitForSelector("#token", { state: "visible" });
    expect(await page.isVisible("#dash")).toBe(false);
    expect(await page.textContent("#login h2")).toBe("Sign in");
    expect(problems).toEqual([]);
    await page.close();
  });

  test("a wrong token shows an error and no data", async () => {
    const { page } = await openDashboard();
    await signIn(page, "not-the-token");
    await page.waitForSelector("#login-error", { state: "visible" });
    expect(await page.textContent("#login-error")).toContain("refused this token (401)");
    expect(await page.isVisible("#dash")).toBe(false);
    expect(await page.locator("#logs-table tbody tr").count()).toBe(0);
    expect(await page.locator("#charts svg").count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  });

  test("with the right token: charts have data, logs filter by provider, a row opens its bodies", async () => {
    const { page, problems } = await openDashboard();
    await signIn(page, TOKEN);
    await page.waitForSelector("#charts svg .data");
    expect(await page.locator("#charts svg .data").count()).toBeGreaterThan(0);
    expect(await page.textContent("#top-providers")).toContain("openai");
    await page.waitForSelector("#logs-table tbody tr");
    expect(await page.locator("#logs-table tbody tr").count()).toBe(3);
    // Usable at 1280 px: nothing scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);

    await page.fill("#filters input[name=provider]", "anthropic");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#logs-table tbody tr").length === 1);
    expect(await page.textContent("#logs-table tbody tr")).toContain("claude-sonnet-4-5");

    await page.fill("#filters input[name=provider]", "openai");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#logs-table tbody tr").length === 2);
    await page.click("#logs-table tbody tr >> text=gpt-4o-mini");
    await page.waitForSelector("#detail pre.body");
    const bodies = await page.locator("#detail pre.body").allTextContents();
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toContain('"content": "dashboard hello"');
    expect(bodies[1]).toContain('"object": "chat.completion"');
    expect(await page.locator("#detail .attempts tbody tr").count()).toBe(1);

    await page.click('#detail .thumb[data-feedback="1"]');
    await page.waitForSelector('#detail .thumb[data-feedback="1"][aria-pressed="true"]');
    const id = await page.getAttribute("#logs-table tbody tr.selected", "data-id");
    expect((await t.log(id!))?.feedback).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });
});
