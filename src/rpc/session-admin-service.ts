import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type GetSessionRequest,
  type GetSessionResponse,
  GetSessionResponseSchema,
  type ListSessionsRequest,
  type ListSessionsResponse,
  ListSessionsResponseSchema,
  type SessionAdminService,
} from "../../gen/mcpclient/v1/session_admin_service_pb.js";
import { ServiceError } from "../errors.js";
import type { SessionManager } from "../session/session-manager.js";
import { kCaller } from "./caller-context.js";
import { toSessionInfo } from "./convert-session.js";
import { decodePageToken, encodePageToken, resolvePageSize } from "./session-paging.js";

/**
 * The SessionAdminService handlers: read-only views of the sessions for
 * operators. Every method first refuses any caller the auth interceptor did
 * not authenticate as an operator with PERMISSION_DENIED `OPERATOR_REQUIRED`.
 * Errors are ServiceErrors, mapped to RPC errors by the error interceptor.
 */
export class SessionAdminServiceImpl implements ServiceImpl<typeof SessionAdminService> {
  constructor(private readonly sessions: Pick<SessionManager, "list" | "describe">) {}

  listSessions(req: ListSessionsRequest, ctx: HandlerContext): ListSessionsResponse {
    requireOperator(ctx);
    const limit = resolvePageSize(req.pageSize);
    const afterSessionId = decodePageToken(req.pageToken);
    const { sessions, more } = this.sessions.list({ afterSessionId, limit });
    const last = sessions.at(-1);
    return create(ListSessionsResponseSchema, {
      sessions: sessions.map(toSessionInfo),
      nextPageToken: more && last !== undefined ? encodePageToken(last.sessionId) : "",
    });
  }

  getSession(req: GetSessionRequest, ctx: HandlerContext): GetSessionResponse {
    requireOperator(ctx);
    const session = toSessionInfo(this.sessions.describe(req.sessionId));
    return create(GetSessionResponseSchema, { session });
  }
}

function requireOperator(ctx: HandlerContext): void {
  if (!ctx.values.get(kCaller).operator) {
    throw new ServiceError(
      "OPERATOR_REQUIRED",
      "Only operators may call this service: use an operator API key or client certificate.",
    );
  }
}
