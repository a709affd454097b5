/**
 * SHA-256 checksums with Bun's own hasher, written in the format `sha256sum -c` reads: one
 * `HEX  NAME` line per file (two spaces: text mode, which is byte-exact on every platform
 * sha256sum runs on).
 *
 * @example
 * const line = sumsLine(await sha256File("dist/release/switchboard-linux-x64"), "switchboard-linux-x64");
 * // "9f86d081…  switchboard-linux-x64"
 */

/** The SHA-256 of a file as lowercase hex, read as a stream (the binaries are ~100 MB). */
export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** One line of a SHA256SUMS file, without the newline. */
export function sumsLine(sha256: string, name: string): string {
  return `${sha256}  ${name}`;
}
