import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { joinUnderBase } from "../outbound/join-url.js";
import { statusLine } from "../outbound/status-line.js";
import type { BuiltinServerOptions, BuiltinTool } from "./builtin-tool.js";
import { failureReason, jsonResult } from "./tool-results.js";

/**
 * `validate_settings`: `POST {apiUrl}/settings/validate` with the
 * bearer token. The result text is JSON, `{"status":"success"}` on 2xx, else
 * `{"error":"Connection test failed: <reason>","error_type":"API_ERROR",
 * "status":"error"}` with `isError: true`; the reason is the status code and
 * its standard reason phrase, or a fixed text when no response came.
 */
export const validateSettingsTool: BuiltinTool<Record<string, never>> = {
  name: "validate_settings",
  title: "Validate settings",
  description:
    "Checks that the configured API URL and token are accepted by the API. " +
    "Returns {status: success} or {status: error, error, error_type}.",
  inputSchema: {},
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
  run: (_args, options, signal) => validateSettings(options, signal),
};

async function validateSettings(
  options: BuiltinServerOptions,
  signal: AbortSignal,
): Promise<CallToolResult> {
  let reason: string;
  try {
    const response = await options.http({
      url: joinUnderBase(options.apiUrl, "settings/validate"),
      method: "POST",
      headers: { Authorization: `Bearer ${options.jwtToken}` },
      // An empty body, so node sends `Content-Length: 0` rather than chunks.
      body: "",
      timeoutMs: options.requestTimeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      signal,
    });
    if (response.status >= 200 && response.status < 300) {
      return jsonResult({ status: "success" });
    }
    reason = statusLine(response.status);
  } catch (error) {
    reason = failureReason(error);
  }
  // Key order is part of the contract: clients of the original compare text.
  return jsonResult(
    { error: `Connection test failed: ${reason}`, error_type: "API_ERROR", status: "error" },
    true,
  );
}
