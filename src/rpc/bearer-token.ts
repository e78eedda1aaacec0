const bearerPattern = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The token of an `authorization: Bearer <token>` header, or undefined when
 * the header is missing or uses another scheme.
 */
export function bearerToken(headers: Headers): string | undefined {
  const value = headers.get("authorization");
  if (value === null) return undefined;
  return bearerPattern.exec(value)?.[1];
}
