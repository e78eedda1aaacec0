import type { TLSSocket } from "node:tls";
import { apiKeyHeader, type CallerCredentials } from "../auth/caller-auth.js";
import type { HttpRequest } from "./http-route.js";

/**
 * What a Node request's connection shows about its caller: the subject of a
 * client certificate the server verified (unverified ones count as none),
 * and the remote address. The RPCs read the API key from their headers (see
 * the auth interceptor); the plain HTTP endpoints use requestCredentials.
 */
export function connectionCredentials(req: HttpRequest): CallerCredentials {
  return { certificateSubject: subjectOf(req), remoteAddress: req.socket.remoteAddress };
}

// A connection's certificate does not change, and Node builds a new object for
// each getPeerCertificate(): it is read once per connection, not per request.
// Keyed by the HTTP/2 session (each stream has a socket proxy of its own) or
// the HTTP/1.1 socket.
const subjects = new WeakMap<object, string | undefined>();

function subjectOf(req: HttpRequest): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true) return undefined;
  const connection: object = "stream" in req ? (req.stream.session ?? socket) : socket;
  if (subjects.has(connection)) return subjects.get(connection);
  const certificate = socket.getPeerCertificate?.();
  const cn = certificate?.subject?.CN;
  const subject = (Array.isArray(cn) ? cn.join(",") : cn) ?? certificate?.fingerprint256;
  subjects.set(connection, subject);
  return subject;
}

/** connectionCredentials plus the request's `x-api-key` (its first value when repeated). */
export function requestCredentials(req: HttpRequest): CallerCredentials {
  const apiKey = req.headers[apiKeyHeader];
  return { ...connectionCredentials(req), apiKey: Array.isArray(apiKey) ? apiKey[0] : apiKey };
}
