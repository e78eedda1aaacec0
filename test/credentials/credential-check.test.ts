import { afterEach, describe, expect, it } from "vitest";
import type { CredentialCheck } from "../../src/credentials/credential-check.js";
import { createCredentialCheck } from "../../src/credentials/credential-check.js";
import { ServiceError } from "../../src/errors.js";
import { OutboundError } from "../../src/outbound/http-client.js";
import { createNodeHttpClient } from "../../src/outbound/node-http-client.js";
import { closedPort } from "../support/loopback-port.js";
import { createLoopbackPool } from "../support/loopback-server.js";

const token = "canary-jwt-7f3a9c";
const secret = "secret=hunter2-query";

const { serve, closeAll } = createLoopbackPool();
afterEach(closeAll);

function check(timeoutMs = 5000): CredentialCheck {
  return createCredentialCheck({ http: createNodeHttpClient(), timeoutMs, maxResponseBytes: 1024 });
}

/** Runs a check expected to fail; asserts the error is safe to show and returns it. */
async function failure(run: Promise<void>): Promise<ServiceError> {
  const error = await run.then(
    () => expect.unreachable("expected the check to fail"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  const serviceError = error as ServiceError;
  const shown = `${serviceError.message} ${JSON.stringify(serviceError.metadata)}`;
  expect(shown).not.toContain(token);
  expect(shown).not.toContain("hunter2");
  expect(shown).not.toContain("Bearer");
  return serviceError;
}

describe("createCredentialCheck", () => {
  it("POSTs {} with the bearer token under the API URL's path", async () => {
    const server = await serve((_req, res) => res.writeHead(200).end('{"ok":true}'));
    await check()(new URL(`${server.origin}/base/v1?${secret}`), token);
    expect(server.requests).toHaveLength(1);
    const [received] = server.requests;
    expect(received?.method).toBe("POST");
    expect(received?.path).toBe("/base/v1/settings/validate");
    expect(received?.headers.authorization).toBe(`Bearer ${token}`);
    expect(received?.headers["content-type"]).toBe("application/json");
    expect(received?.headers.accept).toBe("application/json");
    expect(received?.body).toBe("{}");
  });

  it("resolves on any 2xx", async () => {
    const server = await serve((_req, res) => res.writeHead(204).end());
    await expect(check()(new URL(server.origin), token)).resolves.toBeUndefined();
  });

  it.each([
    [401, "Connection test failed: 401 Unauthorized"],
    [403, "Connection test failed: 403 Forbidden"],
  ])("rejects the credentials on %i", async (status, message) => {
    const server = await serve((_req, res) => res.writeHead(status).end());
    const error = await failure(check()(new URL(`${server.origin}/api?${secret}`), token));
    expect(error.reason).toBe("CREDENTIALS_REJECTED");
    expect(error.message).toBe(message);
    expect(error.metadata).toEqual({ http_status: String(status) });
  });

  it("uses the standard phrase when the API sends an empty one", async () => {
    const server = await serve((_req, res) => res.writeHead(403, "").end());
    const error = await failure(check()(new URL(server.origin), token));
    expect(error.message).toBe("Connection test failed: 403 Forbidden");
  });

  it("does not pass on a reason phrase that echoes the token", async () => {
    const server = await serve((_req, res) => res.writeHead(403, `bad ${token}`).end());
    const error = await failure(check()(new URL(server.origin), token));
    expect(error.reason).toBe("CREDENTIALS_REJECTED");
  });

  it("reports other statuses as UPSTREAM_ERROR", async () => {
    const server = await serve((_req, res) => res.writeHead(500).end("boom"));
    const error = await failure(check()(new URL(`${server.origin}/?${secret}`), token));
    expect(error.reason).toBe("UPSTREAM_ERROR");
    expect(error.message).toBe("Connection test failed: 500 Internal Server Error");
    expect(error.metadata).toEqual({ http_status: "500" });
  });

  it("does not follow a redirect", async () => {
    const target = await serve((_req, res) => res.writeHead(200).end());
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: `${target.origin}/settings/validate` }).end();
    });
    const error = await failure(check()(new URL(server.origin), token));
    expect(error.reason).toBe("UPSTREAM_ERROR");
    expect(error.metadata).toEqual({ http_status: "302" });
    expect(target.requests).toHaveLength(0);
    expect(target.connections()).toBe(0);
  });

  it("times out when the API is slower than the configured timeout", async () => {
    const server = await serve((_req, res) => {
      const timer = setTimeout(() => res.writeHead(200).end(), 3000);
      res.on("close", () => clearTimeout(timer));
    });
    const started = Date.now();
    const error = await failure(check(200)(new URL(`${server.origin}/?${secret}`), token));
    expect(error.reason).toBe("UPSTREAM_TIMEOUT");
    expect(error.message).toContain("200 ms");
    expect(error.cause).toBeInstanceOf(OutboundError);
    expect(Date.now() - started).toBeLessThan(200 + 1500);
  });

  it("reports a closed port as UPSTREAM_UNREACHABLE", async () => {
    const port = await closedPort();
    const error = await failure(check()(new URL(`http://127.0.0.1:${port}/api?${secret}`), token));
    expect(error.reason).toBe("UPSTREAM_UNREACHABLE");
    expect(error.cause).toBeInstanceOf(OutboundError);
  });

  it("reports an aborted signal as CANCELED", async () => {
    const server = await serve(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(check()(new URL(server.origin), token, controller.signal));
    expect(error.reason).toBe("CANCELED");
    expect(server.requests).toHaveLength(1);
  });

  it("reads no more than maxResponseBytes of a large answer", async () => {
    let closed = false;
    const server = await serve((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write("x".repeat(4096)), 5);
      res.on("close", () => {
        clearInterval(timer);
        closed = true;
      });
    });
    await expect(check(10_000)(new URL(server.origin), token)).resolves.toBeUndefined();
    await expect.poll(() => closed).toBe(true);
  });
});
