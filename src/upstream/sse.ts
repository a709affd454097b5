/**
 * Incremental Server-Sent Events parser: feed it chunks as they pass, it calls `onEvent` for each
 * complete event. It never holds more than one partial event.
 */
export class SseParser {
  #decoder = new TextDecoder();
  #buffer = "";
  #event: string | null = null;
  #data: string[] = [];

  constructor(private readonly onEvent: (event: string | null, data: string) => void) {}

  feed(chunk: Uint8Array): void {
    this.#buffer += this.#decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const newline = this.#buffer.indexOf("\n", start);
      if (newline === -1) break;
      let line = this.#buffer.slice(start, newline);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      start = newline + 1;
      this.#line(line);
    }
    this.#buffer = this.#buffer.slice(start);
  }

  /** Dispatches a final event that was not followed by a blank line. */
  end(): void {
    if (this.#buffer) this.#line(this.#buffer);
    this.#buffer = "";
    this.#line("");
  }

  #line(line: string): void {
    if (line === "") {
      // An event whose data is empty (a lone `data:`) is not dispatched (WHATWG HTML, "dispatch the event").
      const data = this.#data.join("\n");
      if (data !== "") this.onEvent(this.#event, data);
      this.#event = null;
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
  }
}
