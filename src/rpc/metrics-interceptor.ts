import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { reasons } from "../errors.js";
import type { RpcObservation } from "../metrics/metrics.js";
import type { HttpRoute } from "./http-route.js";

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

// The Connect HTTP status of every code the service's errors have, back to the
// code's name (ErrorClass): each of those codes has a status of its own.
const errorClasses = new Set<string>(Object.values(reasons));
const codeOfStatus = new Map<number, string>([[200, "ok"]]);
for (const code of Object.values(Code)) {
  if (typeof code !== "number") continue;
  const name = codeToString(code);
  if (errorClasses.has(name)) codeOfStatus.set(codeToHttpStatus(code), name);
}

/**
 * Wraps `POST /init` to report it as method `InitAlias` of SessionService,
 * with the code its HTTP status stands for, once the response is over;
 * `canceled` when the caller left first. A status no error code has (405
 * for another method) is not reported.
 */
export function observeInitAlias(
  route: HttpRoute,
  observe: (call: RpcObservation) => void,
): HttpRoute {
  const name = { service: SessionService.typeName, method: "InitAlias" };
  return (req, res) => {
    const started = performance.now();
    res.once("close", () => {
      const code = res.writableFinished ? codeOfStatus.get(res.statusCode) : "canceled";
      if (code === undefined) return;
      observe({ ...name, code, seconds: (performance.now() - started) / 1000 });
    });
    return route(req, res);
  };
}
