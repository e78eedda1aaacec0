import { create, type JsonObject } from "@bufbuild/protobuf";
import {
  type CallToolResponse,
  CallToolResponseSchema,
} from "../../gen/mcpclient/v1/session_service_pb.js";
import { type Tool, ToolSchema } from "../../gen/mcpclient/v1/tool_pb.js";
import type { ToolCallResult } from "../mcp/result-schemas.js";
import type { SessionTool } from "../mcp/tool-index.js";
import { toContentItem, toIcons } from "./convert-content.js";

/** Maps a session tool to the contract's Tool, field by field. */
export function toProtoTool({ name, server, tool }: SessionTool): Tool {
  const a = tool.annotations;
  return create(ToolSchema, {
    name,
    server,
    title: tool.title ?? "",
    description: tool.description ?? "",
    inputSchema: tool.inputSchema as JsonObject,
    outputSchema: tool.outputSchema as JsonObject | undefined,
    annotations:
      a === undefined
        ? undefined
        : {
            title: a.title ?? "",
            readOnlyHint: a.readOnlyHint,
            destructiveHint: a.destructiveHint,
            idempotentHint: a.idempotentHint,
            openWorldHint: a.openWorldHint,
          },
    icons: toIcons(tool.icons),
    meta: tool._meta as JsonObject | undefined,
  });
}

/** Maps an MCP tool result to CallToolResponse; nothing is dropped. */
export function toCallToolResponse(result: ToolCallResult): CallToolResponse {
  return create(CallToolResponseSchema, {
    content: result.content.map(toContentItem),
    structuredContent: result.structuredContent as JsonObject | undefined,
    isError: result.isError === true,
    meta: result._meta as JsonObject | undefined,
  });
}
