import { join } from "node:path";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { makeAuthConfig } from "../integration/auth-harness.js";
import {
  jsonErrorInfo,
  makeJwt,
  postJson,
  type Service,
  servicePath,
  startService,
} from "../integration/harness.js";
import { sha256hex } from "../support/api-key.js";
import { repoRoot } from "../support/repo-paths.js";
import { rpcFailure } from "../support/rpc-failure.js";

const sessionService = "mcpclient.v1.SessionService";
const adminService = "mcpclient.v1.SessionAdminService";
const apiKey = "health-test-key";

type Callback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
type HealthClient = grpc.Client & {
  Check(request: object, callback: Callback): void;
  List(request: object, callback: Callback): void;
  Watch(request: object): grpc.ClientReadableStream<{ status: string }>;
};

const protoDir = join(repoRoot, "proto");
const loaded = grpc.loadPackageDefinition(
  loadSync(join(protoDir, "grpc/health/v1/health.proto"), {
    includeDirs: [protoDir],
    keepCase: true,
    enums: String,
    defaults: true,
  }),
) as unknown as {
  grpc: {
    health: {
      v1: { Health: new (address: string, creds: grpc.ChannelCredentials) => HealthClient };
    };
  };
};

// One server with API keys configured: health answers without one, the session service does not.
let service: Service;
let manager: Http2SessionManager;
let health: Client<typeof Health>;
let sessions: Client<typeof SessionService>;
let grpcJs: HealthClient;

beforeAll(async () => {
  service = await startService(
    makeAuthConfig({ auth: { apiKeys: [{ name: "backend", sha256: sha256hex(apiKey) }] } }),
  );
  manager = new Http2SessionManager(service.url);
  const transport = createGrpcTransport({ baseUrl: service.url, sessionManager: manager });
  health = createClient(Health, transport);
  sessions = createClient(SessionService, transport);
  grpcJs = new loaded.grpc.health.v1.Health(
    `127.0.0.1:${service.server.port}`,
    grpc.credentials.createInsecure(),
  );
});

afterAll(async () => {
  grpcJs.close();
  manager.abort();
  await service.server.shutdown();
});

function grpcJsCall(method: "Check" | "List", request: object) {
  return new Promise<{ error: grpc.ServiceError | null; response: Record<string, unknown> }>(
    (resolve) => grpcJs[method](request, (error, response) => resolve({ error, response })),
  );
}

describe("grpc.health.v1.Health over the port, without an API key", () => {
  it("answers Check and List over gRPC", async () => {
    expect((await health.check({})).status).toBe(Status.SERVING);
    expect((await health.check({ service: sessionService })).status).toBe(Status.SERVING);
    const { statuses } = await health.list({});
    expect(Object.keys(statuses).sort()).toEqual(["", adminService, sessionService]);
    expect(await rpcFailure(health.check({ service: "no.such.Service" }))).toMatchObject({
      code: Code.NotFound,
      reason: "SERVICE_NOT_FOUND",
    });
  });

  it("answers Check in the Connect protocol (JSON over HTTP/1.1)", async () => {
    const res = await postJson(`${service.url}/grpc.health.v1.Health/Check`, {
      service: sessionService,
    });
    expect(res).toMatchObject({ status: 200, json: { status: "SERVING" } });
    const unknown = await postJson(`${service.url}/grpc.health.v1.Health/Check`, {
      service: "x",
    });
    expect(unknown.status).toBe(404);
    expect(jsonErrorInfo(unknown.json)?.reason).toBe("SERVICE_NOT_FOUND");
  });

  it("refuses the session service without the key, and serves it with the key", async () => {
    const init = {
      sessionId: "health-auth",
      apiUrl: "https://api.example.com",
      jwtToken: makeJwt(),
    };
    expect(await rpcFailure(sessions.init(init))).toMatchObject({
      code: Code.Unauthenticated,
      reason: "API_KEY_REQUIRED",
    });
    const res = await postJson(`${service.url}${servicePath}/CloseSession`, init, {
      headers: { "x-api-key": apiKey, authorization: `Bearer ${init.jwtToken}` },
    });
    // No such session: `closed` is false, which proto JSON leaves out.
    expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: {} });
  });

  it("answers the probes without the key", async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });
});

describe("@grpc/grpc-js health client", () => {
  it("Check: SERVING for the server and the session service, NOT_FOUND for others", async () => {
    expect(await grpcJsCall("Check", {})).toEqual({ error: null, response: { status: "SERVING" } });
    expect((await grpcJsCall("Check", { service: sessionService })).response).toEqual({
      status: "SERVING",
    });
    const { error } = await grpcJsCall("Check", { service: "no.such.Service" });
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
  });

  it("List: every service with its status", async () => {
    const { error, response } = await grpcJsCall("List", {});
    expect(error).toBeNull();
    expect(response).toEqual({
      statuses: {
        "": { status: "SERVING" },
        [adminService]: { status: "SERVING" },
        [sessionService]: { status: "SERVING" },
      },
    });
  });

  it("Watch: the current status at once, SERVICE_UNKNOWN for an unknown service; cancel ends it", async () => {
    for (const [name, expected] of [
      [sessionService, "SERVING"],
      ["no.such.Service", "SERVICE_UNKNOWN"],
    ] as const) {
      const call = grpcJs.Watch({ service: name });
      const first = await new Promise<{ status: string }>((resolve, reject) => {
        call.once("data", resolve);
        call.once("error", reject);
      });
      expect(first).toEqual({ status: expected });
      const ended = new Promise<grpc.ServiceError>((resolve) => call.once("error", resolve));
      call.cancel();
      expect((await ended).code).toBe(grpc.status.CANCELLED);
    }
  });
});
