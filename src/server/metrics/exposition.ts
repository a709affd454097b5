/**
 * The Prometheus text exposition format, version 0.0.4: `# HELP`, `# TYPE`, then samples
 * `name{label="value",…} number`, one per line, the body ending with a newline.
 */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram";

/** A label value escaped as the format requires: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : "\\n"));
}

/** `a="x",b="y"` (the inside of the braces) from label names and values, in that order. */
export function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(",");
}

/** A sample value: Prometheus reads Go's float syntax, which takes JavaScript's `String(number)` except for the infinities. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

/** Writes one exposition: each metric's HELP and TYPE once, then its samples. */
export class ExpositionWriter {
  readonly #lines: string[] = [];

  metric(name: string, type: MetricType, help: string): this {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** `labels` is already rendered by {@link labelText} (series keep theirs, so a scrape does not re-escape them). */
  sample(name: string, labels: string, value: number): this {
    this.#lines.push(`${name}${labels === "" ? "" : `{${labels}}`} ${formatValue(value)}`);
    return this;
  }

  /** The `_bucket` (cumulative, then `+Inf`), `_sum` and `_count` samples of one histogram series. */
  histogram(name: string, labels: string, bounds: readonly number[], cumulative: readonly number[], sum: number): this {
    const prefix = labels === "" ? "" : `${labels},`;
    for (let i = 0; i < bounds.length; i++) this.#lines.push(`${name}_bucket{${prefix}le="${formatValue(bounds[i])}"} ${cumulative[i]}`);
    const count = cumulative[bounds.length];
    this.#lines.push(`${name}_bucket{${prefix}le="+Inf"} ${count}`);
    const braces = labels === "" ? "" : `{${labels}}`;
    this.#lines.push(`${name}_sum${braces} ${formatValue(sum)}`, `${name}_count${braces} ${count}`);
    return this;
  }

  text(): string {
    return this.#lines.length === 0 ? "" : `${this.#lines.join("\n")}\n`;
  }
}
