import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { type LoggedService, makeAuthConfig, startLoggedService } from "./auth-harness.js";
import { jsonErrorInfo, makeJwt, postJson, servicePath, useUpstream } from "./harness.js";

const upstream = useUpstream();
let service: LoggedService;
let h2: Http2SessionManager;

beforeAll(async () => {
  service = await startLoggedService(
    makeAuthConfig({
      limits: { maxSessions: 1, initPerSession: { burst: 1, perSecond: 0.001 } },
    }),
  );
  h2 = new Http2SessionManager(service.url);
});

afterAll(async () => {
  h2.abort();
  await service.server.shutdown();
});

const legacy = (sessionId: string) => ({
  session_id: sessionId,
  api_url: upstream.apiUrl("ok", sessionId),
  jwt_token: makeJwt(),
});

describe("RESOURCE_EXHAUSTED over HTTP", () => {
  it("POST /init answers 429 with the reason as error_type; Connect and gRPC agree", async () => {
    const first = await postJson(`${service.url}/init`, legacy("s1"));
    expect(first.status).toBe(200);

    // s1's bucket (burst 1) is empty.
    const again = await postJson(`${service.url}/init`, legacy("s1"));
    expect(again.status).toBe(429);
    expect(again.json).toMatchObject({ status: "error", error_type: "INIT_RATE_LIMITED" });

    // One session is the cap.
    const full = await postJson(`${service.url}/init`, legacy("s2"));
    expect(full.status).toBe(429);
    expect(full.json).toMatchObject({ status: "error", error_type: "SESSION_LIMIT_REACHED" });
    expect(upstream.validations("ok", "s2")).toBe(0);

    const connect = await postJson(`${service.url}${servicePath}/Init`, {
      sessionId: "s3",
      apiUrl: upstream.apiUrl("ok", "s3"),
      jwtToken: makeJwt(),
    });
    expect(connect.status).toBe(429);
    expect(connect.json?.code).toBe("resource_exhausted");
    expect(jsonErrorInfo(connect.json)).toMatchObject({
      reason: "SESSION_LIMIT_REACHED",
      metadata: { max_sessions: "1", retry_after_ms: "5000" },
    });

    const grpc = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
    );
    const limited = await rpcFailure(
      grpc.init({ sessionId: "s1", apiUrl: upstream.apiUrl("ok", "s1"), jwtToken: makeJwt() }),
    );
    expect(limited).toMatchObject({ code: Code.ResourceExhausted, reason: "INIT_RATE_LIMITED" });
    expect(limited.metadata.scope).toBe("session");
    expect(Number(limited.metadata.retry_after_ms)).toBeGreaterThan(0);
    expect(upstream.validations("ok", "s1")).toBe(1);
    expect(service.app.sessions.size).toBe(1);
  });
});
