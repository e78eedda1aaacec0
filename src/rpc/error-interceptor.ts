import type { DescMethod } from "@bufbuild/protobuf";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type ErrorClass, ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { toConnectError } from "./to-connect-error.js";

// The classes of failures on the server's side, logged at warn; the caller's mistakes at debug.
const serverSide: ReadonlySet<ErrorClass> = new Set([
  "internal",
  "unavailable",
  "deadline_exceeded",
]);

/**
 * Maps every error a handler throws through `toConnectError` (a streaming
 * handler's too, while its stream is read), and logs it with its cause,
 * which the caller never sees: faults (neither ServiceError nor
 * ConnectError, and not the abort of a call its caller left) at error
 * level, server-side failures (an MCP server exited, timed out or answered
 * an error) at warn, caller mistakes at debug.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  function fail(error: unknown, method: DescMethod, signal: AbortSignal): ConnectError {
    const procedure = method.name;
    if (error instanceof ServiceError) {
      // The session manager logs Init's outcome itself, for the /init alias too.
      if (method === SessionService.method.init) return toConnectError(error);
      const fields = { procedure, reason: error.reason, ...error.metadata, err: error.cause };
      logger[serverSide.has(error.errorClass) ? "warn" : "debug"](fields, error.message);
    } else if (!(error instanceof ConnectError) && !signal.aborted) {
      logger.error({ procedure, err: error }, "internal error");
    }
    return toConnectError(error);
  }
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      // A streaming handler runs while its stream is read, after `next` returned.
      return { ...res, message: mapErrors(res.message, (e) => fail(e, req.method, req.signal)) };
    } catch (error) {
      throw fail(error, req.method, req.signal);
    }
  };
}

async function* mapErrors<T>(
  messages: AsyncIterable<T>,
  map: (error: unknown) => ConnectError,
): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}
