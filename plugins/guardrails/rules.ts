import { ErrorCode, type GuardrailRule } from "switchboard";
import { detectors, keywordDetector, regexDetector, type Detector, type Span } from "./detectors.ts";

export type Side = "prompt" | "answer";
export type Action = "block" | "redact" | "flag";

/** One config rule, ready to run. */
export interface CompiledRule {
  name: string;
  action: Action;
  /** Built-in detectors are DLP-like (2029 / 2030 when they block); regex and keywords are deny-lists (2016 / 2017). */
  kind: "detector" | "deny-list";
  prompt: boolean;
  answer: boolean;
  detector: Detector;
}

/** A span one rule matched. */
export interface Hit extends Span {
  rule: CompiledRule;
}

/**
 * Compiles a gateway's `guardrails.rules`. Throws on a regex that does not compile, naming the rule
 * by its path (`gateways.<id>.guardrails.rules[2]`), never its text.
 */
export function compileRules(rules: GuardrailRule[], path: string): CompiledRule[] {
  return rules.map((rule, i) => {
    const on = rule.on ?? "prompt";
    const base = { action: rule.action, prompt: on !== "answer", answer: on !== "prompt" };
    const detect = rule.detect;
    if (typeof detect === "string") return { ...base, name: rule.name ?? detect, kind: "detector", detector: detectors[detect] };
    if ("regex" in detect) {
      let detector: Detector;
      try {
        detector = regexDetector(detect.regex, detect.flags);
      } catch (error) {
        throw new Error(`${path}.rules[${i}].detect.regex does not compile: ${(error as Error).message}`);
      }
      return { ...base, name: rule.name ?? "regex", kind: "deny-list", detector };
    }
    return { ...base, name: rule.name ?? "keywords", kind: "deny-list", detector: keywordDetector(detect.keywords) };
  });
}

/** Every span the rules match in `text`, by start. */
export function findHits(rules: CompiledRule[], text: string): Hit[] {
  const hits: Hit[] = [];
  for (const rule of rules) for (const span of rule.detector.find(text)) hits.push({ ...span, rule });
  return hits.sort((a, b) => a.start - b.start || b.end - a.end);
}

/** The marker a redacted span becomes. */
export const marker = (rule: CompiledRule) => `[REDACTED:${rule.name}]`;

/**
 * `text` with the redact hits replaced by their markers; overlapping hits merge into one span named
 * after the first.
 */
export function redactText(text: string, hits: Hit[]): string {
  let out = "";
  let at = 0;
  for (const span of mergeSpans(hits.filter((h) => h.rule.action === "redact"))) {
    out += text.slice(at, span.start) + marker(span.rule);
    at = span.end;
  }
  return at === 0 ? text : out + text.slice(at);
}

/** Sorted hits folded into disjoint spans. */
export function mergeSpans(hits: Hit[]): Hit[] {
  const merged: Hit[] = [];
  for (const hit of hits) {
    const last = merged.at(-1);
    if (last && hit.start < last.end) last.end = Math.max(last.end, hit.end);
    else merged.push({ ...hit });
  }
  return merged;
}

/** The refusal for a block rule: Cloudflare's codes, 424. */
export function blockError(rule: CompiledRule, side: Side): { status: number; code: number; message: string } {
  const dlp = rule.kind === "detector";
  const code =
    side === "prompt" ? (dlp ? ErrorCode.PromptBlockedDlp : ErrorCode.PromptBlocked) : dlp ? ErrorCode.AnswerBlockedDlp : ErrorCode.AnswerBlocked;
  const what = side === "prompt" ? (dlp ? "Request content blocked due to DLP policy violations" : "Prompt blocked due to security configurations") : dlp ? "Response content blocked due to DLP policy violations" : "Response blocked due to security configurations";
  return { status: 424, code, message: `${what} (guardrail rule "${rule.name}")` };
}
