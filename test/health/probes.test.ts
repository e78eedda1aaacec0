import { connect as http2Connect } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { longCheckConfig, type Service, useServices, useUpstream } from "../integration/harness.js";

const services = useServices(useUpstream());
const { defer, holdDrainOpen } = services;

/** A service whose credential check outlasts any test, so that holdDrainOpen can hold it. */
const start = (): Promise<Service> => services.start(longCheckConfig());

/** A raw HTTP/1.1 response. */
interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * A TCP connection the server has accepted but that has carried no request
 * yet: the drain does not close it, so a request on it reaches the handler
 * while the server drains, as a load balancer's pre-opened connection would.
 */
async function idleConnection(port: number): Promise<Socket> {
  const socket = netConnect(port, "127.0.0.1");
  defer(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  // Loopback connections are accepted within the same turn; this leaves a margin.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return socket;
}

/** Sends one `method path` request with `connection: close` on `socket` and reads the answer. */
function rawRequest(socket: Socket, method: string, path: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("error", reject);
    socket.once("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      resolve({ status: Number(head.split(" ", 2)[1]), head: head.toLowerCase(), body });
    });
    socket.write(`${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`);
  });
}

describe("GET /healthz and /readyz", () => {
  it("answer 200 with their JSON bodies, with and without a query string", async () => {
    const { url } = await start();
    for (const [path, body] of [
      ["/healthz", { status: "ok" }],
      ["/readyz", { status: "ready" }],
      ["/readyz?verbose", { status: "ready" }],
    ] as const) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual(body);
    }
  });

  it("answer HEAD without a body and other methods with 405 and Allow", async () => {
    const { url } = await start();
    const head = await fetch(`${url}/readyz`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await fetch(`${url}/healthz`, { method, body: method === "DELETE" ? null : "x" });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD");
    }
  });

  it("answer over cleartext HTTP/2 too", async () => {
    const { url } = await start();
    const session = http2Connect(url);
    defer(() => session.destroy());
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ":method": "GET", ":path": "/readyz" });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8") }));
      stream.on("error", reject);
      stream.end();
    });
    expect(answer).toEqual({ status: 200, body: '{"status":"ready"}' });
  });

  it("during shutdown: /readyz answers 503 not_ready, /healthz still 200 ok", async () => {
    const { url, server } = await start();
    const release = await holdDrainOpen(url);
    const forReady = await idleConnection(server.port);
    const forLive = await idleConnection(server.port);

    const stopping = server.shutdown();
    const ready = await rawRequest(forReady, "GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: "not_ready" });
    const live = await rawRequest(forLive, "GET", "/healthz");
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toEqual({ status: "ok" });

    release();
    await stopping;
  });
});

describe("Watch across a shutdown", () => {
  it("sees SERVING, then NOT_SERVING when the drain starts, then ends; the shutdown does not wait for it", async () => {
    const { url, server } = await start();
    const manager = new Http2SessionManager(url);
    defer(() => manager.abort());
    const client = createClient(
      Health,
      createGrpcTransport({ baseUrl: url, sessionManager: manager }),
    );
    const seen: Status[] = [];
    const watching = (async (stream: AsyncIterable<HealthCheckResponse>) => {
      for await (const response of stream) seen.push(response.status);
    })(client.watch({}));
    await expect.poll(() => seen).toEqual([Status.SERVING]);

    const started = performance.now();
    await server.shutdown();
    // The grace period is 3 s: a Watch held open would have used most of it.
    expect(performance.now() - started).toBeLessThan(1_000);
    await watching;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });
});
