import { randomUUID } from "node:crypto";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { sha256hex, withApiKey } from "../support/api-key.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  authFailed,
  authFailures,
  type LoggedService,
  makeAuthConfig,
  startLoggedService,
} from "./auth-harness.js";
import {
  type JsonResponse,
  jsonErrorInfo,
  makeJwt,
  postJson,
  servicePath,
  useUpstream,
} from "./harness.js";

// Canaries: none of these may appear in a log line or a response.
const backendKey = `KEYCANARY-backend-${randomUUID()}`;
const otherKey = `KEYCANARY-other-${randomUUID()}`;
const wrongKey = `KEYCANARY-wrong-${randomUUID()}`;
const canaries = [backendKey, otherKey, wrongKey];

const upstream = useUpstream();
let service: LoggedService;
let h2: Http2SessionManager;
let plain: Client<typeof SessionService>;
let keyed: Client<typeof SessionService>;
const responses: string[] = [];

beforeAll(async () => {
  service = await startLoggedService(
    makeAuthConfig({
      auth: {
        apiKeys: [
          { name: "other", sha256: sha256hex(otherKey) },
          { name: "backend", sha256: sha256hex(backendKey) },
        ],
      },
    }),
  );
  h2 = new Http2SessionManager(service.url);
  plain = createClient(
    SessionService,
    createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
  );
  keyed = createClient(
    SessionService,
    createGrpcTransport({
      baseUrl: service.url,
      sessionManager: h2,
      interceptors: [withApiKey(backendKey)],
    }),
  );
});

afterEach(() => {
  const seen = [service.log.text(), ...responses].join("\n");
  expect(canaries.filter((c) => seen.includes(c))).toEqual([]);
});

afterAll(async () => {
  h2.abort();
  await service.server.shutdown();
});

let counter = 0;
function validInit(tag: string) {
  counter += 1;
  return {
    sessionId: `auth-${tag}-${counter}`,
    apiUrl: upstream.apiUrl("ok", `${tag}-${counter}`),
    jwtToken: makeJwt(),
  };
}

/** POSTs JSON to `path` of the service over HTTP/1.1, keeping the body for the canary check. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res: JsonResponse = await postJson(`${service.url}${path}`, body, { headers });
  responses.push(res.text);
  return res;
}

const initPath = `${servicePath}/Init`;

describe("API keys over Connect JSON (HTTP/1.1)", () => {
  it("refuses Init without a key with 401 API_KEY_REQUIRED, before any check", async () => {
    const input = validInit("json-none");
    const res = await post(initPath, input);
    expect(res.httpVersion).toBe("1.1");
    expect(res.status).toBe(401);
    expect(res.json?.code).toBe("unauthenticated");
    expect(jsonErrorInfo(res.json)?.reason).toBe("API_KEY_REQUIRED");
    expect(upstream.validations("ok", input.apiUrl.split("/").pop() ?? "")).toBe(0);
    expect(service.app.sessions.size).toBe(0);
  });

  it("refuses Init with a wrong key with 401 API_KEY_INVALID", async () => {
    const res = await post(initPath, validInit("json-wrong"), { "x-api-key": wrongKey });
    expect(res.status).toBe(401);
    expect(jsonErrorInfo(res.json)?.reason).toBe("API_KEY_INVALID");
  });

  it("does not take the key from authorization", async () => {
    const res = await post(initPath, validInit("json-authz"), {
      authorization: `Bearer ${backendKey}`,
    });
    expect(res.status).toBe(401);
    expect(jsonErrorInfo(res.json)?.reason).toBe("API_KEY_REQUIRED");
  });

  it("accepts Init with a configured key", async () => {
    const res = await post(initPath, validInit("json-ok"), { "x-api-key": backendKey });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: "ok" });
  });

  it("guards every RPC, not only Init", async () => {
    const input = validInit("json-all");
    const ok = await post(initPath, input, { "x-api-key": otherKey });
    expect(ok.status).toBe(200);
    const session = { authorization: `Bearer ${input.jwtToken}` };
    for (const method of ["ListTools", "CallTool", "CloseSession"]) {
      const res = await post(
        `${servicePath}/${method}`,
        { sessionId: input.sessionId, name: "validate_settings" },
        session,
      );
      expect({ method, status: res.status, reason: jsonErrorInfo(res.json)?.reason }).toEqual({
        method,
        status: 401,
        reason: "API_KEY_REQUIRED",
      });
    }
    // None of those reached the session: it still lists its tools with both headers.
    const list = await post(
      `${servicePath}/ListTools`,
      { sessionId: input.sessionId },
      { ...session, "x-api-key": otherKey },
    );
    expect(list.status).toBe(200);
  });
});

describe("API keys over gRPC (HTTP/2)", () => {
  it("refuses Init without a key with UNAUTHENTICATED API_KEY_REQUIRED", async () => {
    const failure = await rpcFailure(plain.init(validInit("grpc-none")));
    responses.push(failure.error.message);
    expect(failure).toMatchObject({ code: Code.Unauthenticated, reason: "API_KEY_REQUIRED" });
  });

  it("refuses Init with a wrong key with UNAUTHENTICATED API_KEY_INVALID", async () => {
    const failure = await rpcFailure(
      plain.init(validInit("grpc-wrong"), { headers: { "x-api-key": wrongKey } }),
    );
    responses.push(failure.error.message, JSON.stringify(failure.metadata));
    expect(failure).toMatchObject({ code: Code.Unauthenticated, reason: "API_KEY_INVALID" });
  });

  it("accepts a key from call headers or an interceptor", async () => {
    const byHeader = await plain.init(validInit("grpc-header"), {
      headers: { "x-api-key": otherKey },
    });
    expect(byHeader).toMatchObject({ status: "ok", reused: false });
    expect(await keyed.init(validInit("grpc-interceptor"))).toMatchObject({ status: "ok" });
  });
});

describe("the API key and the session bearer", () => {
  it("CallTool needs both, each in its own header", async () => {
    const input = validInit("both");
    const tag = input.apiUrl.split("/").pop() ?? "";
    await keyed.init(input);
    const call = { sessionId: input.sessionId, name: "validate_settings" };
    const bearer = `Bearer ${input.jwtToken}`;

    const bearerOnly = await rpcFailure(
      plain.callTool(call, { headers: { authorization: bearer } }),
    );
    expect(bearerOnly).toMatchObject({ code: Code.Unauthenticated, reason: "API_KEY_REQUIRED" });
    const keyOnly = await rpcFailure(keyed.callTool(call));
    expect(keyOnly).toMatchObject({
      code: Code.Unauthenticated,
      reason: "SESSION_CREDENTIALS_MISMATCH",
    });
    const keyAsBearer = await rpcFailure(
      keyed.callTool(call, { headers: { authorization: `Bearer ${backendKey}` } }),
    );
    expect(keyAsBearer.reason).toBe("SESSION_CREDENTIALS_MISMATCH");
    const tokenAsKey = await rpcFailure(
      plain.callTool(call, { headers: { "x-api-key": input.jwtToken, authorization: bearer } }),
    );
    expect(tokenAsKey.reason).toBe("API_KEY_INVALID");
    const validationsBefore = upstream.validations("ok", tag);

    const res = await keyed.callTool(call, { headers: { authorization: bearer } });
    expect(res.isError).toBe(false);
    // The tool reached the user's API with the session's token, never the service's key.
    expect(upstream.validations("ok", tag)).toBe(validationsBefore + 1);
    expect(upstream.authorizations("ok", tag)).toEqual(
      Array.from({ length: validationsBefore + 1 }, () => bearer),
    );
    for (const failure of [bearerOnly, keyOnly, keyAsBearer, tokenAsKey]) {
      responses.push(failure.error.message, JSON.stringify(failure.metadata));
    }
  });
});

describe("API keys on POST /init", () => {
  const alias = (body: Record<string, string>, headers?: Record<string, string>) =>
    post("/init", body, headers);
  const legacy = (tag: string) => {
    const input = validInit(tag);
    return { session_id: input.sessionId, api_url: input.apiUrl, jwt_token: input.jwtToken };
  };

  it("answers 401 error_type API_KEY_REQUIRED without a key, before any check", async () => {
    const body = legacy("alias-none");
    const res = await alias(body);
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ status: "error", error_type: "API_KEY_REQUIRED" });
    expect(upstream.validations("ok", body.api_url.split("/").pop() ?? "")).toBe(0);
  });

  it("answers 401 error_type API_KEY_INVALID with a wrong key", async () => {
    const res = await alias(legacy("alias-wrong"), { "x-api-key": wrongKey });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ status: "error", error_type: "API_KEY_INVALID" });
  });

  it("answers 200 with a configured key", async () => {
    const res = await alias(legacy("alias-ok"), { "x-api-key": backendKey });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
  });
});

describe("failed caller authentication in the audit log", () => {
  const failures = (act: () => Promise<unknown>) => authFailures(service, act);

  it("records a missing and a wrong key over Connect JSON, with the caller's address", async () => {
    expect(await failures(() => post(initPath, validInit("audit-none")))).toEqual(
      authFailed("API_KEY_REQUIRED"),
    );
    expect(
      await failures(() => post(initPath, validInit("audit-wrong"), { "x-api-key": wrongKey })),
    ).toEqual(authFailed("API_KEY_INVALID"));
    expect(
      await failures(() =>
        post(`${servicePath}/ListTools`, { sessionId: "audit-x" }, { "x-api-key": wrongKey }),
      ),
    ).toEqual(authFailed("API_KEY_INVALID"));
  });

  it("records a wrong key over gRPC", async () => {
    const recorded = await failures(async () => {
      const failure = await rpcFailure(
        plain.init(validInit("audit-grpc"), { headers: { "x-api-key": wrongKey } }),
      );
      responses.push(failure.error.message);
    });
    expect(recorded).toEqual(authFailed("API_KEY_INVALID"));
  });

  it("records a missing and a wrong key on POST /init", async () => {
    const legacy = (tag: string) => {
      const input = validInit(tag);
      return { session_id: input.sessionId, api_url: input.apiUrl, jwt_token: input.jwtToken };
    };
    expect(await failures(() => post("/init", legacy("audit-alias-none")))).toEqual(
      authFailed("API_KEY_REQUIRED"),
    );
    expect(
      await failures(() => post("/init", legacy("audit-alias-wrong"), { "x-api-key": wrongKey })),
    ).toEqual(authFailed("API_KEY_INVALID"));
  });

  it("records nothing for an accepted key, and no key ever reaches a log line", async () => {
    expect(
      await failures(() => post(initPath, validInit("audit-ok"), { "x-api-key": backendKey })),
    ).toEqual([]);
    expect(await failures(() => keyed.init(validInit("audit-ok-grpc")))).toEqual([]);
    const text = service.log.text();
    expect(text).toContain("auth_failed");
    expect(canaries.filter((key) => text.includes(key))).toEqual([]);
  });
});
