import { randomBytes } from "node:crypto";

/** The header of an ordinary HS256 token: `{"alg":"HS256","typ":"JWT"}`. */
export const hs256Header = { alg: "HS256", typ: "JWT" } as const;

/** base64url (no padding) of the UTF-8 bytes of `text`, as JWT segments are encoded. */
export function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

/** base64url of the JSON of `value`; a string becomes a JSON string segment (`"text"`). */
export function segment(value: unknown): string {
  return base64url(JSON.stringify(value));
}

/** A random signature segment: 32 random bytes, base64url. */
export function randomSignature(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * A JWT-shaped token `header.payload.signature`, never really signed. A
 * string header or payload is encoded as its own text (to build malformed
 * JSON or exact spacing); anything else as its JSON.
 */
export function jwtFrom(header: unknown, payload: unknown, signature = randomSignature()): string {
  const encode = (part: unknown) => (typeof part === "string" ? base64url(part) : segment(part));
  return `${encode(header)}.${encode(payload)}.${signature}`;
}
