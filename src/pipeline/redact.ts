/**
 * What the gateway's own output (stderr, error messages) may say about an error: its name, message
 * and stack, with every URL's query string and fragment cut (a Google key travels as `?key=…`).
 * Header values never reach it: nothing in the gateway puts them into an error message.
 */

/** Any query string or fragment after a URL-looking token, up to the next space or quote. */
const URL_TAIL = /((?:[a-z][a-z0-9+.-]*:\/\/|\/)[^\s?#"'`]*)[?#][^\s"'`]*/gi;

/** `text` with every URL's query string and fragment replaced by `?…`. */
export function redactUrls(text: string): string {
  return text.replace(URL_TAIL, "$1?…");
}

/** One printable description of anything thrown: name, message and stack (causes included), URLs redacted. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return redactUrls(String(error));
  let text = error.stack ?? `${error.name}: ${error.message}`;
  if (!text.includes(error.message)) text = `${error.name}: ${error.message}\n${text}`;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") text = `[${code}] ${text}`;
  if (error.cause !== undefined && error.cause !== error) text += `\ncaused by: ${describeError(error.cause)}`;
  return redactUrls(text);
}
