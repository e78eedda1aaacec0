import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Code } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { toConnectError } from "./to-connect-error.js";

/** A request as Node's HTTP/1.1 and HTTP/2 servers give it. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** A response as Node's HTTP/1.1 and HTTP/2 servers give it. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/**
 * A plain HTTP endpoint next to the RPCs (`POST /init`, `GET /metrics`, the
 * probes), HTTP/1.1 and HTTP/2 alike; it settles once it has answered.
 */
export type HttpRoute = (req: HttpRequest, res: HttpResponse) => Promise<void>;

/** A JSON body of string fields, such as `{"status":"ok"}`. */
export type JsonBody = Readonly<Record<string, string>>;

/**
 * Answers `status` with `body` and `cache-control: no-store` (every answer of
 * these endpoints is only true the moment it is given); a HEAD request gets
 * the headers alone. Does nothing once the response has started or its
 * connection is gone.
 */
export function send(
  req: HttpRequest,
  res: HttpResponse,
  status: number,
  contentType: string,
  body: string,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

/** `send` with `body` as `application/json`. */
export function sendJson(
  req: HttpRequest,
  res: HttpResponse,
  status: number,
  body: JsonBody,
): void {
  send(req, res, status, "application/json", JSON.stringify(body));
}

/**
 * The error shape of `POST /init`, which every plain endpoint but the
 * probes shares: `{"status":"error","error":"...","error_type":"<REASON>"}`.
 */
export function errorBody(message: string, errorType: string): JsonBody {
  return { status: "error", error: message, error_type: errorType };
}

/**
 * True when `req` uses one of `methods`; otherwise answers 405 with
 * `allow` and `refusal` as the body, and returns false.
 */
export function allowMethods(
  req: HttpRequest,
  res: HttpResponse,
  methods: readonly string[],
  refusal: JsonBody,
): boolean {
  if (methods.includes(req.method ?? "")) return true;
  res.setHeader("allow", methods.join(", "));
  sendJson(req, res, 405, refusal);
  return false;
}

/**
 * Answers `error` as the RPCs would, in the errorBody shape: the HTTP status
 * the Connect protocol gives the code toConnectError maps it to, and a
 * ServiceError's message and reason. Anything else is logged with `route`
 * (such as `POST /init`) and answered `internal error` / `INTERNAL`.
 * Returns the code, for the caller's metrics.
 */
export function sendError(
  req: HttpRequest,
  res: HttpResponse,
  error: unknown,
  logger: Logger,
  route: string,
): Code {
  const { code } = toConnectError(error);
  const status = codeToHttpStatus(code);
  if (error instanceof ServiceError) {
    sendJson(req, res, status, errorBody(error.message, error.reason));
    return code;
  }
  logger.error({ err: error }, `internal error in ${route}`);
  sendJson(req, res, status, errorBody("internal error", "INTERNAL"));
  return code;
}
