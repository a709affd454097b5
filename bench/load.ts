/**
 * Load driver for `bun run bench` (see bench/run.ts). Runs as its own process so its CPU is its own.
 *
 *   bun bench/load.ts --url http://127.0.0.1:PORT/v1/chat/completions \
 *     [--connections 32] [--duration 5] [--warmup 1] [--body '{"…"}'] [--header 'k: v']… \
 *     [--client raw|fetch|ws] [--inflight 32] [--unique] [--count-header NAME] [--ttfb]
 *
 * N workers, each one keep-alive connection in a closed loop: POST the same body, read the whole
 * response, repeat. A warm-up runs first and is not measured. Prints one JSON line on stdout:
 *   {rps, p50, p99, mean, max, errors, n, total, seconds, driverCpu, …}
 *
 * --unique makes every request's body different (so a cache never hits): each `{{n}}` in --body is
 * replaced per request by a 16-digit zero-padded number, the same width every time so
 * Content-Length never changes. The numbers count up from Date.now() × 1000 (µs since the epoch)
 * at start, one per request across all workers, so they are unique within a run and — as long as
 * a run sends under 10⁶ requests/s — across successive runs against the same server too. The raw
 * client patches the digits into its own copy of the prebuilt request bytes at known offsets; the
 * fetch client builds the string. --unique without `{{n}}` in the body is refused (exit 2).
 * --count-header NAME counts the values of that response header over the measured 2xx responses
 * (`headerCounts` in the JSON, values lower-cased, e.g. {"hit": 41210} for cf-aig-cache-status).
 * where latencies are ms from just before fetch() until the last body byte, n counts the 2xx
 * responses completed inside the measured window, errors counts non-2xx responses and failures
 * over the whole run (warm-up included: a target that fails while warming up is still broken),
 * total counts every completed request (the orchestrator divides server CPU by it) and driverCpu
 * is this process's CPU time over the measured window, in cores (1.0 = one core busy).
 *
 * --ttfb also times each request's first body byte (for a stream: the first SSE bytes; the raw
 * client counts chunk framing as body) and adds ttfb_p50, ttfb_p90, ttfb_p99 and ttfb_mean (ms from
 * the same start as the latencies) to the JSON; p50/p99 stay the time until the last body byte.
 * The raw client takes the time on the socket read that brings the first body byte, the fetch
 * client when the body's first chunk is read. Not with --client ws. With 128 connections or more,
 * the raw client works as it does with one (each connection is one Bun.connect socket).
 *
 * --client ws: each "connection" is one WebSocket to the URL (http → ws) speaking the Universal API:
 * --body is one step, sent as `{"type":"universal.create","request":{"eventId":…, …step}}` with
 * --inflight requests outstanding at once; a request completes on its `universal.created` with a
 * response (or `universal.done`), fails on `universal.error`.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    url: { type: "string" },
    connections: { type: "string", default: "1" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    body: { type: "string", default: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' },
    header: { type: "string", multiple: true, default: [] },
    client: { type: "string", default: "raw" },
    inflight: { type: "string", default: "1" },
    unique: { type: "boolean", default: false },
    "count-header": { type: "string" },
    ttfb: { type: "boolean", default: false },
  },
  strict: true,
});
if (!values.url || !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(values.url)) {
  console.error("load: --url must be a loopback http:// URL");
  process.exit(2);
}
const url = values.url;
const connections = Math.min(1024, Math.max(1, Math.floor(Number(values.connections)) || 1));
const durationMs = Math.min(600, Math.max(0.5, Number(values.duration) || 5)) * 1000;
const warmupMs = Math.min(60, Math.max(0, Number(values.warmup) || 0)) * 1000;
const GRACE_MS = 10_000; // a request still open this long after the end is a failure, not a wait

/** `{{n}}` in the body, replaced per request under --unique by UNIQUE_DIGITS digits. */
const PLACEHOLDER = "{{n}}";
const UNIQUE_DIGITS = 16;
const unique = values.unique;
if (unique && !values.body.includes(PLACEHOLDER)) {
  console.error(`load: --unique needs the placeholder ${PLACEHOLDER} in --body (it is replaced by a per-request number)`);
  process.exit(2);
}
/** The body split at its placeholders (one part when not --unique: the body as is). */
const bodyParts = unique ? values.body.split(PLACEHOLDER) : [values.body];
const ZEROS = "0".repeat(UNIQUE_DIGITS);
/** Next per-request number; see the header comment for why it starts at the clock. */
let nextUnique = Date.now() * 1000;
const takeUnique = () => nextUnique++;
const digitsOf = (x: number) => String(x).padStart(UNIQUE_DIGITS, "0").slice(-UNIQUE_DIGITS);
/** Writes x as UNIQUE_DIGITS decimal digits into buf at off (no string, no allocation). */
function writeDigits(buf: Buffer, off: number, x: number) {
  for (let i = off + UNIQUE_DIGITS - 1; i >= off; i--) {
    const q = Math.floor(x / 10);
    buf[i] = 48 + (x - q * 10);
    x = q;
  }
}
/** The body with zeros in every placeholder: sent as is without --unique; the template with it. */
const body = Buffer.from(bodyParts.join(ZEROS));
const ttfb = values.ttfb;
if (ttfb && values.client === "ws") {
  console.error("load: --ttfb is for HTTP clients (raw, fetch), not --client ws");
  process.exit(2);
}
const countHeader = values["count-header"]?.toLowerCase();
const countHeaderRe = countHeader
  ? new RegExp(`\\r\\n${countHeader.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:[ \\t]*([^\\r]*)`)
  : null;
const headerCounts: Record<string, number> = {};
const headers = new Headers({ "content-type": "application/json" });
for (const h of values.header) {
  const i = h.indexOf(":");
  if (i > 0) headers.set(h.slice(0, i).trim(), h.slice(i + 1).trim());
}
// Latency samples: preallocated, reservoir-sampled beyond the cap so memory stays bounded.
const CAP = 2_000_000;
const samples = new Float64Array(CAP);
/** Under --ttfb: ms to the first body byte, at the same index as the request's latency sample. */
const ttfbSamples = new Float64Array(ttfb ? CAP : 0);
let ttfbSum = 0;
let n = 0; // measured 2xx completions
let total = 0; // every completion, warm-up included
let errors = 0;
let inflight = 0;
let sum = 0;
let max = 0;
const statuses: Record<string, number> = {};
const errorSamples: string[] = [];

let measuring = false;
let stopping = false;
let tStart = 0;
let tEnd = 0;
let cpuStart = process.cpuUsage();
let cpuEnd = cpuStart;

function fail(what: string) {
  errors++;
  if (errorSamples.length < 5 && !errorSamples.includes(what)) errorSamples.push(what);
}

/** tFirst: when the first body byte arrived (under --ttfb; 0 = no body, taken as t1). */
function record(t0: number, t1: number, status: number, counted?: string | null, tFirst = 0) {
  total++;
  if (status < 200 || status > 299) {
    statuses[status] = (statuses[status] ?? 0) + 1;
    fail(`HTTP ${status}`);
  } else if (measuring && t0 >= tStart) {
    if (countHeader) {
      const v = counted ?? "(none)";
      headerCounts[v] = (headerCounts[v] ?? 0) + 1;
    }
    const ms = t1 - t0;
    const first = ttfb ? (tFirst > 0 ? tFirst : t1) - t0 : 0;
    const j = n < CAP ? n : Math.floor(Math.random() * (n + 1));
    if (j < CAP) {
      samples[j] = ms;
      if (ttfb) ttfbSamples[j] = first;
    }
    ttfbSum += first;
    n++;
    sum += ms;
    if (ms > max) max = ms;
  }
}

/** --client fetch: Bun's fetch with its keep-alive pool (one pooled connection per worker). */
async function fetchWorker() {
  const init: RequestInit = { method: "POST", headers, body, keepalive: true };
  // Bounded by time: `stopping` is set by a timer, and the watchdog below ends the process.
  while (!stopping) {
    if (unique) init.body = bodyParts.join(digitsOf(takeUnique()));
    const t0 = performance.now();
    inflight++;
    try {
      const res = await fetch(url, init);
      let tFirst = 0;
      if (ttfb && res.body) {
        const reader = res.body.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) if (!tFirst && r.value.length) tFirst = performance.now();
      } else await res.arrayBuffer();
      record(t0, performance.now(), res.status, countHeader ? (res.headers.get(countHeader)?.toLowerCase() ?? null) : null, tFirst);
    } catch (e) {
      total++;
      fail(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      await Bun.sleep(1); // a refused connection must not become a hot spin
    } finally {
      inflight--;
    }
  }
}

/**
 * --client raw (default): a minimal HTTP/1.1 keep-alive client on Bun.connect, like wrk's. The
 * request bytes are built once; the response parser only finds the status, Content-Length or
 * chunked framing and skips the body. It costs a fraction of fetch's CPU per request, which
 * matters when the driver shares 2 cores with the servers it measures.
 */
const HEAD = 0, BODY = 1, CHUNK_SIZE = 2, CHUNK_DATA = 3, TRAILERS = 4, UNTIL_CLOSE = 5;
const CRLF = Buffer.from("\r\n");
const CRLF2 = Buffer.from("\r\n\r\n");

function rawWorker(): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port) || 80;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  let head = `POST ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\naccept: */*\r\nuser-agent: switchboard-bench\r\n`;
  headers.forEach((v, k) => (head += `${k}: ${v}\r\n`));
  head += `content-length: ${body.length}\r\n\r\n`;
  // This worker's own copy: under --unique its digits are rewritten in place before each send (the
  // previous request was written in full by then — its whole response has been read).
  const headBytes = Buffer.from(head, "latin1");
  const request = Buffer.concat([headBytes, body]);
  const digitOffsets: number[] = [];
  if (unique) {
    let off = headBytes.length;
    for (let i = 0; i < bodyParts.length - 1; i++) {
      off += Buffer.byteLength(bodyParts[i]!);
      digitOffsets.push(off);
      off += UNIQUE_DIGITS;
    }
  }

  return new Promise<void>((done) => {
    let state = HEAD;
    let need = 0;
    let status = 0;
    let counted: string | null = null;
    let closeAfter = false;
    let pending: Buffer | null = null;
    let unwritten: Buffer | null = null;
    let t0 = 0;
    let tFirst = 0; // --ttfb: when this response's first body byte arrived
    let busy = false; // a request is in flight on this connection
    let reconnects = 0; // failed connects and broken responses; a safety net besides the clock

    const send = (s: any) => {
      if (stopping) return s.end();
      t0 = performance.now();
      tFirst = 0;
      busy = true;
      inflight++;
      state = HEAD;
      if (unique) {
        const x = takeUnique();
        for (const off of digitOffsets) writeDigits(request, off, x);
      }
      const w = s.write(request);
      unwritten = w < request.length ? request.subarray(Math.max(0, w)) : null;
    };
    const finish = (s: any) => {
      busy = false;
      inflight--;
      record(t0, performance.now(), status, counted, tFirst);
      if (closeAfter) return s.end(); // the server said Connection: close; `close` reconnects
      send(s);
    };
    const connect = () => {
      Bun.connect({
        hostname: host,
        port,
        socket: {
          open(s) {
            send(s);
          },
          drain(s) {
            if (!unwritten) return;
            const w = s.write(unwritten);
            unwritten = w < unwritten.length ? unwritten.subarray(Math.max(0, w)) : null;
          },
          data(s, chunk: Buffer) {
            let data: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
            pending = null;
            let off = 0;
            // This read brings body bytes if the head was already in, or if bytes follow it below.
            if (ttfb && busy && !tFirst && state !== HEAD) tFirst = performance.now();
            while (off < data.length) {
              if (state === HEAD) {
                const end = data.indexOf(CRLF2, off);
                if (end < 0) break;
                const h = data.toString("latin1", off, end).toLowerCase();
                status = Number(h.slice(9, 12));
                closeAfter = /\r\nconnection:\s*close/.test(h);
                if (countHeaderRe) counted = countHeaderRe.exec(h)?.[1]?.trim() ?? null;
                off = end + 4;
                if (ttfb && off < data.length) tFirst = performance.now();
                const cl = /\r\ncontent-length:\s*(\d+)/.exec(h);
                if (/\r\ntransfer-encoding:[^\r]*chunked/.test(h)) state = CHUNK_SIZE;
                else if (cl) {
                  need = Number(cl[1]);
                  state = BODY;
                  if (need === 0) finish(s);
                } else if (status === 204 || status === 304) finish(s);
                else state = UNTIL_CLOSE;
              } else if (state === BODY || state === CHUNK_DATA) {
                const take = Math.min(need, data.length - off);
                off += take;
                need -= take;
                if (need > 0) break;
                if (state === BODY) finish(s);
                else state = CHUNK_SIZE;
              } else if (state === CHUNK_SIZE) {
                const end = data.indexOf(CRLF, off);
                if (end < 0) break;
                const size = parseInt(data.toString("latin1", off, end), 16);
                off = end + 2;
                if (size === 0) state = TRAILERS;
                else {
                  need = size + 2; // data and its CRLF
                  state = CHUNK_DATA;
                }
              } else if (state === TRAILERS) {
                const end = data.indexOf(CRLF, off);
                if (end < 0) break;
                const empty = end === off; // the empty line ends the trailers and the message
                off = end + 2;
                if (empty) finish(s);
              } else off = data.length; // UNTIL_CLOSE: the body ends when the socket does
            }
            if (off < data.length) pending = data.subarray(off);
          },
          close(s) {
            if (busy) {
              busy = false;
              inflight--;
              if (state === UNTIL_CLOSE) record(t0, performance.now(), status, counted, tFirst);
              else {
                fail("connection closed mid-response");
                reconnects++;
              }
            }
            pending = null;
            if (stopping || reconnects > 10_000) return done();
            setTimeout(connect, 0);
          },
          error(_s, e) {
            fail(`socket: ${e.message}`);
          },
        },
      }).catch((e: Error) => {
        fail(`connect: ${e.message}`);
        if (stopping || ++reconnects > 10_000) return done();
        setTimeout(connect, 1);
      });
    };
    connect();
  });
}

/** --client ws: one WebSocket, `depth` Universal requests in flight, each re-sent as soon as it completes. */
function wsWorker(depth: number): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const step = values.body.trim();
  const frameFor = (id: number) => `{"type":"universal.create","request":{"eventId":"${id}",${step.slice(1)}}`;
  const started = new Map<string, number>();
  let next = 0;
  const ws = new WebSocket(url.replace(/^http/, "ws"));
  const send = () => {
    if (stopping) return;
    const id = next++;
    started.set(String(id), performance.now());
    inflight++;
    ws.send(frameFor(id));
  };
  const finish = () => {
    if (stopping && started.size === 0) {
      ws.close();
      resolve();
    }
  };
  ws.onopen = () => {
    for (let i = 0; i < depth; i++) send();
  };
  ws.onmessage = (event) => {
    const frame = JSON.parse(String(event.data)) as { type: string; metadata: { eventId: string | null }; response?: unknown };
    const id = frame.metadata.eventId ?? "";
    const t0 = started.get(id);
    if (t0 === undefined) return;
    const error = frame.type === "universal.error";
    if (!error && frame.type !== "universal.done" && !(frame.type === "universal.created" && frame.response !== undefined)) return;
    started.delete(id);
    inflight--;
    record(t0, performance.now(), error ? 500 : 200);
    send();
    finish();
  };
  ws.onerror = () => fail("websocket error");
  ws.onclose = (event) => {
    if (!stopping) fail(`websocket closed ${event.code}`);
    resolve();
  };
  // The stop timer only sets a flag; close once the last answer is in.
  const poll = setInterval(() => {
    if (stopping) {
      clearInterval(poll);
      finish();
    }
  }, 50);
  return promise;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function report(hung: number) {
  const seconds = (tEnd - tStart) / 1000;
  const kept = samples.subarray(0, Math.min(n, CAP)).sort();
  const keptTtfb = ttfbSamples.subarray(0, ttfb ? Math.min(n, CAP) : 0).sort();
  const cpuUs = cpuEnd.user - cpuStart.user + (cpuEnd.system - cpuStart.system);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const out = {
    url,
    client: values.client,
    connections,
    seconds: round(seconds),
    n,
    total,
    rps: seconds > 0 ? Math.round((n / seconds) * 10) / 10 : 0,
    p50: round(percentile(kept, 50)),
    p90: round(percentile(kept, 90)),
    p99: round(percentile(kept, 99)),
    mean: n ? round(sum / n) : 0,
    max: round(max),
    ...(ttfb
      ? {
          ttfb_p50: round(percentile(keptTtfb, 50)),
          ttfb_p90: round(percentile(keptTtfb, 90)),
          ttfb_p99: round(percentile(keptTtfb, 99)),
          ttfb_mean: n ? round(ttfbSum / n) : 0,
        }
      : {}),
    errors: errors + hung,
    hung,
    statuses,
    errorSamples,
    ...(countHeader ? { headerCounts } : {}),
    ...(unique ? { unique: true } : {}),
    driverCpu: seconds > 0 ? Math.round((cpuUs / 1e6 / seconds) * 1000) / 1000 : 0,
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

setTimeout(() => {
  tStart = performance.now();
  cpuStart = process.cpuUsage();
  measuring = true;
}, warmupMs);
setTimeout(() => {
  tEnd = performance.now();
  cpuEnd = process.cpuUsage();
  measuring = false;
  stopping = true;
}, warmupMs + durationMs);
const watchdog = setTimeout(() => {
  report(inflight);
  process.exit(1);
}, warmupMs + durationMs + GRACE_MS);

const workers: Promise<void>[] = [];
const inflightPerSocket = Math.min(1024, Math.max(1, Math.floor(Number(values.inflight)) || 1));
for (let i = 0; i < connections; i++) {
  workers.push(values.client === "fetch" ? fetchWorker() : values.client === "ws" ? wsWorker(inflightPerSocket) : rawWorker());
}
await Promise.all(workers);
clearTimeout(watchdog);
report(0);
