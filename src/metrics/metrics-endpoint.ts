import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Registry } from "prom-client";
import { apiKeyHeader, type Caller, type CallerCredentials } from "../auth/caller-auth.js";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { connectionCredentials } from "../rpc/node-caller.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** The path Prometheus scrapes. */
export const metricsPath = "/metrics";

/**
 * `GET /metrics`: the registry in the Prometheus text format
 * (`registry.contentType`). When `authenticate` is given, the caller's
 * `x-api-key` and client certificate are checked as for the RPCs; a refusal
 * answers 401 `{"status":"error","error":"...","error_type":"<REASON>"}`,
 * the shape of `POST /init`'s errors. Another method answers 405
 * `METHOD_NOT_ALLOWED`.
 */
export function createMetricsEndpoint(
  registry: Registry,
  authenticate: ((credentials: CallerCredentials) => Caller) | undefined,
  logger: Logger,
) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== "GET") {
      res.setHeader("allow", "GET");
      return sendError(res, 405, "Use GET.", "METHOD_NOT_ALLOWED");
    }
    try {
      authenticate?.(requestCredentials(req));
    } catch (error) {
      if (error instanceof ServiceError && error.errorClass === "unauthenticated") {
        return sendError(res, 401, error.message, error.reason);
      }
      logger.error({ err: error }, "internal error in GET /metrics");
      return sendError(res, 500, "internal error", "INTERNAL");
    }
    let text: string;
    try {
      text = await registry.metrics();
    } catch (error) {
      logger.error({ err: error }, "internal error in GET /metrics");
      return sendError(res, 500, "internal error", "INTERNAL");
    }
    send(res, 200, registry.contentType, text);
  };
}

function requestCredentials(req: Request): CallerCredentials {
  const apiKey = req.headers[apiKeyHeader];
  return { ...connectionCredentials(req), apiKey: Array.isArray(apiKey) ? apiKey[0] : apiKey };
}

function sendError(res: Response, status: number, error: string, errorType: string): void {
  const body = JSON.stringify({ status: "error", error, error_type: errorType });
  send(res, status, "application/json", body);
}

function send(res: Response, status: number, contentType: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}
