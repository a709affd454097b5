/**
 * The log writer thread: a Worker with its own connection to the SQLite file, so the inserts,
 * checkpoints and retention of the log store never block the request thread. `LogWriterThread`
 * (log-writer-thread.ts) starts it and is the only thing that talks to it; `LogWriter`
 * (log-writes.ts) does the work.
 *
 * The compiled binary only contains the workers it is told about: `bun run build` lists this file
 * as a second entrypoint, and `defaultEntry` (log-writer-thread.ts) finds it in the binary by its path
 * under src/. Change both when moving or renaming it.
 */
import type { Database } from "bun:sqlite";
import { openDatabase } from "./db.ts";
import { serializeError, type WriterReply, type WriterRequest } from "./log-messages.ts";
import { LogWriter } from "./log-writes.ts";

declare const self: Worker;

let db: Database | null = null;
let writer: LogWriter | null = null;
const reply = (message: WriterReply) => self.postMessage(message);

self.onmessage = function logWriterMessage(event: MessageEvent<WriterRequest>) {
  const request = event.data;
  if (request.kind === "open") {
    try {
      db = openDatabase(request.path);
      writer = new LogWriter(db, reply, request.pruneIntervalMs);
      reply({ kind: "done", seq: request.seq, value: 0 });
    } catch (error) {
      reply({ kind: "error", message: `the log writer thread could not open ${request.path}`, error: serializeError(error) });
      // Exiting is how the request thread learns that this thread is of no use (see onClose there).
      process.exit(1);
    }
    return;
  }
  if (!writer) {
    reply({ kind: "failed", seq: request.seq, error: serializeError(new Error("the log writer thread has no database open")) });
    return;
  }
  writer.handle(request);
  if (request.kind === "close") db?.close();
};
