import type { Client } from "@modelcontextprotocol/sdk/client/index.js";

/**
 * One live MCP client connection of one session to one configured server.
 * It owns its `Client` and transport; nothing is shared between sessions.
 */
export interface ServerConnection {
  /** The configured server name. */
  readonly name: string;
  readonly client: Client;
  /** True once the connection closed, by `close()` or because the server went away. */
  readonly closed: boolean;
  /**
   * Called once when the connection closes without `close()` being called:
   * the server exited or dropped the connection.
   */
  onLost: ((name: string) => void) | undefined;
  /** Closes the client and ends the server (child process, HTTP session). Idempotent. */
  close(): Promise<void>;
  /**
   * Declares the connection broken (a transport request failed), fires
   * `onLost` once and closes the client.
   */
  markLost(): void;
}

/**
 * Wraps a client. `beforeClose` runs before the client closes its transport
 * (to end a remote session while the connection still works). `onclose`
 * handlers can fire more than once (the in-memory pair does), so the state
 * changes only on the first call.
 */
export function createServerConnection(
  name: string,
  client: Client,
  beforeClose: () => Promise<void>,
): ServerConnection {
  let closed = false;
  let closing: Promise<void> | undefined;
  const connection: ServerConnection = {
    name,
    client,
    get closed() {
      return closed;
    },
    onLost: undefined,
    close() {
      closing ??= (async () => {
        closed = true;
        try {
          await beforeClose();
        } finally {
          await client.close();
        }
      })();
      return closing;
    },
    markLost() {
      if (closed) return;
      closed = true;
      connection.onLost?.(name);
      connection.close().catch(() => {});
    },
  };
  client.onclose = () => connection.markLost();
  return connection;
}
