import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import type { OutboundResponse } from "../outbound/http-client.js";
import { joinUnderBase, PathEscapesBaseError } from "../outbound/join-url.js";
import type { BuiltinServerOptions, BuiltinTool } from "./builtin-tool.js";
import { errorResult, failureReason, redactToken } from "./tool-results.js";

const inputSchema = {
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("GET").describe("HTTP method"),
  path: z.string().min(1).describe("Path relative to the API URL, e.g. `items/42`"),
  query: z.record(z.string(), z.string()).optional().describe("Query parameters"),
  body: z.unknown().optional().describe("JSON request body; not allowed with GET"),
};

const outputSchema = {
  status: z.number().int().describe("HTTP status of the response"),
  body: z.unknown().describe("Parsed JSON if the response is JSON, else its text"),
  truncated: z.boolean().describe("True when the body was cut at the size limit"),
};

/**
 * `api_request`: one request under the API URL with the bearer
 * token. Its result is `{status, body, truncated}` as text and as
 * `structuredContent`; a non-2xx status is such a result with `isError`.
 * Paths that leave the API URL, a body with GET, and requests that get no
 * response are `isError` results with a fixed reason; the first two make no
 * request.
 */
export const apiRequestTool: BuiltinTool<typeof inputSchema> = {
  name: "api_request",
  title: "API request",
  description:
    "Sends an authenticated HTTP request to the user's API. `path` is relative to the " +
    "API URL and may not leave it. Returns the status, the body and whether it was truncated.",
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  run: (args, options, signal) => apiRequest(options, args, signal),
};

interface ApiRequestArgs {
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly body?: unknown;
}

async function apiRequest(
  options: BuiltinServerOptions,
  args: ApiRequestArgs,
  signal: AbortSignal,
): Promise<CallToolResult> {
  let url: URL;
  try {
    url = joinUnderBase(options.apiUrl, args.path, args.query);
  } catch (error) {
    // Only PathEscapesBaseError promises a message that never quotes the path.
    const reason = error instanceof PathEscapesBaseError ? error.message : "invalid path";
    return errorResult(`Refused: ${reason}`);
  }
  const hasBody = args.body !== undefined;
  if (hasBody && args.method === "GET") {
    return errorResult("Refused: a body is not allowed with GET");
  }
  const headers: Record<string, string> = {
    Authorization: `Bearer ${options.jwtToken}`,
    Accept: "application/json, */*;q=0.5",
  };
  if (hasBody) headers["Content-Type"] = "application/json";
  let response: OutboundResponse;
  try {
    response = await options.http({
      url,
      method: args.method,
      headers,
      body: hasBody ? JSON.stringify(args.body) : emptyBody(args.method),
      timeoutMs: options.requestTimeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      signal,
    });
  } catch (error) {
    return errorResult(`API request failed: ${failureReason(error)}`);
  }
  const result = {
    status: response.status,
    body: decodeBody(response, options.jwtToken),
    truncated: response.truncated,
  };
  return {
    content: [{ type: "text", text: JSON.stringify(result) }],
    structuredContent: result,
    ...(response.status >= 200 && response.status < 300 ? {} : { isError: true }),
  };
}

// Node sends POST, PUT and PATCH without a body chunked; many APIs want
// `Content-Length: 0` instead.
function emptyBody(method: string): string | undefined {
  return method === "GET" || method === "DELETE" ? undefined : "";
}

/** JSON when the response says so and parses whole; its text otherwise. */
function decodeBody(response: OutboundResponse, token: string): unknown {
  const text = response.body.toString("utf8");
  if (!response.truncated && isJson(response.headers)) {
    try {
      const value: unknown = JSON.parse(text);
      // Looking in the re-serialized value also catches a token that the
      // upstream wrote with JSON escapes.
      const json = JSON.stringify(value);
      return json.includes(token) ? JSON.parse(redactToken(json, token)) : value;
    } catch {
      // Declared JSON that does not parse is still worth showing as text.
    }
  }
  return redactToken(text, token);
}

function isJson(headers: Readonly<Record<string, string>>): boolean {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === "content-type");
  return /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i.test(entry?.[1] ?? "");
}
