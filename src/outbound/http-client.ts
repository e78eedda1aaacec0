/** One outbound HTTP request. */
export interface OutboundRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Total time for connect, send and reading the whole (capped) body. */
  readonly timeoutMs: number;
  /** Body bytes past this are not read; the response is marked truncated. */
  readonly maxResponseBytes: number;
  readonly signal?: AbortSignal;
}

/** The answer to an OutboundRequest. Redirects are returned, never followed. */
export interface OutboundResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly truncated: boolean;
}

/**
 * Why an outbound request produced no response: `timeout` (timeoutMs
 * passed), `unreachable` (no connection: refused, reset before a response),
 * `aborted` (the caller's signal fired), `blocked` (the outbound policy
 * refused the URL, its name did not resolve, or it resolved to an address
 * the policy denies; no connection was made). The message never holds the
 * URL's query string or a header value.
 */
export class OutboundError extends Error {
  override readonly name = "OutboundError";
  constructor(
    readonly kind: "timeout" | "unreachable" | "aborted" | "blocked",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Performs outbound HTTP requests; rejects only with OutboundError. */
export type OutboundClient = (request: OutboundRequest) => Promise<OutboundResponse>;
