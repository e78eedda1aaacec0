import { create } from "@bufbuild/protobuf";
import {
  type CallToolStreamResponse,
  CallToolStreamResponseSchema,
} from "../../gen/mcpclient/v1/session_service_pb.js";
import type { ToolCallResult } from "../mcp/result-schemas.js";
import type { ToolCallProgress } from "../mcp/tool-peer.js";
import { toCallToolResponse } from "./convert-tool.js";
import type { ProgressEvent } from "./progress-stream.js";

/** Maps one event of a streamed tool call to its CallToolStreamResponse. */
export function toCallToolStreamResponse(
  event: ProgressEvent<ToolCallProgress, ToolCallResult>,
): CallToolStreamResponse {
  if (event.kind === "result") {
    return create(CallToolStreamResponseSchema, {
      event: { case: "result", value: toCallToolResponse(event.value) },
    });
  }
  const { progress, total, message } = event.value;
  return create(CallToolStreamResponseSchema, {
    event: { case: "progress", value: { progress, total, message: message ?? "" } },
  });
}
