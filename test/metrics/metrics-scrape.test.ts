import { randomUUID } from "node:crypto";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { makeConfig, postJson, type Service, startService } from "../integration/harness.js";
import { buildJwt, expectRpcError, startUpstream, type Upstream } from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { repoPath } from "../support/repo-paths.js";
import { type Sample, type Scrape, sampleValue, scrape, scrapeUntil } from "./scrape.js";

const prefix = "mcp_client_server_";
const session = "mcpclient.v1.SessionService";

// Canaries: none may appear in any label value.
const queryCanary = `QUERYCANARY-${randomUUID()}`;
const goodJwt = buildJwt();
const rejectedJwt = buildJwt();
const goodSession = `metrics-ok-${randomUUID()}`;
const rejectedSession = `metrics-rejected-${randomUUID()}`;

let upstream: Upstream;
let service: Service;
let idle: Service;
let client: Client<typeof SessionService>;
let duringSession: Scrape;
let final: Scrape;

function rpcs(samples: readonly Sample[], method: string, code: string) {
  return sampleValue(samples, `${prefix}rpc_requests_total`, { service: session, method, code });
}

beforeAll(async () => {
  upstream = await startUpstream();
  upstream.onValidate = (req) => (req.authorization === `Bearer ${rejectedJwt}` ? 401 : 200);
  const fixture = nodeServer(repoPath("test/mcp/fixtures/stdio-server.mjs"));
  service = await startService(makeConfig({ mcpServers: { fixture } }));
  idle = await startService(makeConfig());
  client = createClient(
    SessionService,
    createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  );
  const apiUrl = `${upstream.apiUrl}?sig=${queryCanary}`;

  await client.init({ sessionId: goodSession, apiUrl, jwtToken: goodJwt });
  await expectRpcError(
    client.init({ sessionId: rejectedSession, apiUrl, jwtToken: rejectedJwt }),
    Code.Unauthenticated,
    "CREDENTIALS_REJECTED",
  );
  await client.callTool({ sessionId: goodSession, name: "info" }, bearer(goodJwt));
  duringSession = await scrape(service.url);
  await expectRpcError(
    client.callTool({ sessionId: goodSession, name: "crash" }, bearer(goodJwt)),
    Code.Unavailable,
    "MCP_SERVER_EXITED",
  );
  const alias = await postJson(`${service.url}/init`, { session_id: goodSession });
  expect(alias.status).toBe(400);
  // The lost session counts once its server is reaped and the loss recorded.
  await scrapeUntil(service.url, (samples) => {
    const exits = `${prefix}mcp_server_exits_total`;
    return (
      sampleValue(samples, exits, { server: "fixture", why: "exited" }) === 1 &&
      sampleValue(samples, `${prefix}child_processes`) === 0
    );
  });
  await client.closeSession({ sessionId: goodSession }, bearer(goodJwt));
  final = await scrape(service.url);
});

afterAll(async () => {
  await service?.server.shutdown();
  await idle?.server.shutdown();
  await upstream?.close();
});

describe("GET /metrics after Inits, tool calls and a crash", () => {
  it("answers the Prometheus text format", () => {
    expect(final.status).toBe(200);
    expect(final.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it("counts RPCs by method and code, with a duration for each", () => {
    const { samples } = final;
    const expected: [string, string][] = [
      ["Init", "ok"],
      ["Init", "unauthenticated"],
      ["CallTool", "ok"],
      ["CallTool", "unavailable"],
      ["CloseSession", "ok"],
      ["InitAlias", "invalid_argument"],
    ];
    for (const [method, code] of expected) {
      expect({ method, code, count: rpcs(samples, method, code) }).toEqual({
        method,
        code,
        count: 1,
      });
      const labels = { service: session, method, code };
      expect(sampleValue(samples, `${prefix}rpc_duration_seconds_count`, labels)).toBe(1);
      expect(sampleValue(samples, `${prefix}rpc_duration_seconds_sum`, labels)).toBeGreaterThan(0);
    }
    // The last scrape ran after the CloseSession: nothing else was counted.
    const total = samples
      .filter((s) => s.name === `${prefix}rpc_requests_total`)
      .reduce((sum, s) => sum + s.value, 0);
    expect(total).toBe(expected.length);
  });

  it("counts credential checks by outcome", () => {
    const name = `${prefix}credential_checks_total`;
    expect(sampleValue(final.samples, name, { outcome: "ok" })).toBe(1);
    expect(sampleValue(final.samples, name, { outcome: "CREDENTIALS_REJECTED" })).toBe(1);
  });

  it("counts MCP server starts and exits by configured server", () => {
    const starts = `${prefix}mcp_server_starts_total`;
    expect(sampleValue(final.samples, starts, { server: "fixture", outcome: "ok" })).toBe(1);
    expect(sampleValue(final.samples, starts, { server: "fixture", outcome: "failed" })).toBe(0);
    const exits = `${prefix}mcp_server_exits_total`;
    expect(sampleValue(final.samples, exits, { server: "fixture", why: "exited" })).toBe(1);
  });

  it("times tool calls by server and outcome", () => {
    const name = `${prefix}tool_call_duration_seconds_count`;
    expect(sampleValue(final.samples, name, { server: "fixture", outcome: "ok" })).toBe(1);
    const crashed = { server: "fixture", outcome: "MCP_SERVER_EXITED" };
    expect(sampleValue(final.samples, name, crashed)).toBe(1);
    const inf = final.samples.find(
      (s) =>
        s.name === `${prefix}tool_call_duration_seconds_bucket` &&
        s.labels.outcome === "ok" &&
        s.labels.le === "+Inf",
    );
    expect(inf?.value).toBe(1);
  });

  it("counts closed sessions by why", () => {
    expect(sampleValue(final.samples, `${prefix}sessions_closed_total`, { why: "closed" })).toBe(1);
  });

  it("reads active sessions and child processes at each scrape", () => {
    expect(sampleValue(duringSession.samples, `${prefix}active_sessions`)).toBe(1);
    expect(sampleValue(duringSession.samples, `${prefix}child_processes`)).toBe(1);
    expect(sampleValue(final.samples, `${prefix}active_sessions`)).toBe(0);
    expect(sampleValue(final.samples, `${prefix}child_processes`)).toBe(0);
  });

  it("documents every metric with HELP and includes the process metrics", () => {
    const own = [
      "rpc_requests_total",
      "rpc_duration_seconds",
      "active_sessions",
      "child_processes",
      "mcp_server_starts_total",
      "mcp_server_exits_total",
      "credential_checks_total",
      "tool_call_duration_seconds",
      "sessions_closed_total",
    ];
    for (const name of own) expect(final.help.get(`${prefix}${name}`)).toMatch(/\w+ \w+/);
    expect(sampleValue(final.samples, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(final.help.has("nodejs_eventloop_lag_seconds")).toBe(true);
  });

  it("puts no token, session id, URL or query in a label", () => {
    const values = [...duringSession.samples, ...final.samples].flatMap((s) =>
      Object.values(s.labels),
    );
    const secrets = [
      goodJwt,
      rejectedJwt,
      ...[goodJwt, rejectedJwt].flatMap((t) => t.split(".").slice(1)),
      goodSession,
      rejectedSession,
      queryCanary,
      upstream.apiUrl,
      new URL(upstream.apiUrl).host,
    ];
    expect(values.filter((v) => secrets.some((s) => v.includes(s)))).toEqual([]);
    expect(final.text).not.toContain(queryCanary);
    expect(final.text).not.toContain(goodSession);
  });

  it("keeps each app's metrics on its own registry", async () => {
    const other = await scrape(idle.url);
    expect(other.status).toBe(200);
    const counted = other.samples.filter((s) => s.name.startsWith(prefix) && s.value > 0);
    expect(counted).toEqual([]);
  });
});
