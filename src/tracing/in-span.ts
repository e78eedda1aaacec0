import { type Attributes, type Span, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { ServiceError } from "../errors.js";

/** How a traced step ended: `ok`, `is_error` (a tool result), or an error reason. */
export const outcomeAttribute = "mcpclient.outcome";

/** Outcomes that are not failures. */
const successes = new Set(["ok", "is_error"]);

/**
 * Ends `span` with `outcome`: the outcome attribute always; for a failure
 * also `error.type` and an ERROR status whose message is the outcome. Only
 * the outcome is recorded, never an error message: messages can carry
 * what the caller sent.
 */
export function endSpan(span: Span, outcome: string): void {
  span.setAttribute(outcomeAttribute, outcome);
  if (!successes.has(outcome)) {
    span.setAttribute("error.type", outcome);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.end();
}

/**
 * The outcome of a failed step: a ServiceError's reason, else the error's
 * name (`AbortError`, `ConnectError`), else `error`.
 */
function failureOutcome(error: unknown): string {
  if (error instanceof ServiceError) return error.reason;
  return error instanceof Error && error.name !== "" ? error.name : "error";
}

/**
 * Runs `run` in a new span, active for its duration, under the active span.
 * The span ends with outcome `ok`, or with the failure (see endSpan); a
 * ServiceError's `http_status` metadata becomes `http.response.status_code`.
 * `run`'s result or error passes through unchanged.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  run: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await run(span);
      endSpan(span, "ok");
      return result;
    } catch (error) {
      const status = error instanceof ServiceError ? error.metadata.http_status : undefined;
      if (status !== undefined) span.setAttribute("http.response.status_code", Number(status));
      endSpan(span, failureOutcome(error));
      throw error;
    }
  });
}
