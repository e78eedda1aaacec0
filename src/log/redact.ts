/** What every masked secret is replaced with. */
export const redactedText = "[REDACTED]";

/** Object keys whose values are always masked, wherever they occur. */
export const sensitiveKeyPattern = /token|authorization|password|secret|jwt|cookie|api[-_]?key/i;

// A JWS has three base64url segments, a JWE five. A JSON object header starts
// with `{` and then a quote or whitespace, which base64url-encode to `ey`/`ew`.
// A header followed by at least one dot is enough: a line cut in the middle of
// a token must not leave its payload or signature in clear.
const jwtPattern = /\be[wy][\w-]{8,}=*(?:\.[\w-]*=*){1,4}/g;
// Stops at quotes, backslashes and separators so surrounding JSON or prose survives.
const bearerPattern = /\b(bearer)\s+[^\s"'`\\,;]+/gi;
const urlQueryPattern = /(\bhttps?:\/\/[^\s"'`\\?]*)\?[^\s"'`\\]*/gi;
const urlPasswordPattern = /(\bhttps?:\/\/[^\s"'`\\/@:]+):[^\s"'`\\/@]+@/gi;
const maxDepth = 10;

/**
 * Replaces every occurrence of each of `secrets` (known values, whatever
 * their shape) in `text` with `replacement`; empty secrets are skipped.
 */
export function maskSecrets(
  text: string,
  secrets: readonly string[],
  replacement: string = redactedText,
): string {
  let masked = text;
  for (const secret of secrets) {
    if (secret.length > 0 && masked.includes(secret))
      masked = masked.split(secret).join(replacement);
  }
  return masked;
}

/**
 * Masks secrets inside free text: JWT-shaped strings, whatever follows
 * `Bearer `, the query string of an http(s) URL (`?[REDACTED]`) and the
 * password of a URL's userinfo. Everything else is kept. Idempotent.
 */
export function redactText(text: string): string {
  return text
    .replace(urlQueryPattern, `$1?${redactedText}`)
    .replace(urlPasswordPattern, `$1:${redactedText}@`)
    .replace(jwtPattern, redactedText)
    .replace(bearerPattern, `$1 ${redactedText}`);
}

/**
 * Returns a redacted copy of `value`, never mutating it: strings go through
 * redactText; values of keys matching sensitiveKeyPattern become
 * `[REDACTED]` unless boolean, null or undefined; Errors become plain
 * `{ type, message, stack, cause, ...own fields }` objects; Maps become
 * objects, Sets arrays, byte arrays (redacted) UTF-8 text. Cycles become
 * `[Circular]`, nesting past 10 levels `[Truncated]`.
 */
export function redactValue(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, ancestors: WeakSet<object>): unknown {
  if (typeof value === "string") return redactText(value);
  if (typeof value !== "object" || value === null) return value;
  if (ancestors.has(value)) return "[Circular]";
  if (depth >= maxDepth) return "[Truncated]";
  ancestors.add(value);
  try {
    return walkObject(value, depth + 1, ancestors);
  } catch {
    // A throwing getter or toJSON must not take the log line down with it.
    return "[Unserializable]";
  } finally {
    // Only ancestors count: the same object twice side by side is not a cycle.
    ancestors.delete(value);
  }
}

function walkObject(value: object, depth: number, ancestors: WeakSet<object>): unknown {
  const entries = (pairs: Iterable<readonly [unknown, unknown]>) =>
    Object.fromEntries(
      Array.from(pairs, ([key, item]) => {
        const name = redactText(String(key));
        return [name, maskedKey(name, item) ? redactedText : walk(item, depth, ancestors)];
      }),
    );
  if (value instanceof Error) return walkError(value, entries, depth, ancestors);
  if (Array.isArray(value)) return value.map((item) => walk(item, depth, ancestors));
  if (value instanceof Date) return value;
  if (value instanceof URL) return redactText(value.href);
  if (ArrayBuffer.isView(value)) {
    return redactText(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString());
  }
  if (value instanceof Map) return entries(value);
  if (value instanceof Set) return Array.from(value, (item) => walk(item, depth, ancestors));
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return walk(toJSON.call(value), depth, ancestors);
  return entries(Object.entries(value));
}

function walkError(
  error: Error,
  entries: (pairs: Iterable<readonly [unknown, unknown]>) => Record<string, unknown>,
  depth: number,
  ancestors: WeakSet<object>,
): Record<string, unknown> {
  const own = Object.entries(error).filter(([key]) => key !== "name");
  // cause, errors and stack are not enumerable, so they are copied by hand.
  const extra: [string, unknown][] = [["stack", error.stack]];
  if (error.cause !== undefined) extra.push(["cause", error.cause]);
  if (error instanceof AggregateError) extra.push(["errors", error.errors]);
  return {
    type: error.name,
    message: walk(error.message, depth, ancestors),
    ...entries([...own, ...extra]),
  };
}

function maskedKey(key: string, value: unknown): boolean {
  const harmless = typeof value === "boolean" || value === null || value === undefined;
  return !harmless && sensitiveKeyPattern.test(key);
}
