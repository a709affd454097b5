/**
 * What the guardrails look for. Each detector is a candidate regex plus, where a regex alone would
 * match too much, a check on the candidate (Luhn, mod-97, digit counts). Detectors only find spans;
 * rules.ts decides what to do with them.
 */

/** A span of text a detector matched. */
export interface Span {
  start: number;
  end: number;
}

export type DetectorName = "email" | "phone" | "card" | "iban" | "api-key";

export interface Detector {
  find(text: string): Span[];
}

/** Runs `pattern` (global) over `text`, keeping the candidates `accept` turns into spans. */
function scan(text: string, pattern: RegExp, accept: (match: string, start: number) => Span | null = (m, s) => ({ start: s, end: s + m.length })): Span[] {
  const spans: Span[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[0].length === 0) {
      pattern.lastIndex++;
      continue;
    }
    const span = accept(m[0], m.index);
    if (span) spans.push(span);
  }
  return spans;
}

/** local@domain.tld — the local part as RFC 5322 "atext" minus the rare symbols, a TLD of 2+ letters. */
const EMAIL = /(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])/g;

/**
 * Phone numbers: an optional `+`, then digits in groups separated by one space, dot or dash, a
 * group possibly in parentheses. A candidate counts when it has 8–15 digits (E.164's maximum), and
 * - it starts with `+` or `(`, or it has at least three digit groups (`555 123 4567`), so a bare
 *   run of digits (an order id, a timestamp) or a decimal number (`3.14159265`) is not a phone;
 * - at most one group is a single digit (`1 2 3 4 5 6 7 8` is a list, `+1 415 555 0100` a phone);
 * - it is not a date (`2024-01-15`, `15.01.2024`) nor an IPv4 address (`192.168.100.200`).
 */
// Separators are mandatory between digit groups: `(\d+[ .-]?)*` would backtrack exponentially on long digit runs.
const PHONE = /(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d+(?:[ .-]\d+)*(?!\w)/g;
const DATE = /^(?:\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2\d{4})$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function isPhone(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, "").length;
  if (digits < 8 || digits > 15) return false;
  const groups = candidate.split(/\D+/).filter(Boolean);
  if (groups.filter((g) => g.length === 1).length > 1) return false;
  if (!candidate.startsWith("+") && !candidate.startsWith("(") && groups.length < 3) return false;
  return !DATE.test(candidate) && !IPV4.test(candidate);
}

/** 13–19 digits, single spaces or dashes between them allowed, not part of a longer digit run. */
const CARD = /(?<!\d[ -]?)\d(?:[ -]?\d){12,18}(?![ -]?\d)/g;

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Two letters, two check digits, 11–30 letters or digits, optionally in groups split by single spaces. */
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])/g;

/** ISO 13616: the rearranged IBAN, letters as 10–35, is 1 modulo 97. */
export function ibanChecksumOk(compact: string): boolean {
  if (compact.length < 15 || compact.length > 34) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rest = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const digit of value) rest = (rest * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return rest === 1;
}

/** The longest prefix of a candidate that is a valid IBAN (a trailing word in capitals may have been swallowed). */
function ibanSpan(candidate: string, start: number): Span | null {
  for (let end = candidate.length; end >= 15; end--) {
    if (candidate[end - 1] === " ") continue;
    if (end < candidate.length && candidate[end] !== " ") continue;
    if (ibanChecksumOk(candidate.slice(0, end).replaceAll(" ", ""))) return { start, end: start + end };
  }
  return null;
}

/**
 * Key shapes of the common providers (the list the README documents):
 * OpenAI `sk-…`, `sk-proj-…` and Anthropic `sk-ant-…` (20+ characters after the prefix);
 * AWS access key ids `AKIA…` / `ASIA…` (16 more); GitHub `ghp_ gho_ ghu_ ghs_ ghr_` (36+) and
 * `github_pat_…`; Slack `xoxa- xoxb- xoxp- xoxo- xoxr- xoxs-`; Google `AIza…` (35 more);
 * Stripe `sk_live_ sk_test_ rk_live_ rk_test_`.
 */
const API_KEY = new RegExp(
  "(?<![A-Za-z0-9_-])(?:" +
    [
      "sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
      "(?:AKIA|ASIA)[0-9A-Z]{16}",
      "gh[pousr]_[A-Za-z0-9]{36,}",
      "github_pat_[A-Za-z0-9_]{22,}",
      "xox[aboprs]-[A-Za-z0-9-]{10,}",
      "AIza[0-9A-Za-z_-]{35}",
      "[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
    ].join("|") +
    ")(?![A-Za-z0-9_-])",
  "g",
);

export const detectors: Record<DetectorName, Detector> = {
  email: { find: (text) => scan(text, EMAIL) },
  phone: { find: (text) => scan(text, PHONE, (m, s) => (isPhone(m) ? { start: s, end: s + m.length } : null)) },
  card: { find: (text) => scan(text, CARD, (m, s) => (luhn(m.replace(/\D/g, "")) ? { start: s, end: s + m.length } : null)) },
  iban: { find: (text) => scan(text, IBAN, ibanSpan) },
  "api-key": { find: (text) => scan(text, API_KEY) },
};

/** A deny-list regex from the config; `g` is added, `flags` may add `i`, `m`, `s`, `u`. */
export function regexDetector(source: string, flags = ""): Detector {
  const pattern = new RegExp(source, `${flags.replaceAll("g", "")}g`);
  return { find: (text) => scan(text, pattern) };
}

/** Whole words or phrases, case-insensitive, on Unicode word boundaries (`cat` does not match `category`). */
export function keywordDetector(keywords: string[]): Detector {
  const words = keywords.filter((k) => k.length > 0).map((k) => k.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
  if (words.length === 0) return { find: () => [] };
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.join("|")})(?![\\p{L}\\p{N}_])`, "giu");
  return { find: (text) => scan(text, pattern) };
}
