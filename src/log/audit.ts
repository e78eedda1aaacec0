import type { LostReason } from "../mcp/server-connection.js";
import type { Logger } from "./logger.js";

/** Why a session was closed. */
export type SessionEndWhy =
  | "closed"
  | "shutdown"
  | "evicted"
  | "idle_timeout"
  | "max_lifetime"
  | "token_expired";

/** One audit event: what happened to which session, never a credential. */
export type AuditEvent =
  | {
      readonly event: "init_accepted";
      readonly session_id: string;
      readonly caller: string;
      readonly reused: boolean;
    }
  | {
      readonly event: "init_rejected";
      readonly session_id: string;
      readonly caller: string;
      readonly reason: string;
    }
  | { readonly event: "session_replaced"; readonly session_id: string }
  | {
      readonly event: "session_restarted";
      readonly session_id: string;
      /** The server whose loss made the restart necessary. */
      readonly server: string;
    }
  | {
      readonly event: "session_closed";
      readonly session_id: string;
      /**
       * `evicted`: expired or lost, removed to make room under `limits.maxSessions`;
       * `idle_timeout`, `max_lifetime`, `token_expired`: ended by its lifetime.
       */
      readonly why: SessionEndWhy;
    }
  | { readonly event: "auth_failed"; readonly reason: string; readonly remote_address: string }
  | {
      readonly event: "session_lost";
      readonly session_id: string;
      readonly server: string;
      readonly why: LostReason["why"];
    }
  | {
      readonly event: "tool_called";
      readonly session_id: string;
      readonly server: string;
      readonly tool: string;
      readonly duration_ms: number;
      /** `ok`, `is_error` (the tool reported a failure), or the error reason. */
      readonly outcome: string;
      readonly arguments?: unknown;
    };

/** Writes audit events. */
export type AuditLog = (event: AuditEvent) => void;

/**
 * Audit events as structured log lines, one per event, marked `audit: true`
 * with the event name as message. Tool arguments are dropped unless
 * `logToolArguments` is set (and then redacted like every log line).
 */
export function createAuditLog(logger: Logger, options: { logToolArguments: boolean }): AuditLog {
  const audit = logger.child({ audit: true });
  return (event) => {
    if (event.event === "tool_called" && !options.logToolArguments) {
      const { arguments: _dropped, ...rest } = event;
      audit.info(rest, event.event);
      return;
    }
    audit.info(event, event.event);
  };
}
