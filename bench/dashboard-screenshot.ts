/**
 * One-off: docs/dashboard.png. A real gateway in front of the mock provider, some traffic, then the
 * dashboard signed in and open on one log, in headless chromium at 1280 px.
 *
 * bun bench/dashboard-screenshot.ts
 */
import { chromium } from "playwright-core";
import { gatewayWithMock } from "../test/support/with-mock.ts";

const TOKEN = "screenshot-admin-token";
await using t = await gatewayWithMock({ server: { adminToken: TOKEN } });
const post = (body: unknown, headers: Record<string, string> = {}) => ({ method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const prompts = ["Summarise this ticket", "Translate to French: good morning", "Write a haiku about gateways", "List three prime numbers"];
for (let i = 0; i < 36; i++) {
  const content = prompts[i % prompts.length];
  if (i % 3 === 2) {
    await fetch(`${t.gw.base()}/anthropic/v1/messages`, post({ model: "claude-sonnet-4-5", max_tokens: 128, messages: [{ role: "user", content }] }, { "anthropic-version": "2023-06-01" }));
  } else {
    await fetch(`${t.gw.base()}/openai/chat/completions`, post({ model: i % 2 ? "gpt-4o" : "gpt-4o-mini", messages: [{ role: "user", content }] }));
  }
}
await t.gw.settle();

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, colorScheme: "light" });
  await page.goto(`${t.gw.url}/`);
  await page.fill("#token", TOKEN);
  await page.click("#login-form button[type=submit]");
  await page.click('.segmented button[data-range="1h"]');
  await page.waitForSelector("#charts svg .data");
  await page.waitForSelector("#logs-table tbody tr");
  await page.screenshot({ path: "docs/dashboard.png", fullPage: true });
  console.log("wrote docs/dashboard.png");
} finally {
  await browser.close();
}
