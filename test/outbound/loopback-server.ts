import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the loopback server received it. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** A real HTTP/1.1 server on 127.0.0.1 with a free port, recording every request. */
export interface LoopbackServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly origin: string;
  readonly port: number;
  readonly requests: readonly ReceivedRequest[];
  /** Connections accepted, including ones that never completed a request. */
  readonly connections: () => number;
  /** Drops open connections, then closes the listener. */
  close(): Promise<void>;
}

/** Handles one request after its body has been read. */
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
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

/** A loopback port with nothing listening: a server is started and closed. */
export async function closedPort(): Promise<number> {
  const server = await startLoopbackServer((_req, res) => res.end());
  await server.close();
  return server.port;
}
