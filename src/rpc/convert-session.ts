import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ServerInfo,
  ServerInfoSchema,
  ServerState,
  type SessionInfo,
  SessionInfoSchema,
  SessionState,
} from "../../gen/mcpclient/v1/session_admin_service_pb.js";
import type { ServerSnapshot, SessionSnapshot } from "../session/session-snapshot.js";

const sessionStates = {
  active: SessionState.ACTIVE,
  inactive: SessionState.INACTIVE,
} as const satisfies Record<SessionSnapshot["state"], SessionState>;

const serverStates = {
  connected: ServerState.CONNECTED,
  lost: ServerState.LOST,
  stopped: ServerState.STOPPED,
} as const satisfies Record<ServerSnapshot["state"], ServerState>;

/** A session snapshot as the admin API shows it. */
export function toSessionInfo(session: SessionSnapshot): SessionInfo {
  return create(SessionInfoSchema, {
    sessionId: session.sessionId,
    state: sessionStates[session.state],
    servers: session.servers.map(toServerInfo),
    createdAt: timestampFromMs(session.createdAtMs),
    lastUsedAt: timestampFromMs(session.lastUsedAtMs),
    expiresAt: session.expiresAtMs === undefined ? undefined : timestampFromMs(session.expiresAtMs),
    toolCount: session.toolCount,
    calls: BigInt(session.calls),
    inFlight: session.inFlight,
    apiOrigin: session.apiOrigin,
  });
}

function toServerInfo(server: ServerSnapshot): ServerInfo {
  return create(ServerInfoSchema, {
    name: server.name,
    state: serverStates[server.state],
    lostReason: server.lostReason ?? "",
  });
}
