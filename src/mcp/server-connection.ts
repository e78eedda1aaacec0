import type { ToolPeer } from "./tool-peer.js";

/** Why a connection ended without `close()`. */
export interface LostReason {
  /**
   * `exited`: the server process exited or was killed by someone else;
   * `stdout_flood` / `stderr_flood`: the service ended a server that wrote
   * past `stdio.maxMessageBytes` / `stdio.maxStderrBytesPerSecond`;
   * `connection_lost`: a remote server dropped the connection or forgot
   * the MCP session.
   */
  readonly why: "exited" | "stdout_flood" | "stderr_flood" | "connection_lost";
  readonly exitCode?: number;
  readonly signal?: string;
}

/** How a connection ends its server: `graceMs` bounds each step for stdio servers. */
export type StopServer = (graceMs?: number) => Promise<void>;

/**
 * One live connection of one session to one configured server. It owns its
 * peer (an MCP client and its transport, or the built-in tools); nothing is
 * shared between sessions.
 */
export interface ServerConnection {
  /** The configured server name. */
  readonly name: string;
  readonly peer: ToolPeer;
  /** True once the connection closed, by `close()` or because the server went away. */
  readonly closed: boolean;
  /** Why the connection was lost; undefined while it works or after `close()`. */
  readonly lostReason: LostReason | undefined;
  /**
   * Called once when the connection closes without `close()` being called:
   * the server exited or dropped the connection; `reason` is `lostReason`.
   */
  onLost: ((name: string, reason: LostReason) => void) | undefined;
  /**
   * Ends the server (child process, HTTP session) and closes the peer.
   * Idempotent. `graceMs` shortens a stdio server's grace (at shutdown).
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Declares the connection broken (a transport request failed), fires
   * `onLost` once and closes the peer. The reason is the transport's, or
   * `connection_lost`.
   */
  markLost(): void;
}

/**
 * Wraps a peer. `stop` runs before the peer closes (to end a remote session
 * while the connection still works, or to stop a process within a grace).
 * `transportLostReason` tells why the transport ended on its own. The
 * peer's `onClosed` may fire more than once; the state changes only on the
 * first call.
 */
export function createServerConnection(
  name: string,
  peer: ToolPeer,
  stop: StopServer,
  transportLostReason: () => LostReason | undefined = () => undefined,
): ServerConnection {
  let closed = false;
  let closing: Promise<void> | undefined;
  let lostReason: LostReason | undefined;
  const connection: ServerConnection = {
    name,
    peer,
    get closed() {
      return closed;
    },
    get lostReason() {
      return lostReason;
    },
    onLost: undefined,
    close(graceMs) {
      closing ??= (async () => {
        closed = true;
        try {
          await stop(graceMs);
        } finally {
          await peer.close();
        }
      })();
      return closing;
    },
    markLost() {
      if (closed) return;
      closed = true;
      const reason = transportLostReason() ?? { why: "connection_lost" };
      lostReason = reason;
      connection.onLost?.(name, reason);
      connection.close().catch(() => {});
    },
  };
  peer.onClosed = () => connection.markLost();
  return connection;
}
