import type { Server as Http1Server } from "node:http";
import type { Http2Server } from "node:http2";
import type { Socket } from "node:net";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** How long a new connection may take to send its first bytes, by default. */
export const defaultFirstBytesTimeoutMs = 30_000;

/**
 * Serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on one socket
 * listener: it reads a connection's first bytes, decides by the HTTP/2
 * preface, puts the bytes back and hands the socket to the matching server.
 * It decides as soon as the bytes differ from the preface, so an HTTP/1.1
 * request never waits for more data than it sent. A connection that has not
 * shown its protocol within `firstBytesTimeoutMs` is closed.
 */
export function routeByPreface(
  socket: Socket,
  servers: { h2: Http2Server; http1: Http1Server },
  firstBytesTimeoutMs = defaultFirstBytesTimeoutMs,
): void {
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, preface.length);
    const isH2 = seen.subarray(0, length).equals(preface.subarray(0, length));
    if (isH2 && seen.length < preface.length) return;
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("timeout", onSilent);
    socket.off("error", onError);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    if (isH2) {
      // The HTTP/2 session reads what is already buffered on the socket.
      servers.h2.emit("connection", socket);
      return;
    }
    servers.http1.emit("connection", socket);
    // Paused above, so the bytes put back would sit unread by the HTTP/1 parser.
    socket.resume();
  };
  const onEnd = () => socket.destroy();
  const onSilent = () => socket.destroy();
  // A reset before the first bytes would otherwise be an unhandled 'error'.
  const onError = () => socket.destroy();
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("timeout", onSilent);
  socket.on("error", onError);
  socket.setTimeout(firstBytesTimeoutMs);
}
