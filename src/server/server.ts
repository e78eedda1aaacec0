import { readFileSync } from "node:fs";
import { createServer as createHttp1Server } from "node:http";
import { createServer as createHttp2Server, createSecureServer } from "node:http2";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
} from "node:net";
import type { App } from "../app.js";
import type { Config } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { createDrain } from "./drain.js";
import { routeByPreface } from "./protocol-sniffer.js";

// How long the answers of handlers ended at the end of the grace period may take to go out.
const responseFlushMs = 1_000;
// The most of the shutdown grace period kept for closing sessions (a quarter when shorter).
const closeReserveMs = 2_000;

/** A listening server. */
export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** The base URL, for example `http://127.0.0.1:8080`. */
  readonly url: string;
  /**
   * Stops accepting connections, sends HTTP/2 GOAWAY, lets in-flight
   * requests finish for up to `shutdownGraceMs` less the time kept for
   * closing sessions (a quarter, at most 2 s), ends the rest with
   * `SERVER_SHUTTING_DOWN`, then closes every session and every connection,
   * all within `shutdownGraceMs`. Idempotent.
   */
  shutdown(): Promise<void>;
}

/**
 * Listens on one TCP port. Without TLS it serves HTTP/1.1 and cleartext
 * HTTP/2 with prior knowledge side by side; with `tls` it serves TLS and
 * negotiates h2 or http/1.1 by ALPN.
 */
export async function startServer(
  app: App,
  config: Config["server"],
  logger: Logger,
): Promise<RunningServer> {
  const drain = createDrain(app.handler);
  const h2Options = { settings: { maxConcurrentStreams: 1000 } };
  let listener: NetServer;
  if (config.tls) {
    const secure = createSecureServer(
      {
        ...h2Options,
        allowHTTP1: true,
        cert: readFileSync(config.tls.certFile),
        key: readFileSync(config.tls.keyFile),
        // Unverified clients still connect, so that they get an RPC error
        // (CLIENT_CERTIFICATE_REQUIRED) instead of a bare handshake failure.
        ...(config.tls.clientCaFile === undefined
          ? {}
          : {
              ca: readFileSync(config.tls.clientCaFile),
              requestCert: true,
              rejectUnauthorized: false,
            }),
      },
      drain.handler,
    );
    drain.trackSessions(secure);
    listener = secure;
  } else {
    const h2 = createHttp2Server(h2Options, drain.handler);
    const http1 = createHttp1Server(drain.handler);
    drain.trackSessions(h2);
    // Node arms headersTimeout/requestTimeout checks on 'listening'; this
    // server never listens itself, since routeByPreface hands it its sockets.
    http1.emit("listening");
    listener = createNetServer((socket) => routeByPreface(socket, { h2, http1 }));
  }
  drain.trackSockets(listener);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(config.port, config.host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const address = listener.address() as AddressInfo;
  const scheme = config.tls ? "https" : "http";
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let stopping: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    url: `${scheme}://${host}:${address.port}`,
    shutdown() {
      stopping ??= (async () => {
        logger.info("shutting down: no new connections");
        listener.close();
        app.drain();
        const grace = config.shutdownGraceMs;
        const deadline = performance.now() + grace;
        // The end of the grace period is kept for closing sessions, so that
        // the whole shutdown fits in it.
        const finished = await drain.start(grace - Math.min(grace / 4, closeReserveMs));
        logger.info({ in_flight_finished: finished }, "draining done; closing sessions");
        await app.close(deadline - performance.now());
        // Handlers ended by close() still write their SERVER_SHUTTING_DOWN answers.
        await drain.idle(Math.max(0, Math.min(responseFlushMs, deadline - performance.now())));
        drain.destroyAll();
        logger.info("shutdown complete");
      })();
      return stopping;
    },
  };
}

/**
 * On the first SIGTERM or SIGINT, shuts the server down and exits 0; on a
 * failed shutdown exits 1.
 */
export function exitOnSignals(server: RunningServer, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "signal received");
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}
