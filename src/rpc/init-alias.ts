import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { InitRequestSchema, SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import type { Caller, CallerCredentials } from "../auth/caller-auth.js";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { RpcObservation } from "../metrics/metrics.js";
import type { SessionManager } from "../session/session-manager.js";
import {
  allowMethods,
  errorBody,
  type HttpRequest,
  type HttpRoute,
  sendError,
  sendJson,
} from "./http-route.js";
import { requestCredentials } from "./node-caller.js";

/** The path of the original HTTP endpoint. */
export const initAliasPath = "/init";

/**
 * `POST /init`, the original HTTP endpoint, kept for existing integrations.
 * It parses the body as the Connect JSON form of InitRequest (so both
 * `session_id` and `apiUrl` spellings work), runs the same Init, and answers
 * in the original shapes: `{"status":"ok"}` with 200, or
 * `{"status":"error","error":"...","error_type":"<REASON>"}` with the status
 * the Connect protocol gives the error's code (400, 401, 429, 500, ...);
 * another method gets 405 `METHOD_NOT_ALLOWED`. Callers authenticate as for
 * the RPCs (API key, client certificate). Each POST is reported to
 * `observe` as method `InitAlias` of SessionService, once the response is
 * over, with the code its status stands for (`canceled` when the caller left
 * first).
 */
export function createInitAlias(
  sessions: SessionManager,
  authenticate: (credentials: CallerCredentials) => Caller,
  maxBodyBytes: number,
  logger: Logger,
  observe: (call: RpcObservation) => void = () => {},
): HttpRoute {
  return async (req, res) => {
    if (!allowMethods(req, res, ["POST"], errorBody("Use POST.", "METHOD_NOT_ALLOWED"))) return;
    const started = performance.now();
    let code = "ok";
    const abort = new AbortController();
    res.on("close", () => {
      abort.abort(new ServiceError("CANCELED", "The client went away."));
      observe({
        service: SessionService.typeName,
        method: "InitAlias",
        code: res.writableFinished ? code : "canceled",
        seconds: (performance.now() - started) / 1000,
      });
    });
    try {
      const caller = authenticate(requestCredentials(req));
      const input = parseInitRequest(await readJson(req, maxBodyBytes));
      await sessions.init(
        { sessionId: input.sessionId, apiUrl: input.apiUrl, jwtToken: input.jwtToken },
        abort.signal,
        caller.id,
      );
      sendJson(req, res, 200, { status: "ok" });
    } catch (error) {
      code = codeToString(sendError(req, res, error, logger, "POST /init"));
    }
  };
}

async function readJson(req: HttpRequest, maxBodyBytes: number): Promise<JsonValue> {
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
