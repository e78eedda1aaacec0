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
  const socket = req.socket as Partial<TLSSocket>;
  const certificate = socket.authorized === true ? socket.getPeerCertificate?.() : undefined;
  const cn = certificate?.subject?.CN;
  const subject = (Array.isArray(cn) ? cn.join(",") : cn) ?? certificate?.fingerprint256;
  return { certificateSubject: subject, remoteAddress: req.socket.remoteAddress };
}

/** connectionCredentials plus the request's `x-api-key` (its first value when repeated). */
export function requestCredentials(req: HttpRequest): CallerCredentials {
  const apiKey = req.headers[apiKeyHeader];
  return { ...connectionCredentials(req), apiKey: Array.isArray(apiKey) ? apiKey[0] : apiKey };
}
