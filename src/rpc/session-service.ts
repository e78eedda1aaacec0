import { create, type JsonObject } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type CallToolRequest,
  type CallToolResponse,
  type CallToolStreamRequest,
  type CallToolStreamResponse,
  type CloseSessionRequest,
  type CloseSessionResponse,
  CloseSessionResponseSchema,
  type InitRequest,
  type InitResponse,
  InitResponseSchema,
  type ListToolsRequest,
  type ListToolsResponse,
  ListToolsResponseSchema,
  type SessionService,
} from "../../gen/mcpclient/v1/session_service_pb.js";
import type { ToolCallResult } from "../mcp/result-schemas.js";
import type { ToolCallProgress } from "../mcp/tool-peer.js";
import {
  checkToolTimeout,
  resolveToolTimeout,
  type ToolTimeoutLimits,
} from "../mcp/tool-timeout.js";
import { checkRequired } from "../session/init-request.js";
import type { SessionManager } from "../session/session-manager.js";
import { bearerToken } from "./bearer-token.js";
import { kCaller } from "./caller-context.js";
import { toCallToolResponse, toProtoTool } from "./convert-tool.js";
import { toCallToolStreamResponse } from "./convert-tool-stream.js";
import { streamProgress } from "./progress-stream.js";

/**
 * The SessionService handlers: proto in, domain call, proto out. Errors are
 * ServiceErrors, mapped to RPC errors by the error interceptor.
 */
export class SessionServiceImpl implements ServiceImpl<typeof SessionService> {
  constructor(
    private readonly sessions: SessionManager,
    private readonly limits: ToolTimeoutLimits,
  ) {}

  async init(req: InitRequest, ctx: HandlerContext): Promise<InitResponse> {
    const input = { sessionId: req.sessionId, apiUrl: req.apiUrl, jwtToken: req.jwtToken };
    const { reused } = await this.sessions.init(input, ctx.signal, ctx.values.get(kCaller).id);
    return create(InitResponseSchema, { status: "ok", reused });
  }

  async callTool(req: CallToolRequest, ctx: HandlerContext): Promise<CallToolResponse> {
    const { clients, args, timeoutMs } = await this.openToolCall(req, ctx);
    const result = await clients.callTool(req.name, args, { signal: ctx.signal, timeoutMs });
    return toCallToolResponse(result);
  }

  async *callToolStream(
    req: CallToolStreamRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<CallToolStreamResponse> {
    const { clients, args, timeoutMs } = await this.openToolCall(req, ctx);
    const events = streamProgress<ToolCallProgress, ToolCallResult>(
      (onProgress, signal) => clients.callTool(req.name, args, { signal, timeoutMs, onProgress }),
      { signal: ctx.signal },
    );
    for await (const event of events) yield toCallToolStreamResponse(event);
  }

  // The checks both tool call RPCs run before the call.
  private async openToolCall(req: CallToolRequest | CallToolStreamRequest, ctx: HandlerContext) {
    checkRequired({ session_id: req.sessionId, name: req.name });
    const requestedMs = toMs(req.timeout);
    // A bad timeout is refused before opening, which may restart the session's servers.
    checkToolTimeout(requestedMs, this.limits);
    const clients = await this.open(req.sessionId, ctx);
    // The deadline left once the session is open.
    const timeoutMs = resolveToolTimeout(requestedMs, ctx.timeoutMs(), this.limits);
    const args: JsonObject = req.arguments ?? {};
    return { clients, args, timeoutMs };
  }

  async listTools(req: ListToolsRequest, ctx: HandlerContext): Promise<ListToolsResponse> {
    const clients = await this.open(req.sessionId, ctx);
    const timeoutMs = resolveToolTimeout(undefined, ctx.timeoutMs(), this.limits);
    const tools = await clients.listTools({ signal: ctx.signal, timeoutMs });
    return create(ListToolsResponseSchema, { tools: tools.map(toProtoTool) });
  }

  // The session's clients, for the holder of its JWT (the request's bearer token).
  private open(sessionId: string, ctx: HandlerContext) {
    return this.sessions.open(sessionId, bearerToken(ctx.requestHeader), ctx.signal);
  }

  async closeSession(req: CloseSessionRequest, ctx: HandlerContext): Promise<CloseSessionResponse> {
    const closed = await this.sessions.close(req.sessionId, bearerToken(ctx.requestHeader));
    return create(CloseSessionResponseSchema, { closed });
  }
}

// A Duration whose nanos are out of range or of the other sign than its
// seconds is not a valid Duration: NaN makes checkToolTimeout refuse it.
function toMs(duration: Duration | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const { seconds, nanos } = duration;
  const valid =
    Math.abs(nanos) <= 999_999_999 && (seconds === 0n || nanos === 0 || seconds > 0n === nanos > 0);
  return valid ? Math.ceil(Number(seconds) * 1000 + nanos / 1e6) : Number.NaN;
}
