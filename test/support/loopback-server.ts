import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./loopback-port.js";

/** One request as the loopback server received it. */
export interface ReceivedRequest {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** A real HTTP/1.1 server on 127.0.0.1 with a free port, recording every request. */
export interface LoopbackServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly origin: string;
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: readonly ReceivedRequest[];
  /** Connections accepted, including ones that never completed a request. */
  readonly connections: () => number;
  /** Drops open connections, then closes the listener. */
  close(): Promise<void>;
}

/** Handles one request after its body has been read and recorded. */
export type LoopbackHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  received: ReceivedRequest,
) => void;

/** Starts a loopback server; the handler sees each request after its body is read. */
export async function startLoopbackServer(handler: LoopbackHandler): Promise<LoopbackServer> {
  const requests: ReceivedRequest[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(received);
      handler(req, res, received);
    });
  });
  server.on("connection", () => connections++);
  const port = await listenOnLoopback(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Loopback servers started on demand; `closeAll` closes every one (call it in afterEach). */
export interface LoopbackPool {
  serve(handler: LoopbackHandler): Promise<LoopbackServer>;
  closeAll(): Promise<void>;
}

/** Creates an empty pool. */
export function createLoopbackPool(): LoopbackPool {
  const servers: LoopbackServer[] = [];
  return {
    async serve(handler) {
      const server = await startLoopbackServer(handler);
      servers.push(server);
      return server;
    },
    async closeAll() {
      await Promise.all(servers.splice(0).map((s) => s.close()));
    },
  };
}

/** Writes `value` as an application/json response, unless the response is already gone. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}
