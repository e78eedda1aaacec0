import { ProxyTracerProvider, type Tracer } from "@opentelemetry/api";

/**
 * A Tracer that records nothing: its spans are non-recording and cost next
 * to nothing. It comes from a private ProxyTracerProvider that never gets a
 * delegate, so registering a global provider later does not turn it on.
 */
export const noopTracer: Tracer = new ProxyTracerProvider().getTracer("noop");
