import { type AddressInfo, createServer, type Server } from "node:net";

/**
 * Listens on 127.0.0.1 at `port` (default 0: a free port) and resolves with
 * the bound port; rejects when listening fails (for example EADDRINUSE).
 */
export function listenOnLoopback(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A loopback port with nothing listening: a server is bound to a free port and closed. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
