import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { OutboundClient, OutboundRequest, OutboundResponse } from "./http-client.js";
import { OutboundError } from "./http-client.js";

/** Options of createNodeHttpClient. */
export interface NodeHttpClientOptions {
  /** Resolves host names, e.g. to pin connections to addresses checked beforehand. */
  readonly lookup?: LookupFunction;
}

/**
 * An OutboundClient on `node:http`/`node:https`. Every request gets its own
 * connection (`agent: false`), redirects are returned as responses, and
 * `timeoutMs` bounds connect, send and the whole body read together. Rejects
 * only with OutboundError; an `unreachable` message names an error code and
 * the origin, never the path, query or headers. An unsupported scheme or an
 * invalid header is `unreachable` too: no connection is attempted.
 */
export function createNodeHttpClient(options: NodeHttpClientOptions = {}): OutboundClient {
  return (request) => send(request, options.lookup);
}

function send(request: OutboundRequest, lookup?: LookupFunction): Promise<OutboundResponse> {
  const { url, signal, timeoutMs } = request;
  const origin = `${url.protocol}//${url.host}`;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OutboundError("aborted", `request to ${origin} was aborted`));
      return;
    }
    let settled = false;
    let clientRequest: ClientRequest | undefined;
    let response: IncomingMessage | undefined;
    const settle = (outcome: OutboundResponse | OutboundError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // Also on success: a truncated body leaves the rest of the stream unread.
      response?.destroy();
      clientRequest?.destroy();
      if (outcome instanceof OutboundError) reject(outcome);
      else resolve(outcome);
    };
    const unreachable = (code: string, phase: string, cause?: unknown): void =>
      settle(new OutboundError("unreachable", `${code} ${phase} ${origin}`, { cause }));
    const onAbort = (): void =>
      settle(new OutboundError("aborted", `request to ${origin} was aborted`));
    const timer = setTimeout(
      () =>
        settle(
          new OutboundError("timeout", `no complete answer from ${origin} in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });

    const requestFn = { "http:": httpRequest, "https:": httpsRequest }[url.protocol];
    if (requestFn === undefined) return unreachable("ERR_UNSUPPORTED_SCHEME", "for", undefined);
    const body = toBuffer(request.body);
    try {
      clientRequest = requestFn({
        protocol: url.protocol,
        // node wants IPv6 literals without the brackets URL keeps.
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: withContentLength(request.headers, body),
        agent: false,
        ...(lookup ? { lookup } : {}),
      });
    } catch (error) {
      return unreachable(errorCode(error), "building a request to", error);
    }
    clientRequest.on("error", (error) => unreachable(errorCode(error), "connecting to", error));
    clientRequest.on("response", (res) => {
      response = res;
      readBody(res, request.maxResponseBytes, (result) => {
        if ("error" in result) {
          unreachable(errorCode(result.error), "reading the response from", result.error);
          return;
        }
        settle({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? "",
          headers: flattenHeaders(res.headers),
          ...result,
        });
      });
    });
    clientRequest.end(body);
  });
}

type BodyResult = { body: Buffer; truncated: boolean } | { error: unknown };

/** Calls `done` once; the caller destroys `res` afterwards, which stops a truncated read. */
function readBody(res: IncomingMessage, max: number, done: (result: BodyResult) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (result: BodyResult): void => {
    if (finished) return;
    finished = true;
    done(result);
  };
  res.on("data", (chunk: Buffer) => {
    if (finished) return;
    const room = max - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      finish({ body: Buffer.concat(chunks, max), truncated: true });
      return;
    }
    chunks.push(chunk);
    size += chunk.length;
  });
  res.on("end", () => finish({ body: Buffer.concat(chunks, size), truncated: false }));
  res.on("error", (error) => finish({ error }));
  // A connection closed mid-body ends with `close` and no `end`.
  res.on("close", () => finish({ error: { code: "ECONNRESET" } }));
}

function toBuffer(body: string | Uint8Array | undefined): Buffer | undefined {
  if (body === undefined) return undefined;
  return typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
}

function withContentLength(
  headers: Readonly<Record<string, string>> | undefined,
  body: Buffer | undefined,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    // The length of the body we send is the only one that can be right.
    if (body !== undefined && name.toLowerCase() === "content-length") continue;
    out[name] = value;
  }
  if (body !== undefined) out["content-length"] = String(body.length);
  return out;
}

function flattenHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

// Only the code: node's messages for some errors quote host or header names.
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && /^[A-Z0-9_]{1,64}$/.test(code) ? code : "ERR_CONNECTION";
}
