import { ServiceError } from "../errors.js";
import type { OutboundClient } from "../outbound/http-client.js";
import { OutboundError } from "../outbound/http-client.js";
import { joinUnderBase } from "../outbound/join-url.js";
import { statusLine } from "../outbound/status-line.js";

/**
 * One message for every refusal of the outbound policy, so that Init cannot
 * tell "not allowed" from "does not resolve" or "private address".
 */
const apiUrlNotAllowedMessage =
  "api_url is not allowed: this server may only call the API origins its operator allows.";

/**
 * Asks the user's API whether `jwtToken` is accepted at `apiUrl`. Resolves
 * on a 2xx answer; see createCredentialCheck for the errors.
 */
export type CredentialCheck = (
  apiUrl: URL,
  jwtToken: string,
  signal?: AbortSignal,
) => Promise<void>;

/** Options of createCredentialCheck. */
export interface CredentialCheckOptions {
  readonly http: OutboundClient;
  /** Total time for the check request, body included. */
  readonly timeoutMs: number;
  /** Largest response body read; the body is not inspected. */
  readonly maxResponseBytes: number;
}

/**
 * A CredentialCheck that POSTs `{}` to `{apiUrl}/settings/validate` (under
 * the URL's path) with `Authorization: Bearer <jwt>`; redirects are not
 * followed. Throws ServiceError `CREDENTIALS_REJECTED` on 401/403,
 * `UPSTREAM_ERROR` on any other non-2xx status (both with metadata
 * `http_status`), `UPSTREAM_TIMEOUT`, `UPSTREAM_UNREACHABLE`,
 * `API_URL_NOT_ALLOWED` (the outbound policy refused the URL or its
 * addresses; no connection was made), or `CANCELED`
 * when `signal` fires; the OutboundError is the `cause`. Messages never hold
 * the token or the URL.
 */
export function createCredentialCheck(options: CredentialCheckOptions): CredentialCheck {
  const { http, timeoutMs, maxResponseBytes } = options;
  return async (apiUrl, jwtToken, signal) => {
    let status: number;
    try {
      ({ status } = await http({
        url: joinUnderBase(apiUrl, "settings/validate"),
        method: "POST",
        headers: {
          authorization: `Bearer ${jwtToken}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: "{}",
        timeoutMs,
        maxResponseBytes,
        ...(signal ? { signal } : {}),
      }));
    } catch (error) {
      throw fromOutboundError(error, timeoutMs);
    }
    if (status >= 200 && status < 300) return;
    const message = `Connection test failed: ${statusLine(status)}`;
    const metadata = { http_status: String(status) };
    const reason = status === 401 || status === 403 ? "CREDENTIALS_REJECTED" : "UPSTREAM_ERROR";
    throw new ServiceError(reason, message, { metadata });
  };
}

function fromOutboundError(error: unknown, timeoutMs: number): unknown {
  if (!(error instanceof OutboundError)) return error;
  switch (error.kind) {
    case "timeout":
      return new ServiceError(
        "UPSTREAM_TIMEOUT",
        `Connection test failed: the API did not answer within ${timeoutMs} ms`,
        { cause: error },
      );
    case "unreachable":
      return new ServiceError(
        "UPSTREAM_UNREACHABLE",
        "Connection test failed: could not connect to the API",
        { cause: error },
      );
    case "aborted":
      return new ServiceError("CANCELED", "Connection test canceled", { cause: error });
    case "blocked":
      return new ServiceError("API_URL_NOT_ALLOWED", apiUrlNotAllowedMessage, { cause: error });
  }
}
