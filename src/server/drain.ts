import type { Server as Http1Server } from "node:http";
import type { Http2SecureServer, Http2Server, Http2Session } from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import type { RequestHandler } from "../app.js";

/**
 * Counts in-flight requests and open connections so that shutdown can wait
 * for the first and then end the second.
 */
export function createDrain(inner: RequestHandler) {
  let inFlight = 0;
  let draining = false;
  let onIdle: (() => void) | undefined;
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  const http1Servers: Http1Server[] = [];

  const handler: RequestHandler = (req, res) => {
    inFlight++;
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
    // An HTTP/1.1 client learns from this header not to reuse the connection.
    if (draining && req.httpVersionMajor === 1) res.setHeader("connection", "close");
    inner(req, res);
  };

  return {
    handler,
    track(server: Http1Server | Http2Server | Http2SecureServer) {
      if ("closeIdleConnections" in server) http1Servers.push(server);
      server.on("session", (session: Http2Session) => {
        sessions.add(session);
        session.once("close", () => sessions.delete(session));
        if (draining) session.close();
      });
    },
    trackSockets(server: NetServer) {
      server.on("connection", (socket: Socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
      });
    },
    /** Resolves true when every request finished within `graceMs`, false otherwise. */
    start(graceMs: number): Promise<boolean> {
      draining = true;
      for (const session of sessions) session.close();
      for (const server of http1Servers) server.closeIdleConnections();
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), graceMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}
