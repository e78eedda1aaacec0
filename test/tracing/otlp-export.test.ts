import { afterEach, beforeEach, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { buildJwt, startUpstream, testConfig, type Upstream } from "../service/harness.js";
import { createInMemoryClient } from "../support/in-memory-client.js";
import { captureLogs } from "../support/log-capture.js";
import { closedPort } from "../support/loopback-port.js";
import { type LoopbackServer, sendJson, startLoopbackServer } from "../support/loopback-server.js";

let upstream: Upstream;
let collector: LoopbackServer;

beforeEach(async () => {
  upstream = await startUpstream();
  collector = await startLoopbackServer((_req, res) => sendJson(res, 200, {}));
});

afterEach(async () => {
  await upstream.close();
  await collector.close();
});

async function appSendingTo(otlpEndpoint: string) {
  const defaults = await testConfig();
  const config = {
    ...defaults,
    tracing: { enabled: true, otlpEndpoint, serviceName: "tracing-test", sampleRatio: 1 },
  };
  const log = captureLogs("info");
  const app = createApp(config, log.logger);
  return { app, client: createInMemoryClient(app), log };
}

it("sends the spans over OTLP/HTTP to the configured endpoint when the app closes", async () => {
  const { app, client } = await appSendingTo(`${collector.origin}/v1/traces`);
  const token = buildJwt();
  await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token });
  // Batched: nothing goes out before the 5 s schedule, or the flush at close.
  expect(collector.requests).toEqual([]);
  await app.close();
  const [request, ...more] = collector.requests;
  expect(more).toEqual([]);
  expect({
    method: request?.method,
    path: request?.path,
    contentType: request?.headers["content-type"],
  }).toEqual({ method: "POST", path: "/v1/traces", contentType: "application/json" });
  const body = request?.body ?? "";
  expect(body.length).toBeGreaterThan(0);
  expect(body).toContain('"tracing-test"');
  expect(body).toContain('"mcpclient.v1.SessionService/Init"');
  expect(body).toContain('"init.credential_check"');
  expect(body.includes(token.split(".")[1] ?? token)).toBe(false);
});

it("an unreachable collector costs spans, logged once, and close still resolves", async () => {
  const port = await closedPort();
  const { app, client, log } = await appSendingTo(`http://127.0.0.1:${port}/v1/traces`);
  await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: buildJwt() });
  await app.close();
  const failures = log.entries().filter((e) => e.msg === "trace export failed; spans dropped");
  expect(failures).toHaveLength(1);
  expect(failures[0]?.level).toBe(40);
});
