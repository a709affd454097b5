/**
 * The string values of a JSON text, found where they are, so a redaction rewrites only the strings
 * it changes and leaves every other byte of the body as the client sent it.
 */

/** One string value (never a key) of a JSON text. */
export interface JsonString {
  /** Offsets of the quoted token in the text, quotes included. */
  start: number;
  end: number;
  value: string;
  /** The nearest object key above the value: `content` for `{"content":"hi"}` and `{"content":["hi"]}`; null at the top. */
  key: string | null;
}

/**
 * Every string value of `text`, which must be valid JSON (the caller parsed it already), in order.
 * `{walk}` visits the same strings with the same keys on the parsed value.
 */
export function jsonStrings(text: string): JsonString[] {
  const out: JsonString[] = [];
  // One frame per open container: its key (objects update it per entry) and whether a key comes next.
  const stack: { object: boolean; key: string | null; expectKey: boolean }[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const raw = text.slice(i, j + 1);
      const top = stack.at(-1);
      if (top?.object && top.expectKey) {
        top.key = JSON.parse(raw) as string;
        top.expectKey = false;
      } else {
        out.push({ start: i, end: j + 1, value: JSON.parse(raw) as string, key: top?.key ?? null });
      }
      i = j + 1;
      continue;
    }
    if (ch === "{" || ch === "[") stack.push({ object: ch === "{", key: stack.at(-1)?.key ?? null, expectKey: ch === "{" });
    else if (ch === "}" || ch === "]") stack.pop();
    else if (ch === ",") {
      const top = stack.at(-1);
      if (top?.object) top.expectKey = true;
    }
    i++;
  }
  return out;
}

/** `text` with the strings in `changes` (same order as `jsonStrings` gave them) re-encoded with their new values. */
export function rewriteStrings(text: string, changes: { string: JsonString; value: string }[]): string {
  let out = "";
  let at = 0;
  for (const { string, value } of changes) {
    out += text.slice(at, string.start) + JSON.stringify(value);
    at = string.end;
  }
  return out + text.slice(at);
}

/**
 * Replaces, in place, each string value of a parsed JSON value by `map(value, key)`, visiting the
 * same strings with the same keys as {@link jsonStrings} does on its text.
 */
export function walkStrings(value: unknown, map: (value: string, key: string | null) => string, key: string | null = null): void {
  // An explicit stack of frames, not recursion: a body nested 100,000 deep must not overflow the call
  // stack. Each frame resumes where it left off, so strings are visited in document order.
  type Frame = { container: Record<string | number, unknown>; keys: (string | number)[]; at: number; key: string | null };
  const frameOf = (node: unknown, nodeKey: string | null): Frame | null => {
    if (typeof node !== "object" || node === null) return null;
    const keys = Array.isArray(node) ? Array.from(node.keys()) : Object.keys(node);
    return { container: node as Record<string | number, unknown>, keys, at: 0, key: nodeKey };
  };
  const root = frameOf(value, key);
  const stack: Frame[] = root ? [root] : [];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.at === frame.keys.length) {
      stack.pop();
      continue;
    }
    const k = frame.keys[frame.at++];
    const itemKey = typeof k === "number" ? frame.key : k;
    const item = frame.container[k];
    if (typeof item === "string") frame.container[k] = map(item, itemKey);
    else {
      const child = frameOf(item, itemKey);
      if (child) stack.push(child);
    }
  }
}
