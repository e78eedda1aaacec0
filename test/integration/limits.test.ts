import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  makeConfig,
  makeJwt,
  postJson,
  type Service,
  servicePath,
  startService,
  useUpstream,
} from "./harness.js";

const maxMessageBytes = 64 * 1024;
const maxTimeoutMs = 2_000;

const upstream = useUpstream();
let service: Service;
let h2: Http2SessionManager;
let grpc: Client<typeof SessionService>;
let connect: Client<typeof SessionService>;

beforeAll(async () => {
  service = await startService(makeConfig({ server: { maxMessageBytes, maxTimeoutMs } }));
  h2 = new Http2SessionManager(service.url);
  grpc = createClient(
    SessionService,
    createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
  );
  connect = createClient(
    SessionService,
    createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  h2.abort();
  await service.server.shutdown();
});

let counter = 0;
function validInit(tag: string) {
  counter += 1;
  return {
    sessionId: `limits-${counter}`,
    apiUrl: upstream.apiUrl("ok", `${tag}-${counter}`),
    jwtToken: makeJwt(),
  };
}

/** An Init whose session_id alone is larger than the limit. */
const oversized = () => ({ ...validInit("big"), sessionId: "x".repeat(maxMessageBytes + 1024) });

describe("server.maxMessageBytes", () => {
  it("answers an oversized Connect JSON body with 429 resource_exhausted, then keeps serving", async () => {
    const url = `${service.url}${servicePath}/Init`;
    const res = await postJson(url, oversized());
    expect(res.status).toBe(429);
    expect(res.json?.code).toBe("resource_exhausted");
    const ok = await postJson(url, validInit("after-json"));
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: "ok" });
  });

  it("answers an oversized gRPC message with RESOURCE_EXHAUSTED, then keeps serving", async () => {
    const failure = await rpcFailure(grpc.init(oversized()));
    expect(failure.code).toBe(Code.ResourceExhausted);
    expect(await grpc.init(validInit("after-grpc"))).toMatchObject({ status: "ok" });
  });

  it("accepts a message just under the limit", async () => {
    // A long but well-formed token is INVALID_JWT_FORMAT (over 8 KiB), not RESOURCE_EXHAUSTED:
    // the message was read and handled.
    const input = { ...validInit("under"), jwtToken: `${makeJwt()}${"a".repeat(32 * 1024)}` };
    const failure = await rpcFailure(connect.init(input));
    expect(failure).toMatchObject({ code: Code.Unauthenticated, reason: "INVALID_JWT_FORMAT" });
  });

  it("answers an oversized POST /init body with 400 INVALID_REQUEST_BODY", async () => {
    const { sessionId, apiUrl, jwtToken } = oversized();
    const res = await postJson(`${service.url}/init`, { session_id: sessionId, apiUrl, jwtToken });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ status: "error", error_type: "INVALID_REQUEST_BODY" });
  });
});

describe("server.maxTimeoutMs", () => {
  // connect's handlers reject a requested timeout above maxTimeoutMs with
  // INVALID_ARGUMENT before the message is read (parse-timeout.js).
  it("rejects a gRPC deadline above the maximum with INVALID_ARGUMENT", async () => {
    const failure = await rpcFailure(
      grpc.init(validInit("deadline"), { timeoutMs: maxTimeoutMs * 5 }),
    );
    expect(failure).toEqual({
      code: Code.InvalidArgument,
      reason: undefined,
      metadata: {},
      error: expect.any(ConnectError),
    });
  });

  it("rejects a Connect timeout above the maximum with INVALID_ARGUMENT", async () => {
    const input = validInit("deadline-connect");
    const failure = await rpcFailure(connect.init(input, { timeoutMs: maxTimeoutMs * 5 }));
    expect(failure.code).toBe(Code.InvalidArgument);
    // The handler never ran: nothing reached the API.
    expect(upstream.validations("ok", input.apiUrl.split("/").at(-1) ?? "")).toBe(0);
  });

  it("answers a raw connect-timeout-ms above the maximum with 400 invalid_argument", async () => {
    const res = await postJson(`${service.url}${servicePath}/Init`, validInit("raw"), {
      headers: { "connect-timeout-ms": String(maxTimeoutMs + 1) },
    });
    expect(res.status).toBe(400);
    expect(res.json?.code).toBe("invalid_argument");
  });

  it("accepts a timeout at or below the maximum", async () => {
    expect(await grpc.init(validInit("ok-grpc"), { timeoutMs: maxTimeoutMs })).toMatchObject({
      status: "ok",
    });
    expect(await connect.init(validInit("ok-connect"), { timeoutMs: 1_000 })).toMatchObject({
      status: "ok",
    });
  });
});
