import type { ServerResponse } from "node:http";
import type { Http2SecureServer, Http2Server, Http2Session } from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import type { RequestHandler } from "../app.js";

/** Tracks requests and connections so that shutdown can drain them. */
export interface Drain {
  /** Wraps the app's handler to count in-flight requests. */
  readonly handler: RequestHandler;
  /** Follows an HTTP/2 server's sessions, to send them GOAWAY on drain. */
  trackSessions(server: Http2Server | Http2SecureServer): void;
  /** Follows a listener's sockets, to end them after the drain. */
  trackSockets(server: NetServer): void;
  /**
   * Starts draining: HTTP/2 sessions get GOAWAY, idle HTTP/1.1 connections
   * close, busy ones close after their response. Resolves true when every
   * request finished within `graceMs`, false when the time ran out.
   */
  start(graceMs: number): Promise<boolean>;
  /** Resolves when no request is in flight, or after `limitMs`. */
  idle(limitMs: number): Promise<boolean>;
  /** Ends every session and socket still open. */
  destroyAll(): void;
}

/** Creates a Drain around the app's request handler. */
export function createDrain(inner: RequestHandler): Drain {
  let draining = false;
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  // In-flight HTTP/1.1 responses per connection; a connection at 0 is idle.
  const http1 = new Map<Socket, Set<ServerResponse>>();
  let inFlight = 0;

  const finished = (res: ServerResponse | undefined, socket: Socket | undefined) => {
    inFlight--;
    if (res && socket) http1.get(socket)?.delete(res);
    if (inFlight === 0) for (const wake of waiters) wake();
  };

  const handler: RequestHandler = (req, res) => {
    inFlight++;
    const response = req.httpVersionMajor === 1 ? (res as ServerResponse) : undefined;
    const socket = response ? (req.socket as Socket) : undefined;
    if (response && socket) {
      if (!http1.has(socket)) {
        http1.set(socket, new Set());
        socket.once("close", () => http1.delete(socket));
      }
      http1.get(socket)?.add(response);
      if (draining) closeAfter(response);
    }
    res.once("close", () => finished(response, socket));
    inner(req, res);
  };

  const idle = (limitMs: number) =>
    new Promise<boolean>((resolve) => {
      if (inFlight === 0) return resolve(true);
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        resolve(false);
      }, limitMs);
      waiters.add(wake);
    });

  return {
    handler,
    trackSessions(server) {
      server.on("session", (session: Http2Session) => {
        sessions.add(session);
        session.once("close", () => sessions.delete(session));
        if (draining) session.close();
      });
    },
    trackSockets(server) {
      server.on("connection", (socket: Socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
      });
    },
    start(graceMs) {
      draining = true;
      for (const session of sessions) session.close();
      for (const [socket, responses] of http1) {
        if (responses.size === 0) socket.end();
        for (const response of responses) closeAfter(response);
      }
      return idle(graceMs);
    },
    idle,
    destroyAll() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

// An HTTP/1.1 client learns from this header not to send more requests on the connection.
function closeAfter(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader("connection", "close");
}
