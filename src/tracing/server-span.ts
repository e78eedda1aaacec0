import type { IncomingHttpHeaders } from "node:http";
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

// Stateless: one serves every request.
const propagator = new W3CTraceContextPropagator();

const fetchHeaders: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

const nodeHeaders: TextMapGetter<IncomingHttpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

/**
 * Starts a SERVER span named `name` with `attributes`, child of the W3C
 * `traceparent`/`tracestate` in `headers` (the RPCs' fetch Headers or a Node
 * request's headers) when sent. Only the caller's headers make a parent,
 * never the ambient context. Returns the span and the context in which it is
 * the active span; the caller ends it.
 */
export function startServerSpan(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  headers: Headers | IncomingHttpHeaders,
): { readonly span: Span; readonly active: Context } {
  // By shape, not instanceof: a Headers may come from another fetch implementation.
  const parent = isFetchHeaders(headers)
    ? propagator.extract(ROOT_CONTEXT, headers, fetchHeaders)
    : propagator.extract(ROOT_CONTEXT, headers, nodeHeaders);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, active: trace.setSpan(parent, span) };
}

function isFetchHeaders(headers: Headers | IncomingHttpHeaders): headers is Headers {
  return typeof headers.get === "function";
}
