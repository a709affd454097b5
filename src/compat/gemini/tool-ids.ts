/**
 * Ids of the tool calls Gemini makes. Gemini names none, so the gateway makes one per call. A call
 * that carries a `thoughtSignature` (thinking models; Gemini 3 refuses a function-calling turn sent
 * back without it) keeps the signature inside its id, after `.sig.`: the OpenAI shape has no other
 * place for it, and clients send the id back unchanged with the tool's answer.
 */
const SIGNED = ".sig.";

/** A new tool-call id, carrying `signature` when there is one. */
export function toolCallId(signature?: string | null): string {
  const id = `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  return signature ? `${id}${SIGNED}${signature}` : id;
}

/** The thought signature a tool-call id carries, or null. */
export function signatureOf(id: string): string | null {
  const at = id.indexOf(SIGNED);
  return at === -1 || !id.startsWith("call_") ? null : id.slice(at + SIGNED.length) || null;
}
