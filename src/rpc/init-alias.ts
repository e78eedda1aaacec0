import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { InitRequestSchema } from "../../gen/mcpclient/v1/session_service_pb.js";
import { apiKeyHeader, type Caller, type CallerCredentials } from "../auth/caller-auth.js";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { SessionManager } from "../session/session-manager.js";
import { connectionCredentials } from "./node-caller.js";
import { toConnectError } from "./to-connect-error.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** The path of the original HTTP endpoint. */
export const initAliasPath = "/init";

/**
 * `POST /init`, the original HTTP endpoint, kept for existing integrations.
 * It parses the body as the Connect JSON form of InitRequest (so both
 * `session_id` and `apiUrl` spellings work), runs the same Init, and answers
 * in the original shapes: `{"status":"ok"}` with 200, or
 * `{"status":"error","error":"...","error_type":"<REASON>"}` with the status
 * the Connect protocol gives the error's code (400, 401, 429, 500, ...).
 * Callers authenticate as for the RPCs (API key, client certificate).
 */
export function createInitAlias(
  sessions: SessionManager,
  authenticate: (credentials: CallerCredentials) => Caller,
  maxBodyBytes: number,
  logger: Logger,
) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return send(res, 405, {
        status: "error",
        error: "Use POST.",
        error_type: "METHOD_NOT_ALLOWED",
      });
    }
    const abort = new AbortController();
    res.on("close", () => abort.abort(new ServiceError("CANCELED", "The client went away.")));
    try {
      const apiKey = req.headers[apiKeyHeader];
      const caller = authenticate({
        ...connectionCredentials(req),
        apiKey: Array.isArray(apiKey) ? apiKey[0] : apiKey,
      });
      const input = parseInitRequest(await readJson(req, maxBodyBytes));
      await sessions.init(
        { sessionId: input.sessionId, apiUrl: input.apiUrl, jwtToken: input.jwtToken },
        abort.signal,
        caller.id,
      );
      send(res, 200, { status: "ok" });
    } catch (error) {
      const status = codeToHttpStatus(toConnectError(error).code);
      if (error instanceof ServiceError) {
        send(res, status, { status: "error", error: error.message, error_type: error.reason });
      } else {
        logger.error({ err: error }, "internal error in POST /init");
        send(res, status, { status: "error", error: "internal error", error_type: "INTERNAL" });
      }
    }
  };
}

async function readJson(req: Request, maxBodyBytes: number): Promise<JsonValue> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) {
      throw new ServiceError(
        "INVALID_REQUEST_BODY",
        `The body is larger than ${maxBodyBytes} bytes.`,
      );
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as JsonValue;
  } catch (cause) {
    throw new ServiceError("INVALID_REQUEST_BODY", "The body is not valid JSON.", { cause });
  }
}

function parseInitRequest(json: JsonValue) {
  try {
    return fromJson(InitRequestSchema, json, { ignoreUnknownFields: true });
  } catch (cause) {
    throw new ServiceError(
      "INVALID_REQUEST_BODY",
      "The body must be a JSON object with string fields session_id, api_url and jwt_token.",
      { cause },
    );
  }
}

function send(res: Response, status: number, body: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
  });
  res.end(json);
}
