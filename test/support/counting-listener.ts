import { type AddressInfo, createServer, type Server, type Socket } from "node:net";

/**
 * A raw TCP listener on an IPv4 loopback address (and on [::1] when asked
 * and the host has IPv6 loopback) that counts every accepted connection.
 * Whatever arrives gets a plain `HTTP/1.1` answer (200 with `{}` unless told
 * otherwise), so a connection that should never have been made completes
 * instead of hanging.
 */
export interface CountingListener {
  /** The IPv4 address it listens on. */
  readonly host: string;
  /** The IPv4 port. */
  readonly port: number;
  /** The [::1] port (the IPv4 one when it was free there), or undefined without [::1]. */
  readonly port6: number | undefined;
  /** Connections accepted so far on either address. */
  connections(): number;
  /** The first bytes each connection sent (an HTTP request head), as latin1 text. */
  heads(): readonly string[];
  close(): Promise<void>;
}

/** Options of startCountingListener. */
export interface CountingListenerOptions {
  /** An IPv4 loopback address (default 127.0.0.1). */
  readonly host?: string;
  /** The port (default 0: a free one). */
  readonly port?: number;
  /** Also listen on [::1] (default true), on the IPv4 port when it is free there. */
  readonly ipv6?: boolean;
  /** The status of every answer (default 200). */
  readonly status?: number;
}

/**
 * Starts a counting listener. On 127.0.0.1 it also catches what a broken
 * guard would send to 0.0.0.0, `::ffff:127.0.0.1` and `::ffff:0.0.0.0` at
 * its port, and to [::] at `port6`: those all land on loopback.
 */
export async function startCountingListener(
  options: CountingListenerOptions = {},
): Promise<CountingListener> {
  const { host = "127.0.0.1", ipv6 = true, status = 200 } = options;
  const answer = [
    `HTTP/1.1 ${status} Counted`,
    "content-type: application/json",
    "content-length: 2",
    "connection: close",
    "",
    "{}",
  ].join("\r\n");
  let count = 0;
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket): void => {
    count++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.once("data", (chunk: Buffer) => {
      heads.push(chunk.toString("latin1"));
      socket.end(answer);
    });
  };
  const v4 = createServer(onConnection);
  const port = await listen(v4, host, options.port ?? 0);
  const servers = [v4];
  let port6: number | undefined;
  if (ipv6) {
    // The IPv4 port first, so that [::] at `port` lands here too; any port otherwise.
    for (const candidate of [port, 0]) {
      const v6 = createServer(onConnection);
      port6 = await listen(v6, "::1", candidate).catch(() => undefined);
      if (port6 !== undefined) {
        servers.push(v6);
        break;
      }
    }
  }
  return {
    host,
    port,
    port6,
    connections: () => count,
    heads: () => heads,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}

/** Two counting listeners on one port; see startLoopbackPair. */
export interface LoopbackPair {
  /**
   * On 127.0.0.1 and [::1] (same port when it can): where 0.0.0.0, [::] and
   * loopback literals at `port` land. Tests expect it to see nothing.
   */
  readonly trap: CountingListener;
  /**
   * On 127.0.0.2 at the same port: the address tests hand out as the one
   * that is allowed (development profile), so a guard that connects to an
   * allowed address, or a broken one that picks the first answer, stays on
   * loopback and is counted.
   */
  readonly upstream: CountingListener;
  /** The port both listen on. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts a trap on 127.0.0.1 and an upstream on 127.0.0.2 sharing a free
 * port; the upstream answers `upstreamStatus` (default 200).
 */
export async function startLoopbackPair(upstreamStatus = 200): Promise<LoopbackPair> {
  for (let attempt = 0; ; attempt++) {
    const trap = await startCountingListener();
    try {
      const upstream = await startCountingListener({
        host: "127.0.0.2",
        port: trap.port,
        ipv6: false,
        status: upstreamStatus,
      });
      return {
        trap,
        upstream,
        port: trap.port,
        close: async () => {
          await Promise.all([trap.close(), upstream.close()]);
        },
      };
    } catch (error) {
      await trap.close();
      if (attempt >= 4) throw error;
    }
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
