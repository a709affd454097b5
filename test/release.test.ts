import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { gitCommit } from "../src/version.ts";
import { BUN, MAIN, run, startServe, tempFolder } from "./support/cli.ts";
import { MOCK_REPLY, startMockUpstream } from "./support/mock-upstream.ts";
import { replyText } from "./support/with-mock.ts";

const ROOT = join(import.meta.dir, "..");
/** What git says, asked directly (not through src/version.ts), or "unknown" in a checkout without .git. */
const HEAD = (() => {
  const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
  return git.exitCode === 0 ? git.stdout.toString().trim() : "unknown";
})();

// The release goes to a temp folder (`--out`), not dist/release: a release made by hand stays put.
let out: ReturnType<typeof tempFolder>;
let artifact: string;
let built: Awaited<ReturnType<typeof run>>;

beforeAll(async () => {
  out = tempFolder();
  artifact = join(out.path, "switchboard-linux-x64");
  // SWITCHBOARD_COMMIT emptied: the commit must come from git, as in a release made from a checkout.
  built = await run([BUN, "run", "release", "--targets", "linux-x64", "--out", out.path], { cwd: ROOT, env: { SWITCHBOARD_COMMIT: "" } });
  if (built.exitCode !== 0) throw new Error(`bun run release failed (${built.exitCode}):\n${built.stdout}\n${built.stderr}`);
}, 120_000);

afterAll(() => out?.[Symbol.dispose]());

describe("bun run release --targets linux-x64", () => {
  test("writes only the binary and a SHA256SUMS line that matches it", () => {
    const sha256 = createHash("sha256").update(readFileSync(artifact)).digest("hex");

    expect(readdirSync(out.path).sort()).toEqual(["SHA256SUMS", "switchboard-linux-x64"]);
    expect(readFileSync(join(out.path, "SHA256SUMS"), "utf8")).toBe(`${sha256}  switchboard-linux-x64\n`);
    expect(built.stdout).toContain(`switchboard-linux-x64`);
    expect(built.stdout).toContain(sha256);
  });

  test.skipIf(!Bun.which("sha256sum"))("SHA256SUMS passes sha256sum -c", async () => {
    const check = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: out.path });

    expect({ code: check.exitCode, stdout: check.stdout.trim() }).toEqual({ code: 0, stdout: "switchboard-linux-x64: OK" });
  });

  test("the binary prints the version and the commit it was built from for --version, -v and version", async () => {
    // From a folder outside the checkout, so only the baked-in commit can name it.
    using cwd = tempFolder();
    const line = `switchboard ${pkg.version} (${HEAD})`;

    for (const flag of ["--version", "-v", "version"]) {
      const result = await run([artifact, flag], { cwd: cwd.path });
      expect({ flag, code: result.exitCode, stdout: result.stdout }).toEqual({ flag, code: 0, stdout: `${line}\n` });
    }
    if (HEAD !== "unknown") expect(HEAD).toMatch(/^[0-9a-f]{7,40}$/);
  });

  test("the binary serves: /health answers, a chat completion goes through the upstream and is logged by the writer thread", async () => {
    await using upstream = await startMockUpstream();
    using dir = tempFolder({
      "gateway.config.ts": `import { defineConfig } from "switchboard";

export default defineConfig({
  storage: { sqlite: "./data/gateway.db" },
  providers: { openai: { baseUrl: "${upstream.url}/v1" } },
  plugins: ["logging"],
});
`,
    });
    await using server = await startServe([artifact, "serve", "--config", join(dir.path, "gateway.config.ts"), "--port", "0"], { cwd: dir.path });

    const health = await fetch(`${server.url}/health`);
    const chat = await fetch(`${server.url}/v1/local/default/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-release-test" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi from the release" }] }),
    });

    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    expect(chat.status).toBe(200);
    expect(await replyText(chat)).toBe(MOCK_REPLY);
    expect(upstream.lastRequest()).toMatchObject({ method: "POST", path: "/v1/chat/completions", headers: { authorization: "Bearer sk-release-test" } });
    expect(await server.terminate()).toBe(0);
    // The worker is a second entrypoint of the build; a binary without it says "log writer" on stderr.
    expect(server.output().stderr).not.toContain("log writer");
    using db = new Database(join(dir.path, "data/gateway.db"), { readonly: true });
    expect(db.query("SELECT id, status_code, model FROM logs").all()).toEqual([{ id: chat.headers.get("cf-aig-log-id"), status_code: 200, model: "gpt-4o-mini" }]);
  });

  test("an unknown target is a usage error (exit 2) naming the valid ones, and builds nothing", async () => {
    using empty = tempFolder();
    const result = await run([BUN, "run", "release", "--targets", "linux-x64,solaris-sparc", "--out", empty.path], { cwd: ROOT });

    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("linux-x64, linux-arm64, darwin-arm64, darwin-x64, windows-x64");
    expect(result.stderr).toContain(`got "linux-x64,solaris-sparc"`);
    expect(readdirSync(empty.path)).toEqual([]);
  });
});

describe("switchboard --version from source", () => {
  test("asks git for the commit of the checkout", async () => {
    using cwd = tempFolder();
    const result = await run([BUN, MAIN, "--version"], { cwd: cwd.path });

    expect({ code: result.exitCode, stdout: result.stdout }).toEqual({ code: 0, stdout: `switchboard ${pkg.version} (${HEAD})\n` });
  });

  test("gitCommit is null outside a repository and for a folder that does not exist", () => {
    using cwd = tempFolder();

    expect([gitCommit(cwd.path), gitCommit(join(cwd.path, "missing"))]).toEqual([null, null]);
  });
});
