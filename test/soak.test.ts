/**
 * Issue 22, the reduced soak for CI: bench/soak.ts for 30 seconds (the full run is
 * `bun bench/soak.ts`, 300,000 requests). A real `serve` under steady mixed load — provider-route
 * chat completions and streams, compat requests and streams, WebSocket Universal requests — must
 * answer every request, keep its resident memory flat after warm-up and have every answered
 * request in its SQLite logs after a graceful stop.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const SOAK = join(import.meta.dir, "../bench/soak.ts");
const SECONDS = 30;

interface Summary {
  answered: number;
  rps: number;
  errors: number;
  mix: Record<string, number>;
  rss: { start: number; peak: number; end: number; allowedGrowth: number };
  logs: { answered: number; rows: number; missing: number };
  exitCode: number;
  pass: boolean;
}

test(
  `${SECONDS} s of mixed load: no failed request, memory flat after warm-up, every answered request logged`,
  async () => {
    const proc = Bun.spawn([process.execPath, SOAK, "--duration", String(SECONDS)], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const last = stdout.trimEnd().split("\n").at(-1) ?? "";
    let summary: Summary;
    try {
      summary = (JSON.parse(last) as { soak: Summary }).soak;
    } catch {
      throw new Error(`bench/soak.ts printed no summary (exit ${exitCode})\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    console.log(stdout.split("\n").filter((line) => line.startsWith("soak:") || line.startsWith("  RSS") || line.startsWith("  logs")).join("\n"));

    expect({ exitCode, pass: summary.pass, errors: summary.errors, missing: summary.logs.missing, gatewayExit: summary.exitCode }).toEqual({ exitCode: 0, pass: true, errors: 0, missing: 0, gatewayExit: 0 });
    expect(summary.logs.rows).toBe(summary.answered);
    // Every kind of request was part of the mix, in earnest.
    expect(Object.keys(summary.mix).sort()).toEqual(["compat", "compat-stream", "json", "stream", "ws", "ws-stream"]);
    expect(Math.min(...Object.values(summary.mix))).toBeGreaterThan(100);
    expect(summary.rss.end - summary.rss.start).toBeLessThanOrEqual(summary.rss.allowedGrowth);
    expect(stdout).toMatch(/^soak: \d+ answered in [\d.]+ s \(\d+ req\/s\), 0 errors$/m);
  },
  (SECONDS + 60) * 1000,
);
