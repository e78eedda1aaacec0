import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { maskSecrets } from "../log/redact.js";
import { OutboundError } from "../outbound/http-client.js";

/** A result with one text item holding `value` as JSON. */
export function jsonResult(value: unknown, isError = false): CallToolResult {
  const result: CallToolResult = { content: [{ type: "text", text: JSON.stringify(value) }] };
  return isError ? { ...result, isError: true } : result;
}

/** A failed result with one plain text item. `text` must already be safe. */
export function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * Replaces every occurrence of `token` in `text`. Upstream text is not
 * ours: an API that echoes request headers would otherwise hand the
 * token to whoever reads the tool result.
 */
export function redactToken(text: string, token: string): string {
  return maskSecrets(text, [token], "[redacted]");
}

/**
 * A short, fixed reason for a request that got no response. Fixed texts
 * because an error's own message may name the host or the URL.
 */
export function failureReason(error: unknown): string {
  if (error instanceof OutboundError) {
    switch (error.kind) {
      case "timeout":
        return "request timed out";
      case "unreachable":
        return "API unreachable";
      case "aborted":
        return "request canceled";
      case "blocked":
        return "URL not allowed by the outbound policy";
    }
  }
  return "request failed";
}
