import { createServer as createHttpServer } from "node:http";
import { createServer as createHttp2Server } from "node:http2";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { buildJwt, expectRpcError, startUpstream, type Upstream } from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { listenOnLoopback } from "../support/loopback-port.js";
import {
  expectChildOf,
  spanNamed,
  spanText,
  type TracedApp,
  tracedApp,
  tracingConfig,
} from "./harness.js";

const initSpan = "mcpclient.v1.SessionService/Init";
const remoteTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const remoteSpanId = "00f067aa0ba902b7";

let upstream: Upstream;
let traced: TracedApp;

beforeEach(async () => {
  upstream = await startUpstream();
  traced = await tracedApp();
});

afterEach(async () => {
  await traced.app.close();
  await upstream.close();
});

function init(sessionId: string, token: string, headers: Record<string, string> = {}) {
  return traced.client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token }, { headers });
}

describe("Init", () => {
  it("produces a SERVER span with the three steps as its children", async () => {
    await init("s1", buildJwt());
    const spans = traced.exporter.getFinishedSpans();
    const server = spanNamed(spans, initSpan);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.attributes).toMatchObject({
      "rpc.system": "connect_rpc",
      "rpc.service": "mcpclient.v1.SessionService",
      "rpc.method": "Init",
    });
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    for (const step of ["init.check_format", "init.credential_check", "init.mcp_start"]) {
      const span = spanNamed(spans, step);
      expectChildOf(span, server);
      expect(span.attributes["mcpclient.outcome"]).toBe("ok");
    }
    const connect = spanNamed(spans, "mcp.connect builtin");
    expectChildOf(connect, spanNamed(spans, "init.mcp_start"));
    expect(connect.attributes["mcp.server.name"]).toBe("builtin");
    expect(server.resource.attributes["service.name"]).toBe("mcp-client-server");
  });

  it("continues the caller's trace from traceparent and tracestate", async () => {
    await init("s1", buildJwt(), {
      traceparent: `00-${remoteTraceId}-${remoteSpanId}-01`,
      tracestate: "congo=t61rcWkgMzE",
    });
    const spans = traced.exporter.getFinishedSpans();
    const server = spanNamed(spans, initSpan);
    expect({
      traceId: server.spanContext().traceId,
      parentSpanId: server.parentSpanContext?.spanId,
      remote: server.parentSpanContext?.isRemote,
      tracestate: server.spanContext().traceState?.get("congo"),
    }).toEqual({
      traceId: remoteTraceId,
      parentSpanId: remoteSpanId,
      remote: true,
      tracestate: "t61rcWkgMzE",
    });
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([remoteTraceId]));
  });

  it("keeps a caller's decision not to sample", async () => {
    await init("s1", buildJwt(), { traceparent: `00-${remoteTraceId}-${remoteSpanId}-00` });
    expect(traced.exporter.getFinishedSpans()).toEqual([]);
  });

  it("records a refused credential check with its reason and HTTP status", async () => {
    upstream.onValidate = () => 403;
    await expectRpcError(init("s1", buildJwt()), Code.Unauthenticated, "CREDENTIALS_REJECTED");
    const spans = traced.exporter.getFinishedSpans();
    const server = spanNamed(spans, initSpan);
    expect({ status: server.status, attributes: server.attributes }).toMatchObject({
      status: { code: SpanStatusCode.ERROR, message: "CREDENTIALS_REJECTED" },
      attributes: {
        "error.type": "CREDENTIALS_REJECTED",
        "rpc.connect_rpc.error_code": "unauthenticated",
      },
    });
    const check = spanNamed(spans, "init.credential_check");
    expectChildOf(check, server);
    expect({ status: check.status, attributes: check.attributes }).toEqual({
      status: { code: SpanStatusCode.ERROR, message: "CREDENTIALS_REJECTED" },
      attributes: {
        "mcpclient.outcome": "CREDENTIALS_REJECTED",
        "error.type": "CREDENTIALS_REJECTED",
        "http.response.status_code": 403,
      },
    });
    expect(spans.map((s) => s.name)).not.toContain("init.mcp_start");
  });

  it("records a malformed JWT in init.check_format and calls nothing", async () => {
    await expectRpcError(init("s1", "not-a-jwt"), Code.Unauthenticated, "INVALID_JWT_FORMAT");
    const spans = traced.exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(["init.check_format", initSpan]);
    expectChildOf(spanNamed(spans, "init.check_format"), spanNamed(spans, initSpan));
    expect(spanNamed(spans, "init.check_format").status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "INVALID_JWT_FORMAT",
    });
    expect(upstream.validations()).toEqual([]);
  });
});

describe("tool calls", () => {
  it("CallTool has an mcp.tools/call CLIENT span under its SERVER span", async () => {
    const token = buildJwt();
    await init("s1", token);
    traced.exporter.reset();
    const res = await traced.client.callTool(
      { sessionId: "s1", name: "validate_settings" },
      bearer(token),
    );
    expect(res.isError).toBe(false);
    const spans = traced.exporter.getFinishedSpans();
    const server = spanNamed(spans, "mcpclient.v1.SessionService/CallTool");
    const call = spanNamed(spans, "mcp.tools/call");
    expectChildOf(call, server);
    expect({ kind: call.kind, attributes: call.attributes, status: call.status.code }).toEqual({
      kind: SpanKind.CLIENT,
      attributes: {
        "mcp.method.name": "tools/call",
        "mcp.server.name": "builtin",
        "gen_ai.tool.name": "validate_settings",
        "mcpclient.outcome": "ok",
      },
      status: SpanStatusCode.UNSET,
    });
  });

  it("CallToolStream's SERVER span lasts until the stream ends", async () => {
    const token = buildJwt();
    await init("s1", token);
    traced.exporter.reset();
    const stream = traced.client.callToolStream(
      { sessionId: "s1", name: "validate_settings" },
      bearer(token),
    );
    for await (const _message of stream) {
      // The span must still be open while messages arrive.
      expect(traced.exporter.getFinishedSpans().map((s) => s.name)).not.toContain(
        "mcpclient.v1.SessionService/CallToolStream",
      );
    }
    const spans = traced.exporter.getFinishedSpans();
    const server = spanNamed(spans, "mcpclient.v1.SessionService/CallToolStream");
    expectChildOf(spanNamed(spans, "mcp.tools/call"), server);
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("a refused call records the reason on the SERVER span", async () => {
    await init("s1", buildJwt());
    traced.exporter.reset();
    await expectRpcError(
      traced.client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(buildJwt())),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
    const spans = traced.exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["mcpclient.v1.SessionService/CallTool"]);
    expect(spans[0]?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "SESSION_CREDENTIALS_MISMATCH",
    });
  });
});

it("no span carries the JWT, any part of it, or the bearer header", async () => {
  const token = buildJwt();
  const [, payload, signature] = token.split(".");
  await init("s1", token);
  await traced.client.callTool(
    { sessionId: "s1", name: "validate_settings", arguments: { secret: token } },
    bearer(token),
  );
  await traced.client.listTools({ sessionId: "s1" }, bearer(token));
  await expectRpcError(
    traced.client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(`${token}x`)),
    Code.Unauthenticated,
    "SESSION_CREDENTIALS_MISMATCH",
  );
  await traced.client.closeSession({ sessionId: "s1" }, bearer(token));
  const spans = traced.exporter.getFinishedSpans();
  expect(spans.length).toBeGreaterThanOrEqual(10);
  const texts = spans.map(spanText).join("\n");
  for (const secret of [token, payload, signature, "Bearer", upstream.apiUrl]) {
    expect(secret && texts.includes(secret), `${secret} in spans`).toBe(false);
  }
});

it("traces POST /init as a SERVER span that continues the caller's trace", async () => {
  const server = createHttpServer(traced.app.handler);
  const port = await listenOnLoopback(server);
  try {
    const body = JSON.stringify({
      session_id: "s1",
      api_url: upstream.apiUrl,
      jwt_token: buildJwt(),
    });
    const res = await fetch(`http://127.0.0.1:${port}/init`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${remoteTraceId}-${remoteSpanId}-01`,
      },
      body,
    });
    expect(res.status).toBe(200);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  const spans = traced.exporter.getFinishedSpans();
  const root = spanNamed(spans, "POST /init");
  expect({
    kind: root.kind,
    traceId: root.spanContext().traceId,
    parentSpanId: root.parentSpanContext?.spanId,
    attributes: root.attributes,
  }).toEqual({
    kind: SpanKind.SERVER,
    traceId: remoteTraceId,
    parentSpanId: remoteSpanId,
    attributes: {
      "http.request.method": "POST",
      "http.route": "/init",
      "http.response.status_code": 200,
    },
  });
  expectChildOf(spanNamed(spans, "init.credential_check"), root);
});

it("over gRPC records rpc.system grpc and the numeric status code", async () => {
  const server = createHttp2Server(traced.app.handler);
  const port = await listenOnLoopback(server);
  const sessionManager = new Http2SessionManager(`http://127.0.0.1:${port}`);
  try {
    const client = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, sessionManager }),
    );
    await init("s1", buildJwt()); // a session to fail against
    traced.exporter.reset();
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(buildJwt())),
      Code.Unauthenticated,
      "SESSION_CREDENTIALS_MISMATCH",
    );
  } finally {
    sessionManager.abort();
    await new Promise((resolve) => server.close(resolve));
  }
  const span = spanNamed(
    traced.exporter.getFinishedSpans(),
    "mcpclient.v1.SessionService/CallTool",
  );
  expect(span.attributes).toMatchObject({
    "rpc.system": "grpc",
    "rpc.grpc.status_code": Code.Unauthenticated,
    "error.type": "SESSION_CREDENTIALS_MISMATCH",
  });
});

it("samples no new trace at sampleRatio 0, but follows a sampled caller", async () => {
  const sparse = await tracedApp(await tracingConfig({ sampleRatio: 0 }));
  try {
    await sparse.client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: buildJwt() });
    expect(sparse.exporter.getFinishedSpans()).toEqual([]);
    await sparse.client.init(
      { sessionId: "s2", apiUrl: upstream.apiUrl, jwtToken: buildJwt() },
      { headers: { traceparent: `00-${remoteTraceId}-${remoteSpanId}-01` } },
    );
    expect(sparse.exporter.getFinishedSpans().map((s) => s.name)).toContain(initSpan);
  } finally {
    await sparse.app.close();
  }
});
