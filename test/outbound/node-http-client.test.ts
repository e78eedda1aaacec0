import { getEventListeners } from "node:events";
import type { LookupFunction } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { OutboundRequest } from "../../src/outbound/http-client.js";
import { OutboundError } from "../../src/outbound/http-client.js";
import { createNodeHttpClient } from "../../src/outbound/node-http-client.js";
import { closedPort } from "../support/loopback-port.js";
import { createLoopbackPool } from "../support/loopback-server.js";

const { serve, closeAll } = createLoopbackPool();
afterEach(closeAll);

function get(url: string, extra: Partial<OutboundRequest> = {}): OutboundRequest {
  return { url: new URL(url), method: "GET", timeoutMs: 5000, maxResponseBytes: 65536, ...extra };
}

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const error = await promise.then(
    () => expect.unreachable("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  return error as OutboundError;
}

const client = createNodeHttpClient();

describe("createNodeHttpClient", () => {
  it("returns status, reason phrase, body and lower-case flattened headers", async () => {
    const server = await serve((_req, res) => {
      res.setHeader("X-Custom", "yes");
      res.setHeader("Set-Cookie", ["a=1", "b=2"]);
      res.writeHead(201, "Made It").end("hello");
    });
    const response = await client(get(`${server.origin}/x`));
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Made It");
    expect(response.body.toString()).toBe("hello");
    expect(response.truncated).toBe(false);
    expect(response.headers["x-custom"]).toBe("yes");
    expect(response.headers["set-cookie"]).toBe("a=1, b=2");
  });

  it("sends method, path, query, headers and a body with its real content-length", async () => {
    const server = await serve((_req, res) => res.end());
    await client({
      ...get(`${server.origin}/a/b?q=1`),
      method: "POST",
      headers: { "X-Test": "1", "Content-Length": "999" },
      body: '{"é":1}',
    });
    const [received] = server.requests;
    expect(received?.method).toBe("POST");
    expect(received?.path).toBe("/a/b?q=1");
    expect(received?.headers["x-test"]).toBe("1");
    expect(received?.headers["content-length"]).toBe(String(Buffer.byteLength('{"é":1}')));
    expect(received?.body).toBe('{"é":1}');
  });

  it("returns a redirect without following it", async () => {
    const target = await serve((_req, res) => res.end("followed"));
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: `${target.origin}/elsewhere` }).end();
    });
    const response = await client(get(`${server.origin}/start`));
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`${target.origin}/elsewhere`);
    expect(target.requests).toHaveLength(0);
    expect(target.connections()).toBe(0);
  });

  it("times out when the server does not answer", async () => {
    const server = await serve(() => {});
    const started = Date.now();
    const error = await failure(client(get(server.origin, { timeoutMs: 200 })));
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(200 + 2000);
  });

  it("counts the body read against the timeout", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
    });
    const error = await failure(client(get(server.origin, { timeoutMs: 300 })));
    expect(error.kind).toBe("timeout");
  });

  it("rejects with aborted when the signal fires in flight", async () => {
    const server = await serve(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(client(get(server.origin, { signal: controller.signal })));
    expect(error.kind).toBe("aborted");
  });

  it("does not connect when the signal has already fired", async () => {
    const server = await serve((_req, res) => res.end());
    const error = await failure(client(get(server.origin, { signal: AbortSignal.abort() })));
    expect(error.kind).toBe("aborted");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connections()).toBe(0);
  });

  it("names only the code and origin when the connection is refused", async () => {
    const port = await closedPort();
    const error = await failure(client(get(`http://127.0.0.1:${port}/private/path?secret=s3cr3t`)));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).toContain(`http://127.0.0.1:${port}`);
    expect(error.message).not.toContain("private");
    expect(error.message).not.toContain("s3cr3t");
  });

  it("connects through the given lookup and keeps the host name", async () => {
    const server = await serve((_req, res) => res.end("pinned"));
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
      else callback(null, "127.0.0.1", 4);
    };
    const pinned = createNodeHttpClient({ lookup });
    const response = await pinned(get(`http://api.example.test:${server.port}/p`));
    expect(response.body.toString()).toBe("pinned");
    expect(server.requests[0]?.headers.host).toBe(`api.example.test:${server.port}`);
  });

  it("maps a failed lookup to unreachable", async () => {
    const lookup: LookupFunction = (_hostname, _options, callback) =>
      callback(Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }), "", 4);
    const error = await failure(createNodeHttpClient({ lookup })(get("http://nowhere.test/x")));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain("ENOTFOUND");
  });

  it("stops reading at maxResponseBytes and marks the response truncated", async () => {
    const server = await serve((_req, res) => res.end("x".repeat(10_000)));
    const response = await client(get(server.origin, { maxResponseBytes: 1000 }));
    expect(response.truncated).toBe(true);
    expect(response.body).toHaveLength(1000);
  });

  it("does not mark a body of exactly maxResponseBytes truncated", async () => {
    const server = await serve((_req, res) => res.end("y".repeat(1000)));
    const response = await client(get(server.origin, { maxResponseBytes: 1000 }));
    expect(response.truncated).toBe(false);
    expect(response.body.toString()).toBe("y".repeat(1000));
  });

  it("returns a truncated response from an endless body and drops the connection", async () => {
    let closed = false;
    const server = await serve((_req, res) => {
      const timer = setInterval(() => res.write("z".repeat(1024)), 5);
      res.on("close", () => {
        clearInterval(timer);
        closed = true;
      });
    });
    const response = await client(
      get(server.origin, { maxResponseBytes: 4096, timeoutMs: 10_000 }),
    );
    expect(response.truncated).toBe(true);
    await expect.poll(() => closed).toBe(true);
  });

  it("maps a connection closed mid-body to unreachable", async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial", () => req.socket.destroy());
    });
    const error = await failure(client(get(server.origin)));
    expect(error.kind).toBe("unreachable");
  });

  it("rejects unsupported schemes and invalid headers with OutboundError", async () => {
    const scheme = await failure(client(get("ftp://127.0.0.1/x")));
    expect(scheme.kind).toBe("unreachable");
    const header = await failure(
      client(get("http://127.0.0.1:1/", { headers: { "x-bad": "canary\r\ninjected" } })),
    );
    expect(header.kind).toBe("unreachable");
    expect(header.message).not.toContain("canary");
  });

  it("removes its abort listener and clears its timer on every outcome", async () => {
    const ok = await serve((_req, res) => res.end("ok"));
    const silent = await serve(() => {});
    const port = await closedPort();
    const setSpy = vi.spyOn(globalThis, "setTimeout");
    const clearSpy = vi.spyOn(globalThis, "clearTimeout");
    const signal = new AbortController().signal;
    try {
      await client(get(ok.origin, { signal, timeoutMs: 60_001 }));
      await failure(client(get(silent.origin, { signal, timeoutMs: 100 })));
      await failure(client(get(`http://127.0.0.1:${port}`, { signal, timeoutMs: 60_002 })));
      const ours = setSpy.mock.calls
        .map((call, i) => ({ delay: call[1], timer: setSpy.mock.results[i]?.value }))
        .filter(({ delay }) => delay === 60_001 || delay === 60_002 || delay === 100);
      expect(ours).toHaveLength(3);
      for (const { timer } of ours) expect(clearSpy).toHaveBeenCalledWith(timer);
      expect(getEventListeners(signal, "abort")).toHaveLength(0);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });
});
