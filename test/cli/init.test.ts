import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sdk from "../../src/sdk.ts";
import { SDK_DTS } from "../../src/cli/templates/sdk-dts.ts";
import { BUN, MAIN, run } from "../support/cli.ts";

const TSC = join(import.meta.dir, "../../node_modules/.bin/tsc");

describe("switchboard init", () => {
  test("writes a config, an example plugin and types that type-check and validate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-init-"));
    try {
      const result = await run([BUN, MAIN, "init", dir]);
      expect(result.exitCode).toBe(0);
      for (const file of ["gateway.config.ts", "plugins/require-user.ts", "switchboard.d.ts", "tsconfig.json"]) {
        expect(existsSync(join(dir, file))).toBe(true);
      }
      const typecheck = await run([TSC, "-p", dir]);
      expect(typecheck.stdout + typecheck.stderr).toBe("");
      expect(typecheck.exitCode).toBe(0);

      const check = await run([BUN, MAIN, "check", "--config", join(dir, "gateway.config.ts")]);
      expect(check.stdout).toContain("is valid");
      expect(check.stdout).toContain("require-user");
      expect(check.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the written types catch a mistake in a plugin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-init-"));
    try {
      await run([BUN, MAIN, "init", dir]);
      writeFileSync(join(dir, "plugins/require-user.ts"), `import { definePlugin } from "switchboard";\nexport default definePlugin({ name: "x", handle(ctx, next) { return ctx.error("400", 1, "no"); } });\n`);
      const typecheck = await run([TSC, "-p", dir]);
      expect(typecheck.exitCode).not.toBe(0);
      expect(typecheck.stdout).toContain("require-user.ts");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("keeps existing files unless --force", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-init-"));
    try {
      writeFileSync(join(dir, "gateway.config.ts"), "export default {};\n");
      const result = await run([BUN, MAIN, "init", dir]);
      expect(result.stdout).toContain("kept");
      expect(readFileSync(join(dir, "gateway.config.ts"), "utf8")).toBe("export default {};\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("switchboard.d.ts agrees with the real SDK's types, both ways", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-dts-"));
    try {
      // Without its `process` stand-in, which would clash with Bun's own types that the real SDK needs here.
      writeFileSync(join(dir, "switchboard.d.ts"), SDK_DTS.replace(/^declare var process.*$/m, ""));
      const real = join(import.meta.dir, "../../src/sdk.ts");
      // Data types must match both ways; a config or plugin typed against the file must be one the gateway
      // accepts; what the gateway hands a plugin must be what the file promises.
      const pairs = ["RequestRecord", "Usage", "Metadata", "Attempt", "CacheEntry", "GatewayToken", "LogFilter"];
      const lines = pairs.flatMap((name) => [
        `export const ${name}ToReal: R.${name} = null! as D.${name};`,
        `export const ${name}ToDeclared: D.${name} = null! as R.${name};`,
      ]);
      lines.push(`export const configToReal: R.Config = null! as D.Config;`);
      lines.push(`export const pluginToReal: R.Plugin = null! as D.Plugin;`);
      lines.push(`export const ctxToDeclared: D.RequestContext = null! as R.RequestContext;`);
      lines.push(`export const storesToDeclared: D.Stores = null! as R.Stores;`);
      lines.push(`export const handleToDeclared: D.GatewayHandle = null! as R.GatewayHandle;`);
      writeFileSync(join(dir, "check.ts"), [`import type * as D from "switchboard";`, `import type * as R from ${JSON.stringify(real)};`, ...lines].join("\n"));
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { target: "ESNext", module: "Preserve", moduleResolution: "bundler", strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, types: ["bun"], typeRoots: [join(import.meta.dir, "../../node_modules/@types")] },
          files: ["switchboard.d.ts", "check.ts"],
        }),
      );
      const typecheck = await run([TSC, "-p", dir]);
      expect(typecheck.stdout.split("\n").filter((line) => /error TS/.test(line))).toEqual([]);
      expect(typecheck.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("switchboard.d.ts declares every value the SDK exports", () => {
    const declared = new Set([...SDK_DTS.matchAll(/export (?:declare )?(?:function|class|const) (\w+)/g)].map((match) => match[1]));
    expect([...declared].sort()).toEqual(Object.keys(sdk).sort());
  });
});
