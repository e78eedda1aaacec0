import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * Maps every error a handler throws through `toConnectError`, and logs it
 * with its cause, which the caller never sees: faults (neither ServiceError
 * nor ConnectError, and not the abort of a call its caller left) at error
 * level, server-side failures (an MCP server exited, timed out or answered
 * an error) at warn, caller mistakes at debug.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      const procedure = req.method.name;
      if (error instanceof ServiceError) {
        // The session manager logs Init's outcome itself, for the /init alias too.
        if (procedure === "Init") throw toConnectError(error);
        const serverSide = ["internal", "unavailable", "deadline_exceeded"].includes(
          error.errorClass,
        );
        const fields = { procedure, reason: error.reason, ...error.metadata, err: error.cause };
        logger[serverSide ? "warn" : "debug"](fields, error.message);
      } else if (!(error instanceof ConnectError) && !req.signal.aborted) {
        logger.error({ procedure, err: error }, "internal error");
      }
      throw toConnectError(error);
    }
  };
}
