/**
 * A small seeded fuzzer for the hardening suite: the same seed gives the same values on every run
 * and machine, so a failure names its input and reproduces. Header values stay within what `fetch`
 * can send (tab, printable ASCII and Latin-1 obs-text); `anyValue` makes the JavaScript values a
 * config file can hold, hostile ones included.
 *
 * @example
 * const fuzz = new Fuzzer(seedOf("cf-aig-cache-ttl"));
 * const values = Array.from({ length: 200 }, () => fuzz.headerValue());
 */

/** A 32-bit seed from a name (FNV-1a), so each fuzzed thing has its own stable stream. */
export function seedOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
const LATIN1 = Array.from({ length: 96 }, (_, i) => String.fromCharCode(0xa0 + i)).join("") + "\t";
const DIGITS = "0123456789";

const NUMBERS = [
  "0", "1", "2", "4", "5", "6", "59", "60", "61", "299", "300", "4999", "5000", "5001", "86400000", "86400001", "2592000", "2592001",
  "2147483648", "9007199254740991", "9007199254740993", "1e21", "-1", "-0", "1.5", "1e3", "0x10", "0b11", "0o7", "1_000", "+7", "007",
  "Infinity", "-Infinity", "NaN", "null", "undefined", "1,2", "1 2", "½", "9".repeat(400),
];
const BOOLEANS = ["true", "false", "TRUE", "False", "1", "0", "yes", "no", "on", "off", "t", "tru", "true true", "truefalse"];
const HOSTILE = [
  "../../etc/passwd", "%0d%0aSet-Cookie: x=1", "' OR 1=1 --", "${jndi:ldap://127.0.0.1/x}", "<script>alert(1)</script>", "\\u0000",
  "{{7*7}}", "__proto__", "constructor", "Bearer", "Bearer ", "bearer x", "Basic dXNlcjpwYXNz", "Bearer \t x", "null", "[]", "{}",
  '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', "\t", "%", "%%", "%ZZ", "\\", "\"", "'", "`",
];

export class Fuzzer {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }

  /** mulberry32: a uniform float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  text(alphabet: string, min: number, max: number): string {
    const length = min + this.int(max - min + 1);
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }

  /** A header value `fetch` can send: numbers, booleans, JSON, hostile strings, random text, long runs. */
  headerValue(): string {
    switch (this.int(9)) {
      case 0:
        return this.pick(NUMBERS);
      case 1:
        return String(this.int(2_000_001) - 1_000_000);
      case 2:
        return this.pick(BOOLEANS);
      case 3:
        return JSON.stringify(this.jsonValue(3));
      case 4:
        return this.pick(HOSTILE);
      case 5:
        return this.text(PRINTABLE, 1, 64).trim() || "x";
      case 6:
        return this.text(PRINTABLE + LATIN1, 1, 200).trim() || "y";
      case 7:
        return this.pick(["a", "9", "{", "%", " ", "é"]).repeat(1 + this.int(8000)).trim() || "z";
      default:
        return `${this.text(DIGITS, 1, 4)}${this.pick(["", " ", "ms", "s", ".0", "e2", "x"])}`;
    }
  }

  /** A JSON value up to `depth` levels deep, with awkward keys and numbers. */
  jsonValue(depth: number): unknown {
    const kind = this.int(depth > 0 ? 8 : 5);
    switch (kind) {
      case 0:
        return this.text(PRINTABLE, 0, 30);
      case 1:
        return this.pick([0, -1, 1.5, 1e21, -0, 2 ** 53 + 1, 5, 60, 1e-7]);
      case 2:
        return this.chance(0.5);
      case 3:
        return null;
      case 4:
        return "x".repeat(this.int(300));
      case 5:
      case 6: {
        const out: Record<string, unknown> = {};
        const keys = this.int(8);
        for (let i = 0; i < keys; i++) out[this.pick(["user", "team", "cf.user", "__proto__", "constructor", "", "k".repeat(70), `k${i}`, "per_token_in", "per_token_out"])] = this.jsonValue(depth - 1);
        return out;
      }
      default:
        return Array.from({ length: this.int(5) }, () => this.jsonValue(depth - 1));
    }
  }

  /** Any value a config file could export in some position, hostile ones included. */
  anyValue(depth = 2): unknown {
    switch (this.int(depth > 0 ? 20 : 17)) {
      case 0:
        return undefined;
      case 1:
        return null;
      case 2:
        return this.pick([NaN, Infinity, -Infinity, -0, 1e308, -1, 0, 0.5, 2 ** 53 + 1, 65536, 70000]);
      case 3:
        return this.int(100_000) - 50;
      case 4:
        return this.pick(["", " ", "0", "true", "../../etc/passwd", ":memory:", "http://", "ftp://x", "http://127.0.0.1:1/v1", "not a url", "é".repeat(3)]);
      case 5:
        return this.text(PRINTABLE, 0, 40);
      case 6:
        return this.chance(0.5);
      case 7:
        return () => "a function";
      case 8:
        return Symbol("s");
      case 9:
        return BigInt(7);
      case 10:
        return new Date(Number.NaN);
      case 11:
        return /re/g;
      case 12:
        return new Map([["a", 1]]);
      case 13:
        return [];
      case 14:
        return {};
      case 15:
        return this.pick(["auth", "cache", "logging", "nope", "", "fallback"]);
      case 16:
        return "x".repeat(this.int(5000));
      case 17:
      case 18:
        return Array.from({ length: 1 + this.int(4) }, () => this.anyValue(depth - 1));
      default: {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < 1 + this.int(4); i++) out[this.pick(["a", "__proto__", "constructor", "baseUrl", "apiKey", "ttl", "limit", "default", "x".repeat(200)])] = this.anyValue(depth - 1);
        return out;
      }
    }
  }
}
