import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/** A plain HTTP endpoint, HTTP/1.1 and HTTP/2 alike; it settles once it has answered. */
export type HttpRouteHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => Promise<void>;

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

// Any other method is recorded as `_OTHER`, as the HTTP conventions say: callers choose it.
const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

/**
 * Wraps a plain HTTP endpoint (such as `POST /init`) in a SERVER span named
 * `<method> <route>`, child of the caller's W3C `traceparent` when sent and
 * active while `handler` runs. Attributes: `http.request.method`,
 * `http.route`, `http.response.status_code`; a status of 400 or more, or a
 * handler that throws, gives the span an ERROR status. Neither headers,
 * query nor body are recorded.
 */
export function traceHttpRoute(
  tracer: Tracer,
  route: string,
  handler: HttpRouteHandler,
): HttpRouteHandler {
  const propagator = new W3CTraceContextPropagator();
  return async (req, res) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
    const method = knownMethods.has(req.method ?? "") ? (req.method as string) : "_OTHER";
    const span = tracer.startSpan(
      `${method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": route } },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), () => handler(req, res));
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 400) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(res.statusCode) });
        span.setAttribute("error.type", String(res.statusCode));
      }
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute("error.type", error instanceof Error ? error.name : "error");
      throw error;
    } finally {
      span.end();
    }
  };
}
