import { Agent, createServer, request, type Server } from "node:http";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createDrain } from "../../src/server/drain.js";
import { listenOnLoopback } from "../support/loopback-port.js";

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** An HTTP/1.1 server behind a Drain whose handler answers after `delayMs`. */
async function serve(delayMs: number) {
  const drain = createDrain((_req, res) => {
    setTimeout(() => res.end("done"), delayMs);
  });
  server = createServer(drain.handler);
  drain.trackSockets(server);
  const port = await listenOnLoopback(server);
  return { drain, port };
}

function get(port: number, agent: Agent) {
  return new Promise<{ socket: Socket; connection: string | undefined; body: string }>(
    (resolve, reject) => {
      const req = request({ port, host: "127.0.0.1", agent, path: "/" }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({ socket: req.socket as Socket, connection: res.headers.connection, body }),
        );
      });
      req.on("error", reject);
      req.end();
    },
  );
}

describe("createDrain", () => {
  it("closes idle keep-alive HTTP/1.1 connections when the drain starts", async () => {
    const { drain, port } = await serve(0);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(port, agent);
    expect(first.connection).toBe("keep-alive");
    const closed = new Promise((resolve) => first.socket.once("close", resolve));
    expect(await drain.start(1_000)).toBe(true);
    await closed;
    agent.destroy();
  });

  it("lets a busy HTTP/1.1 request finish and marks its answer connection: close", async () => {
    const { drain, port } = await serve(200);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const pending = get(port, agent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const drained = drain.start(5_000);
    const answer = await pending;
    expect(answer).toMatchObject({ body: "done", connection: "close" });
    expect(await drained).toBe(true);
    agent.destroy();
  });

  it("reports false when requests outlast the grace period", async () => {
    const { drain, port } = await serve(1_000);
    const agent = new Agent({ keepAlive: false });
    const pending = get(port, agent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await drain.start(100)).toBe(false);
    drain.destroyAll();
    await expect(pending).rejects.toThrow();
  });
});
