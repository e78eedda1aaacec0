import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { ServiceError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * Maps every error a handler throws through `toConnectError`. Errors that
 * are neither ServiceErrors nor ConnectErrors are faults: they are logged
 * with their cause here, since the caller only sees "internal error".
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      if (!(error instanceof ServiceError) && !(error instanceof ConnectError)) {
        logger.error({ err: error, procedure: req.method.name }, "internal error");
      }
      throw toConnectError(error);
    }
  };
}
