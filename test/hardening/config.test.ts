/**
 * Issue 22, hardening: fuzzed configuration. A full config is mutated by a seeded fuzzer — values
 * replaced with hostile ones (NaN, Infinity, functions, symbols, Maps, huge strings, `__proto__`
 * keys), keys deleted, shapes swapped — and validated as `serve` and `check` would; config files are
 * cut, garbled and rewritten, then loaded with the real loader; a few go through `switchboard check`
 * and `serve` in a child process. Each gives a clear error naming what is wrong (a ConfigError with
 * its paths, exit code 1, no stack on stderr), or a config that works — never a crash.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RouteTable } from "../../src/compat/routes.ts";
import { ConfigError, loadConfig, validateConfig } from "../../src/config/loader.ts";
import { createRegistry } from "../../src/providers/registry.ts";
import { Fuzzer, seedOf } from "../support/hardening-fuzz.ts";
import { BUN, MAIN, run } from "../support/cli.ts";

// Bun's default 5 s is short for cases that overflow the stack or flood a socket on 2 shared cores.
setDefaultTimeout(30_000);

const dir = mkdtempSync(join(tmpdir(), "switchboard-config-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every section a config can have, filled with valid values. */
const validConfig = () => ({
  accountId: "local",
  server: {
    hostname: "127.0.0.1",
    port: 8787,
    adminToken: "hardening-admin-token",
    maxBodyBytes: 1_048_576,
    websocket: { maxFrameBytes: 65_536, maxInFlight: 8 },
    metrics: "admin",
    otel: { endpoint: "http://127.0.0.1:4318", batchSize: 10 },
  },
  storage: { sqlite: ":memory:" },
  providers: { openai: { baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-held" }, "custom-local": { baseUrl: "http://127.0.0.1:9/c" } },
  gateways: {
    default: {},
    prod: {
      authentication: true,
      tokens: ["a-config-token-0123456789", { name: "ci", token: "a-named-token-0123456789" }],
      cache: { ttl: 60 },
      rateLimit: [{ limit: 5, interval: 60, key: "header:x-user" }],
      budgets: [{ usd: 5, interval: "1d" }],
      retry: { maxAttempts: 2, delay: 100, backoff: "linear" },
      breaker: { failures: 3, window: 60, cooldown: 10 },
      logs: { collect: true, maxRows: 100 },
      guardrails: { rules: [{ detect: "email", action: "redact" }] },
    },
  },
  routes: { chat: { strategy: "fallback", targets: [{ model: "openai/gpt-4o-mini", timeout: 1000, retries: 1 }] } },
  prices: { "openai/gpt-4o": { input: 2.5, output: 10 } },
  plugins: ["auth", "metadata", "cache", "budget", "rate-limit", "fallback", "logging"],
});

type Json = Record<string, unknown>;

/** Every key path of `value`, parents before children. */
function keyPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [];
  return Object.keys(value).flatMap((key) => [[...prefix, key], ...keyPaths((value as Json)[key], [...prefix, key])]);
}

/** A BigInt anywhere: the loader cannot print one yet (see the todo below), so the main fuzz leaves them out. */
function withoutBigInt(value: unknown, fuzz: Fuzzer): unknown {
  return typeof value === "bigint" ? fuzz.pick([7, "7n"]) : value;
}

/** 1–3 mutations: a value replaced by a hostile one, a key deleted, or an unknown key added. */
function mutate(fuzz: Fuzzer): Json {
  const config: Json = validConfig();
  for (let n = 1 + fuzz.int(3); n > 0; n--) {
    const paths = keyPaths(config);
    const path = fuzz.pick(paths);
    let parent = config as Json;
    for (const key of path.slice(0, -1)) parent = parent[key] as Json;
    if (parent === null || typeof parent !== "object") continue;
    const key = path.at(-1)!;
    const roll = fuzz.int(10);
    if (roll === 0) delete parent[key];
    else if (roll === 1) parent[fuzz.pick(["unknownKey", "__proto__", "constructor", "x".repeat(300)])] = withoutBigInt(fuzz.anyValue(1), fuzz);
    else parent[key] = withoutBigInt(fuzz.anyValue(2), fuzz);
  }
  return config;
}

/**
 * What `check` does with a config object: validate it, then build the provider registry and the
 * model routes (which `serve` only finds at start-up). Returns "valid", or the problems it named.
 */
function check(input: unknown): { outcome: "valid" } | { outcome: "refused"; problems: string[] } {
  try {
    const config = validateConfig(input, null, dir);
    new RouteTable(config.routes, createRegistry(config.providers));
    return { outcome: "valid" };
  } catch (error) {
    if (error instanceof ConfigError) return { outcome: "refused", problems: error.problems };
    // RouteTable's own refusals are plain Errors whose message starts with the config path.
    if (error instanceof Error && error.constructor === Error && /^routes\./.test(error.message)) return { outcome: "refused", problems: [error.message] };
    throw error;
  }
}

/** A problem names a config path (or the config itself) and what was expected. */
const NAMED_PROBLEM = /^(\(config\)|[A-Za-z0-9_.[\]"-]+(\.[^:]+)?): \S/;

describe("mutated config objects", () => {
  test.each(Array.from({ length: 8 }, (_, i) => i))("seed %d: 60 mutated configs each validate, or are refused naming their paths", (seed) => {
    const fuzz = new Fuzzer(seedOf(`config-${seed}`));
    const outcomes = { valid: 0, refused: 0 };

    for (let i = 0; i < 60; i++) {
      const config = mutate(fuzz);
      const result = check(config);
      outcomes[result.outcome]++;
      if (result.outcome === "refused") {
        expect({ seed, i, named: result.problems.length > 0 && result.problems.every((p) => NAMED_PROBLEM.test(p)), problems: result.problems }).toMatchObject({ seed, i, named: true });
      }
    }

    expect(outcomes.refused).toBeGreaterThan(0);
  });

  test.each([
    ["null", null],
    ["a number", 5],
    ["a string", "gateway.config"],
    ["an array", []],
    ["true", true],
    ["a function", () => ({})],
    ["a symbol", Symbol("config")],
  ])("%s as the whole config is refused with a ConfigError", (_, input) => {
    expect(check(input)).toMatchObject({ outcome: "refused", problems: [expect.stringMatching(/^\(config\): /)] });
  });

  test("a config whose getter throws fails with that error, not the loader's", () => {
    const input = Object.defineProperty({}, "server", { enumerable: true, get: () => { throw new Error("the config's own getter failed"); } });

    expect(() => check(input)).toThrow("the config's own getter failed");
  });

  // Was a defect: `shown()` passed a BigInt to JSON.stringify, which threw instead of naming the path.
  test("a BigInt anywhere is a ConfigError naming its path", () => {
    const config = validConfig();
    (config.server as Json).port = 8080n;
    expect(check(config)).toEqual({ outcome: "refused", problems: [expect.stringMatching(/^server\.port: /)] });
  });
});

/** A config file's text, as `init` would write one (enough sections to cut and garble). */
const SOURCE = `import { defineConfig } from "switchboard";

export default defineConfig({
  server: { hostname: "127.0.0.1", port: 8787, adminToken: "hardening-admin-token" },
  storage: { sqlite: ":memory:" },
  providers: { openai: { baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-held" } },
  gateways: {
    default: {},
    prod: { authentication: true, tokens: ["a-config-token-0123456789"], cache: { ttl: 60 }, rateLimit: { limit: 5, interval: 60 } },
  },
  routes: { chat: { targets: [{ model: "openai/gpt-4o-mini" }] } },
  plugins: ["auth", "metadata", "cache", "rate-limit", "fallback", "logging"],
});
`;
const JSON_SOURCE = JSON.stringify({ server: { port: 8787 }, storage: { sqlite: ":memory:" }, gateways: { default: {}, prod: { authentication: true } } }, null, 2);
const GARBAGE = "{}[]()\"'`,:;=<>!?$#@\\/*+-_ \n\tabcxyz0189\u00e9\u0000\u00ff";

/** A damaged config file: cut, characters dropped or inserted, lines swapped, or replaced outright. */
function damage(fuzz: Fuzzer): { name: string; text: string | Uint8Array } {
  const json = fuzz.chance(0.25);
  const source = json ? JSON_SOURCE : SOURCE;
  const ext = json ? "json" : "ts";
  switch (fuzz.int(7)) {
    case 0:
      return { name: `cut.${ext}`, text: source.slice(0, fuzz.int(source.length)) };
    case 1: {
      const chars = [...source];
      for (let n = 1 + fuzz.int(5); n > 0; n--) chars.splice(fuzz.int(chars.length), 1);
      return { name: `dropped.${ext}`, text: chars.join("") };
    }
    case 2: {
      const chars = [...source];
      for (let n = 1 + fuzz.int(5); n > 0; n--) chars.splice(fuzz.int(chars.length), 0, fuzz.pick([...GARBAGE]));
      return { name: `inserted.${ext}`, text: chars.join("") };
    }
    case 3: {
      const lines = source.split("\n");
      const a = fuzz.int(lines.length);
      const b = fuzz.int(lines.length);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      return { name: `swapped.${ext}`, text: lines.join("\n") };
    }
    case 4:
      return { name: `bytes.${ext}`, text: Uint8Array.from({ length: 1 + fuzz.int(200) }, () => fuzz.int(256)) };
    case 5:
      return {
        name: `replaced.${ext}`,
        text: fuzz.pick(["", "// nothing but a comment\n", "export default undefined;\n", "export const config = 5;\n", "export default null;\n", 'export default "config";\n', "export default [];\n", 'import x from "./missing.ts";\nexport default x;\n', 'throw new Error("the config could not start");\n', "null", "[]", '"text"', "{"]),
      };
    default:
      return { name: `value.${ext}`, text: source.replace(/8787|true|60|"auth"|":memory:"/, () => fuzz.pick(["-1", '"8787"', "NaN", "Infinity", "{}", "[]", "null", '"x".repeat(5000)', "undefined"])) };
  }
}

describe("damaged config files", () => {
  let file = 0;
  test.each(Array.from({ length: 6 }, (_, i) => i))("seed %d: 12 damaged files each load or give a ConfigError naming the file", async (seed) => {
    const fuzz = new Fuzzer(seedOf(`file-${seed}`));

    for (let i = 0; i < 12; i++) {
      const { name, text } = damage(fuzz);
      // A fresh name every time: a module, once imported, stays cached under its path.
      const path = join(dir, `${seed}-${i}-${file++}-${name}`);
      writeFileSync(path, text);
      let error: unknown = null;
      try {
        const config = await loadConfig(path, dir);
        new RouteTable(config.routes, createRegistry(config.providers));
      } catch (thrown) {
        error = thrown;
      }
      if (error !== null) {
        expect({ seed, i, name, kind: error instanceof ConfigError ? "ConfigError" : String(error) }).toEqual({ seed, i, name, kind: "ConfigError" });
        expect((error as ConfigError).source).toBe(path);
        expect((error as ConfigError).problems.length).toBeGreaterThan(0);
      }
    }
  });

  // Was a defect: a default export that was not a plain object passed the schema as `{}`, and the open
  // built-in default was served instead (a Promise, a Map, a Date).
  test("a config exported as a Promise is awaited or refused, never replaced by the open default", async () => {
    const path = join(dir, "async.ts");
    writeFileSync(path, "export default (async () => ({ gateways: { default: { authentication: true } } }))();\n");
    const mapPath = join(dir, "map.ts");
    writeFileSync(mapPath, 'export default new Map([["gateways", {}]]);\n');

    const loaded = await loadConfig(path, dir).catch((error: unknown) => error);
    const map = await loadConfig(mapPath, dir).catch((error: unknown) => error);

    if (!(loaded instanceof ConfigError)) expect((loaded as Awaited<ReturnType<typeof loadConfig>>).gateways.get("default")?.raw.authentication).toBe(true);
    expect(map).toBeInstanceOf(ConfigError);
  });
});

describe("switchboard check and serve on bad configs", () => {
  const files: Record<string, string> = {
    "schema.ts": 'export default { server: { port: "eighty" }, gateways: { default: { rateLimit: { limit: 0, interval: 60 } } } };\n',
    "syntax.ts": "export default { server: { port: \n",
    "throws.ts": 'throw new Error("the config could not start");\nexport default {};\n',
    "missing-import.ts": 'import x from "./nowhere.ts";\nexport default x;\n',
    "bad.json": '{"server":{"port":"x"},"plugins":["nope"]}',
    "garbage.ts": "\u00ff\u00fe\u0000 not a module \u0001",
    "route.ts": 'export default { routes: { r: { targets: [{ model: "nope/x" }] } } };\n',
  };

  test("each bad file: exit code 1, each problem named, no stack trace", async () => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `cli-${name}`), text);

    const results = await Promise.all(Object.keys(files).map((name) => run([BUN, MAIN, "check", "--config", join(dir, `cli-${name}`)], { cwd: dir })));

    const seen = results.map(({ exitCode, stderr }, i) => ({
      file: Object.keys(files)[i],
      exitCode,
      clear: /^(Invalid config \S+:\n {2}- \S|routes\.\S+: )/.test(stderr),
      stack: /^\s+at /m.test(stderr) || stderr.includes("Bun v"),
    }));
    expect(seen).toEqual(Object.keys(files).map((file) => ({ file, exitCode: 1, clear: true, stack: false })));
  });

  test("serve with a bad config exits 1 before listening, naming the problem, without a stack", async () => {
    const path = join(dir, "cli-serve.ts");
    writeFileSync(path, 'export default { server: { maxBodyBytes: -5 }, gateways: { default: { cache: { ttl: "forever" } } } };\n');

    const { exitCode, stdout, stderr } = await run([BUN, MAIN, "serve", "--config", path, "--port", "0"], { cwd: dir });

    expect({ exitCode, listening: stdout.includes("listening"), stack: /^\s+at /m.test(stderr) }).toEqual({ exitCode: 1, listening: false, stack: false });
    expect(stderr).toContain("server.maxBodyBytes");
    expect(stderr).toContain("gateways.default.cache.ttl");
  });
});
