import { ServiceError } from "../errors.js";

// The parser would accept `http:host` or `http:\\host`; require the plain form.
const absoluteHttp = /^https?:\/\//i;
// The parser silently strips surrounding whitespace and inner tabs/newlines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const whitespaceOrControl = /[\u0000-\u0020\u007f]/;

/**
 * Parses a caller's `api_url`. Accepts only an absolute `http:` or `https:`
 * URL with a host, without username/password and without a fragment (not
 * even a bare trailing `#`), and without whitespace or control characters.
 * Throws ServiceError `INVALID_API_URL` otherwise; the message never quotes
 * the URL, whose query string may hold secrets.
 */
export function parseApiUrl(raw: string): URL {
  if (!absoluteHttp.test(raw) || whitespaceOrControl.test(raw)) {
    throw invalid("api_url must be an absolute http(s) URL");
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("api_url must be an absolute http(s) URL");
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw invalid("api_url must be an absolute http(s) URL with a host");
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid("api_url must not contain credentials");
  }
  // `#` can only start a fragment; `url.hash` is empty for a bare trailing one.
  if (raw.includes("#")) {
    throw invalid("api_url must not contain a fragment");
  }
  return url;
}

function invalid(message: string): ServiceError {
  return new ServiceError("INVALID_API_URL", message);
}
