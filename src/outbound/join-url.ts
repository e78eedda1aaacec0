/**
 * Thrown by joinUnderBase when a path is not a plain relative path that
 * stays under the base. Its message never quotes the path.
 */
export class PathEscapesBaseError extends Error {
  override readonly name = "PathEscapesBaseError";
}

// A leading scheme (`http:`, `javascript:`) makes a string an absolute URL.
const schemePrefix = /^[a-z][a-z0-9+.-]*:/i;
// The URL parser silently drops tabs and newlines, which could join `.` and `.`.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const controlChar = /[\u0000-\u001f\u007f]/;

/**
 * Joins `relativePath` under `base` without losing the base's path:
 * `https://h/api/v1` + `settings/validate` is `https://h/api/v1/settings/validate`,
 * with or without a trailing slash on the base or one leading slash on the
 * path. `.` and `..` segments (also percent-encoded) are resolved and may not
 * climb above the base. The base's query and fragment are dropped; `query`
 * becomes the new query string.
 *
 * Throws PathEscapesBaseError for absolute URLs (`http://x`, `//x`), for
 * paths with a backslash, a control character, `?` or `#` (pass the query
 * separately), an encoded `/` or `\`, or a malformed percent-escape, and for
 * paths that would leave the base.
 */
export function joinUnderBase(
  base: URL,
  relativePath: string,
  query?: Readonly<Record<string, string>>,
): URL {
  if (schemePrefix.test(relativePath) || relativePath.startsWith("//")) {
    throw new PathEscapesBaseError("path must be relative, not an absolute URL");
  }
  if (/[\\?#]/.test(relativePath) || controlChar.test(relativePath)) {
    throw new PathEscapesBaseError("path contains a character that is not allowed");
  }
  const segments: string[] = [];
  const raw = relativePath.startsWith("/") ? relativePath.slice(1) : relativePath;
  for (const segment of raw === "" ? [] : raw.split("/")) {
    const decoded = decodeSegment(segment);
    if (decoded === ".") continue;
    if (decoded === "..") {
      if (segments.pop() === undefined) {
        throw new PathEscapesBaseError("path leaves the base URL");
      }
      continue;
    }
    segments.push(segment);
  }
  const basePath = base.pathname.replace(/\/+$/, "");
  const url = new URL(base.href);
  url.hash = "";
  url.search = "";
  url.pathname = `${basePath}/${segments.join("/")}`;
  for (const [name, value] of Object.entries(query ?? {})) url.searchParams.append(name, value);
  // Defense in depth: whatever the parser made of the path must stay under the base.
  if (!url.pathname.startsWith(`${basePath}/`)) {
    throw new PathEscapesBaseError("path leaves the base URL");
  }
  return url;
}

function decodeSegment(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new PathEscapesBaseError("path contains a malformed percent-escape");
  }
  // Servers that decode before routing would see these as separators.
  if (/[/\\]/.test(decoded) || controlChar.test(decoded)) {
    throw new PathEscapesBaseError("path contains an encoded separator or control character");
  }
  return decoded;
}
