import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { RpcObservation } from "../metrics/metrics.js";

/**
 * Reports every RPC that reaches the interceptors, with the code its caller
 * gets and its duration, to `observe`: a unary RPC when its handler returns
 * or throws, a streaming one when its response stream ends, fails, or its
 * caller leaves (`canceled`, or the code of the abort such as a deadline).
 * Place it first, so that it sees the codes the other interceptors give
 * (authentication failures included); an error that is no ConnectError
 * reaches the caller as `internal`, and is counted so. Errors the Connect
 * stack raises before interceptors run (malformed or oversized messages,
 * unknown methods) are not seen.
 */
export function createMetricsInterceptor(observe: (call: RpcObservation) => void): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const report = (code: string) =>
      observe({
        service: req.service.typeName,
        method: req.method.name,
        code,
        seconds: (performance.now() - started) / 1000,
      });
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (error) {
      report(codeName(error));
      throw error;
    }
    if (!res.stream) {
      report("ok");
      return res;
    }
    // A handler whose caller left may stay suspended for good: the abort ends the stream.
    let reported = false;
    const onAbort = () => reportOnce(codeName(req.signal.reason, "canceled"));
    const reportOnce = (code: string) => {
      req.signal.removeEventListener("abort", onAbort);
      if (!reported) report(code);
      reported = true;
    };
    req.signal.addEventListener("abort", onAbort);
    if (req.signal.aborted) onAbort();
    return { ...res, message: reportAtEnd(res.message, reportOnce) };
  };
}

async function* reportAtEnd<T>(
  messages: AsyncIterable<T>,
  report: (code: string) => void,
): AsyncGenerator<T> {
  let code = "canceled";
  try {
    yield* messages;
    code = "ok";
  } catch (error) {
    code = codeName(error);
    throw error;
  } finally {
    report(code);
  }
}

// The name of the code a caller gets for `error` (`deadline_exceeded`, the
// Connect protocol's spelling): connect sends a ConnectError as it is,
// anything else as INTERNAL "internal error".
function codeName(error: unknown, otherwise = "internal"): string {
  return error instanceof ConnectError ? codeToString(error.code) : otherwise;
}
