/**
 * The real log writer thread, made to die: with a `<db>.crash-once` file next to the database it
 * exits on its first batch and removes the file (so its replacement works); with `<db>.crash-always`
 * it exits on every batch.
 */
import { existsSync, rmSync } from "node:fs";
import type { WriterRequest } from "../../src/store/sqlite/log-messages.ts";
import "../../src/store/sqlite/log-writer.ts";

declare const self: Worker;

const real = self.onmessage!;
let path = "";
self.onmessage = function crashingWriter(event: MessageEvent<WriterRequest>) {
  if (event.data.kind === "open") path = event.data.path;
  if (event.data.kind === "batch") {
    if (existsSync(`${path}.crash-always`)) process.exit(7);
    if (existsSync(`${path}.crash-once`)) {
      rmSync(`${path}.crash-once`);
      process.exit(7);
    }
  }
  real.call(self, event);
};
