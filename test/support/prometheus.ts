/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: every line must be a
 * `# HELP`, a `# TYPE` or a sample of the family declared just before it; label values may only use
 * the three escapes; each family is one contiguous group; no sample repeats; histograms are
 * consistent (`le` ascending, cumulative counts non-decreasing, `+Inf` present and equal to `_count`,
 * `_sum` present). Anything else throws, naming the line.
 *
 * @example
 * const scrape = parseExposition(await res.text());
 * scrape.value("switchboard_requests_total", { gateway: "default", status: "2xx" }); // sum of matching samples
 */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

export interface HistogramSeries {
  labels: Record<string, string>;
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export interface Exposition {
  families: Map<string, Family>;
  /** Sum of the samples named `name` whose labels include every one of `labels`. */
  value(name: string, labels?: Record<string, string>): number;
  /** The samples named `name` whose labels include every one of `labels`. */
  samples(name: string, labels?: Record<string, string>): Sample[];
  /** A histogram family's series, `le` removed from their labels. */
  histograms(family: string, labels?: Record<string, string>): HistogramSeries[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseFloatStrict(text: string, line: number): number {
  if (!FLOAT.test(text)) throw new Error(`line ${line}: "${text}" is not a number`);
  if (text.endsWith("Inf")) return text.startsWith("-") ? -Infinity : Infinity;
  return Number(text);
}

/** Parses `{a="x",b="y"} rest` from `text` at `start` (just after the name); returns the labels and where the rest begins. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  if (text[start] !== "{") return { labels, end: start };
  let i = start + 1;
  const fail = (why: string): never => {
    throw new Error(`line ${line}: ${why} at column ${i + 1}`);
  };
  while (text[i] !== "}") {
    const eq = text.indexOf("=", i);
    if (eq < 0) fail("a label without '='");
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name "${name}"`);
    if (name in labels) fail(`label "${name}" repeated`);
    i = eq + 1;
    if (text[i] !== '"') fail("a label value must be quoted");
    i++;
    let value = "";
    for (;;) {
      const c = text[i];
      if (c === undefined) fail("unterminated label value");
      if (c === '"') break;
      if (c === "\n") fail("a raw line feed in a label value");
      if (c === "\\") {
        const next = text[i + 1];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else fail(`bad escape "\\${next}"`);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    labels[name] = value;
    i++;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail("expected ',' or '}'");
  }
  return { labels, end: i + 1 };
}

/** The family a sample name belongs to, given the declared families (histogram suffixes resolved). */
function familyOf(name: string, families: Map<string, Family>): { family: Family; suffix: string } | null {
  const exact = families.get(name);
  if (exact && exact.type !== "histogram" && exact.type !== "summary") return { family: exact, suffix: "" };
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const family = families.get(name.slice(0, -suffix.length));
    if (family && (family.type === "histogram" || (family.type === "summary" && suffix !== "_bucket"))) return { family, suffix };
  }
  return null;
}

const includes = (labels: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => labels[k] === v);

export function parseExposition(text: string): Exposition {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | null = null;
  const seen = new Set<string>();
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
      if (closed.has(name)) throw new Error(`line ${line}: family ${name} appears in two groups`);
      let family = families.get(name);
      if (current && current.name !== name) closed.add(current.name);
      if (!family) {
        family = { name, type: "untyped", help: null, samples: [] };
        families.set(name, family);
      }
      if (family.samples.length > 0) throw new Error(`line ${line}: ${kind} of ${name} after its samples`);
      if (kind === "HELP") {
        if (family.help !== null) throw new Error(`line ${line}: second HELP for ${name}`);
        if (rest.replace(/\\[\\n]/g, "").includes("\\")) throw new Error(`line ${line}: bad escape in HELP`);
        family.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"));
      } else {
        if (!TYPES.has(rest as MetricType)) throw new Error(`line ${line}: bad type "${rest}"`);
        if ((family as Family & { typed?: boolean }).typed) throw new Error(`line ${line}: second TYPE for ${name}`);
        family.type = rest as MetricType;
        (family as Family & { typed?: boolean }).typed = true;
      }
      current = family;
      return;
    }
    if (raw.startsWith("#")) throw new Error(`line ${line}: a comment that is neither HELP nor TYPE: ${raw}`);
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`line ${line}: not a sample: ${raw}`);
    const name = raw.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
    const { labels, end } = parseLabels(raw, nameEnd, line);
    const rest = raw.slice(end);
    const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (!valueMatch) throw new Error(`line ${line}: expected " value [timestamp]" after the labels, got "${rest}"`);
    const value = parseFloatStrict(valueMatch[1], line);
    const owner = familyOf(name, families);
    if (!owner || owner.family !== current) throw new Error(`line ${line}: sample ${name} outside its family's group (TYPE it first)`);
    if (owner.suffix === "_bucket" && !("le" in labels)) throw new Error(`line ${line}: a bucket without le`);
    if (owner.suffix !== "_bucket" && "le" in labels && owner.family.type === "histogram") throw new Error(`line ${line}: le on ${name}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`line ${line}: duplicate sample ${raw}`);
    seen.add(key);
    owner.family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);

  const samples = (name: string, want: Record<string, string> = {}) => {
    const owner = familyOf(name, families);
    return (owner?.family.samples ?? []).filter((s) => s.name === name && includes(s.labels, want));
  };
  return {
    families,
    samples,
    value: (name, want) => samples(name, want).reduce((sum, s) => sum + s.value, 0),
    histograms: (name, want = {}) => histogramSeries(families.get(name)!).filter((h) => includes(h.labels, want)),
  };
}

function histogramSeries(family: Family): HistogramSeries[] {
  const byLabels = new Map<string, HistogramSeries>();
  for (const sample of family.samples) {
    const { le, ...labels } = sample.labels;
    const key = JSON.stringify(Object.entries(labels).sort());
    let series = byLabels.get(key);
    if (!series) byLabels.set(key, (series = { labels, buckets: [], sum: Number.NaN, count: Number.NaN }));
    if (sample.name.endsWith("_bucket")) series.buckets.push({ le: parseFloatStrict(le, 0), count: sample.value });
    else if (sample.name.endsWith("_sum")) series.sum = sample.value;
    else series.count = sample.value;
  }
  return [...byLabels.values()];
}

function checkHistogram(family: Family): void {
  for (const series of histogramSeries(family)) {
    const where = `${family.name}${JSON.stringify(series.labels)}`;
    if (Number.isNaN(series.sum) || Number.isNaN(series.count)) throw new Error(`${where}: _sum or _count missing`);
    const { buckets } = series;
    if (buckets.length === 0 || buckets.at(-1)!.le !== Infinity) throw new Error(`${where}: the last bucket must be le="+Inf"`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i].le > buckets[i - 1].le)) throw new Error(`${where}: le not ascending`);
      if (buckets[i].count < buckets[i - 1].count) throw new Error(`${where}: bucket counts decrease`);
    }
    if (buckets.at(-1)!.count !== series.count) throw new Error(`${where}: +Inf bucket ${buckets.at(-1)!.count} != _count ${series.count}`);
  }
}
