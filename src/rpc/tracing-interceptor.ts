import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { type Context, context, type Span, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import { startServerSpan } from "../tracing/server-span.js";
import { toConnectError } from "./to-connect-error.js";

type RpcSystem = "grpc" | "connect_rpc";

/**
 * Traces every RPC: a SERVER span named `<service>/<method>` (for example
 * `mcpclient.v1.SessionService/Init`), child of the caller's W3C
 * `traceparent`/`tracestate` when sent, and active while the handler runs,
 * so domain spans nest under it. Attributes: `rpc.system` (`grpc` for gRPC
 * and gRPC-Web, else `connect_rpc`), `rpc.service`, `rpc.method`, and the
 * outcome: `rpc.grpc.status_code` (gRPC) or `rpc.connect_rpc.error_code`
 * (Connect, on error), plus on error `error.type` (the ErrorInfo reason, or
 * the code) and an ERROR status carrying the same. Headers, messages and
 * error messages are never recorded. A streaming response's span ends with
 * its stream. Place it first, to see the codes the other interceptors give.
 */
export function createTracingInterceptor(tracer: Tracer): Interceptor {
  return (next) => async (req) => {
    const system = rpcSystem(req.header.get("content-type"));
    const { span, active } = startServerSpan(
      tracer,
      `${req.service.typeName}/${req.method.name}`,
      { "rpc.system": system, "rpc.service": req.service.typeName, "rpc.method": req.method.name },
      req.header,
    );
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(active, () => next(req));
    } catch (error) {
      endRpcSpan(span, system, error);
      throw error;
    }
    if (!res.stream) {
      endRpcSpan(span, system, undefined);
      return res;
    }
    return { ...res, message: traceStream(res.message, active, span, system) };
  };
}

// A streaming handler runs as its response is read: each step runs in the
// RPC's context, and the span ends with the stream.
async function* traceStream<T>(
  messages: AsyncIterable<T>,
  active: Context,
  span: Span,
  system: RpcSystem,
): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  let end: { error: unknown } | undefined;
  try {
    for (;;) {
      const step = await context.with(active, () => iterator.next());
      if (step.done === true) break;
      yield step.value;
    }
    end = { error: undefined };
  } catch (error) {
    end = { error };
    throw error;
  } finally {
    // Neither done nor failed: the reader stopped (the caller cancelled).
    if (end === undefined) await context.with(active, async () => iterator.return?.());
    endRpcSpan(span, system, end === undefined ? canceled() : end.error);
  }
}

function canceled(): ConnectError {
  return new ConnectError("the call was canceled", Code.Canceled);
}

function endRpcSpan(span: Span, system: RpcSystem, error: unknown): void {
  if (error === undefined) {
    if (system === "grpc") span.setAttribute("rpc.grpc.status_code", 0);
  } else {
    const connectError = toConnectError(error);
    const code = codeToString(connectError.code);
    if (system === "grpc") span.setAttribute("rpc.grpc.status_code", connectError.code);
    else span.setAttribute("rpc.connect_rpc.error_code", code);
    const reason = connectError.findDetails(ErrorInfoSchema)[0]?.reason;
    span.setAttribute("error.type", reason ?? code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: reason ?? code });
  }
  span.end();
}

function rpcSystem(contentType: string | null): RpcSystem {
  return contentType?.startsWith("application/grpc") === true ? "grpc" : "connect_rpc";
}
