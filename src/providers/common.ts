/** Small pieces every provider module shares: reading the body's model, writing a bearer key. */

/** `body.model` when the JSON body names one as a string. */
export function bodyModel(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  const model = (body as Record<string, unknown>).model;
  return typeof model === "string" && model !== "" ? model : null;
}

/** Writes `Authorization: Bearer <key>`. */
export function setBearer(headers: Headers, key: string): void {
  headers.set("authorization", `Bearer ${key}`);
}
