/** Aligned plain-text tables for the CLI's listings. */

/** Which side a column's cells are padded on: numbers line up on the right. */
export type Align = "left" | "right";

/** The width of each column: its longest cell, at least `min[column]`. */
export function columnWidths(rows: readonly (readonly string[])[], min: readonly number[] = []): number[] {
  return rows[0].map((_, column) => Math.max(min[column] ?? 0, ...rows.map((row) => row[column].length)));
}

/** One row padded to `widths`, two spaces between columns, no trailing blanks. */
export function formatRow(row: readonly string[], widths: readonly number[], align: readonly Align[] = []): string {
  return row
    .map((cell, column) => (align[column] === "right" ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
    .join("  ")
    .trimEnd();
}

/**
 * Rows (the first is the header) as aligned text.
 * @example table([["MODEL", "REQUESTS"], ["gpt-4o-mini", "12"]], ["left", "right"])
 */
export function table(rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = columnWidths(rows);
  return rows.map((row) => formatRow(row, widths, align)).join("\n");
}
