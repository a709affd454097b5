/**
 * A real disk that fills up: a small tmpfs mounted on a fresh temp folder (needs root, or a kernel that
 * lets this user mount tmpfs). `fill()` writes a filler file until the kernel answers ENOSPC, so every
 * write after it fails as on a full production volume; `free()` deletes the filler.
 *
 * @example
 * await using disk = mountSmallDisk(16 * 1024 * 1024);
 * if (!disk) return; // mounting is not permitted here
 * disk.fill();       // SQLite now fails with SQLITE_FULL
 * disk.free();
 */
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallDisk extends AsyncDisposable {
  /** The mount point. */
  path: string;
  /** Writes a filler file until no byte is left. */
  fill(): void;
  /** Deletes the filler file. */
  free(): void;
}

/** Mount points not yet unmounted, for {@link unmountAll}. */
const mounted = new Set<string>();

/** Whether this process may mount a tmpfs (tried once, on a scratch folder). */
export const canMountTmpfs: boolean = (() => {
  const disk = mountSmallDisk(1024 * 1024);
  if (!disk) return false;
  unmount(disk.path);
  return true;
})();

/** Mounts a tmpfs of `bytes` on a new temp folder; null when mounting is not permitted. Unmounted on dispose. */
export function mountSmallDisk(bytes: number): SmallDisk | null {
  const path = mkdtempSync(join(tmpdir(), "switchboard-disk-"));
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", path], { stdout: "ignore", stderr: "ignore" });
  if (mount.exitCode !== 0) {
    rmdirSync(path);
    return null;
  }
  mounted.add(path);
  const filler = join(path, "filler");
  return {
    path,
    fill() {
      const fd = openSync(filler, "a");
      try {
        for (const size of [1024 * 1024, 64 * 1024, 4096, 1]) {
          const chunk = new Uint8Array(size);
          while (tryWrite(fd, chunk));
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    async [Symbol.asyncDispose]() {
      unmount(path);
    },
  };
}

function tryWrite(fd: number, chunk: Uint8Array): boolean {
  try {
    return writeSync(fd, chunk) === chunk.byteLength;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOSPC") return false;
    throw error;
  }
}

/** Unmounts every disk still mounted: for `afterAll`, in case a failing test never reached its `await using` cleanup. */
export function unmountAll(): void {
  for (const path of mounted) unmount(path);
}

function unmount(path: string): void {
  if (!mounted.delete(path)) return;
  // Lazy: a file a test forgot to close must not leave the mount behind.
  Bun.spawnSync(["umount", "-l", path], { stdout: "ignore", stderr: "ignore" });
  rmdirSync(path);
}
