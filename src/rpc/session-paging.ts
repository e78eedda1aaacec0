import { ServiceError } from "../errors.js";
import { isValidSessionId } from "../session/init-request.js";

/** `ListSessions.page_size` when the request leaves it 0. */
const defaultPageSize = 100;
/** The largest page; larger `page_size` values are lowered to it (as AIP-158 asks). */
const maxPageSize = 1000;

// Versioned, so that a later token format can tell the old one apart.
const tokenPrefix = "v1:";

/**
 * The page size a request asks for: 0 means the default, more than the
 * maximum the maximum. `INVALID_PAGE_SIZE` when negative.
 */
export function resolvePageSize(pageSize: number): number {
  if (pageSize < 0) {
    throw new ServiceError("INVALID_PAGE_SIZE", "page_size must not be negative.", {
      metadata: { max_page_size: String(maxPageSize) },
    });
  }
  return pageSize === 0 ? defaultPageSize : Math.min(pageSize, maxPageSize);
}

/** The opaque token for the page after the session `lastSessionId`. */
export function encodePageToken(lastSessionId: string): string {
  return Buffer.from(`${tokenPrefix}${lastSessionId}`, "utf8").toString("base64url");
}

/**
 * The session id a page token continues after; undefined for an empty token
 * (the first page). `INVALID_PAGE_TOKEN` for any token encodePageToken did
 * not make.
 */
export function decodePageToken(token: string): string | undefined {
  if (token === "") return undefined;
  const text = Buffer.from(token, "base64url").toString("utf8");
  const sessionId = text.startsWith(tokenPrefix) ? text.slice(tokenPrefix.length) : "";
  // Base64url decoding skips what it cannot read: only a canonical token counts.
  if (encodePageToken(sessionId) !== token || !isValidSessionId(sessionId)) {
    throw new ServiceError(
      "INVALID_PAGE_TOKEN",
      "page_token is not a next_page_token of ListSessions.",
    );
  }
  return sessionId;
}
