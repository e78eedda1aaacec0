import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import { type ErrorClass, errorDomain, ServiceError } from "../errors.js";

const codes: Record<ErrorClass, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  resource_exhausted: Code.ResourceExhausted,
  canceled: Code.Canceled,
  internal: Code.Internal,
};

/**
 * The one place where errors become RPC errors. A ServiceError keeps its
 * message and gets its reason's code plus an `ErrorInfo` detail. A
 * ConnectError (deadline, cancel, limits raised by connect itself) passes
 * unchanged. Anything else becomes INTERNAL "internal error" with the
 * original kept only as `cause`, for the log.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ServiceError) {
    return new ConnectError(
      error.message,
      codes[error.errorClass],
      undefined,
      [
        {
          desc: ErrorInfoSchema,
          value: { reason: error.reason, domain: errorDomain, metadata: { ...error.metadata } },
        },
      ],
      error,
    );
  }
  if (error instanceof ConnectError) return error;
  if (error instanceof Error && error.name === "AbortError") {
    return new ConnectError("the call was canceled", Code.Canceled, undefined, undefined, error);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}
