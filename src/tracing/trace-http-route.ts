import { context, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { HttpRoute } from "../rpc/http-route.js";
import { startServerSpan } from "./server-span.js";

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
export function traceHttpRoute(tracer: Tracer, route: string, handler: HttpRoute): HttpRoute {
  return async (req, res) => {
    const method = knownMethods.has(req.method ?? "") ? (req.method as string) : "_OTHER";
    const { span, active } = startServerSpan(
      tracer,
      `${method} ${route}`,
      { "http.request.method": method, "http.route": route },
      req.headers,
    );
    try {
      await context.with(active, () => handler(req, res));
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
