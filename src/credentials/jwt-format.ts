import { ServiceError } from "../errors.js";

const maxTokenBytes = 8192;
const base64UrlSegment = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Checks that `token` looks like a signed JWT, without checking the
 * signature: at most 8192 bytes, three non-empty unpadded base64url
 * segments, a header that is a JSON object with a string `alg` other than
 * `none` (any case), and a payload that is a JSON object. Throws ServiceError
 * `INVALID_JWT_FORMAT` otherwise, and `TOKEN_EXPIRED` when the payload has a
 * numeric `exp` (seconds) at or before `nowMs`. Returns the expiry, if any,
 * in milliseconds. Messages never quote the token.
 */
export function checkJwtFormat(token: string, nowMs: number): { expiresAtMs?: number } {
  if (Buffer.byteLength(token, "utf8") > maxTokenBytes) {
    throw invalid(`jwt_token is longer than ${maxTokenBytes} bytes`);
  }
  const segments = token.split(".");
  const [header, payload, signature] = segments;
  if (segments.length !== 3 || header === undefined || payload === undefined || !signature) {
    throw invalid("jwt_token must have three dot-separated segments");
  }
  if (!segments.every(isBase64UrlSegment)) {
    throw invalid("jwt_token segments must be unpadded base64url");
  }
  const alg = decodeObject(header, "header").alg;
  if (typeof alg !== "string" || alg === "" || alg.toLowerCase() === "none") {
    throw invalid("jwt_token header must name a signing algorithm");
  }
  const exp = decodeObject(payload, "payload").exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) return {};
  const expiresAtMs = exp * 1000;
  if (expiresAtMs <= nowMs) {
    throw new ServiceError("TOKEN_EXPIRED", "jwt_token has expired");
  }
  return { expiresAtMs };
}

function isBase64UrlSegment(segment: string): boolean {
  // A length of 4n+1 cannot come from encoding whole bytes.
  return base64UrlSegment.test(segment) && segment.length % 4 !== 1;
}

function decodeObject(segment: string, part: string): Record<string, unknown> {
  let value: unknown;
  let text: string;
  try {
    text = utf8.decode(Buffer.from(segment, "base64url"));
    value = JSON.parse(text);
  } catch {
    throw invalid(`jwt_token ${part} is not JSON`);
  }
  // A leading `{` fixes the token's first characters to `ew`/`ey`, the shape
  // the log redactor recognizes as a JWT.
  if (!text.startsWith("{")) throw invalid(`jwt_token ${part} is not a JSON object`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`jwt_token ${part} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function invalid(message: string): ServiceError {
  return new ServiceError("INVALID_JWT_FORMAT", message);
}
