import { STATUS_CODES } from "node:http";

/**
 * `403 Forbidden`: the status and its standard reason phrase. The phrase an
 * upstream sent is never used, since an API may echo request data (even the
 * token) in it.
 */
export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ""}`.trimEnd();
}
