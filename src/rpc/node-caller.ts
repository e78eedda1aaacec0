import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { CallerCredentials } from "../auth/caller-auth.js";

/**
 * What a Node request's connection shows about its caller: the subject of a
 * client certificate the server verified (unverified ones count as none),
 * and the remote address. The API key is a header, read by the callers.
 */
export function connectionCredentials(
  req: IncomingMessage | Http2ServerRequest,
): CallerCredentials {
  const socket = req.socket as Partial<TLSSocket>;
  const certificate = socket.authorized === true ? socket.getPeerCertificate?.() : undefined;
  const cn = certificate?.subject?.CN;
  const subject = (Array.isArray(cn) ? cn.join(",") : cn) ?? certificate?.fingerprint256;
  return { certificateSubject: subject, remoteAddress: req.socket.remoteAddress };
}
