import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import { repoRoot } from "../support/repo-paths.js";
import { makeJwt, type Service, startService, useUpstream } from "./harness.js";

type Callback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
type Unary = (request: object, metadata: grpc.Metadata, callback: Callback) => void;
type SessionServiceClient = grpc.Client & {
  Init: Unary;
  CallTool: Unary;
  ListTools: Unary;
  CloseSession: Unary;
};

const protoDir = join(repoRoot, "proto");
const definition = loadSync(join(protoDir, "mcpclient/v1/session_service.proto"), {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  mcpclient: {
    v1: {
      SessionService: new (address: string, creds: grpc.ChannelCredentials) => SessionServiceClient;
    };
  };
};

const upstream = useUpstream();
let service: Service;
let client: SessionServiceClient;

beforeAll(async () => {
  service = await startService();
  const { SessionService } = loaded.mcpclient.v1;
  client = new SessionService(
    `127.0.0.1:${service.server.port}`,
    grpc.credentials.createInsecure(),
  );
});

afterAll(async () => {
  client.close();
  await service.server.shutdown();
});

/** Calls a unary method; resolves with the response or the ServiceError. */
function call(
  method: "Init" | "CallTool" | "ListTools" | "CloseSession",
  request: object,
  metadata = new grpc.Metadata(),
): Promise<{ error: grpc.ServiceError | null; response: Record<string, unknown> }> {
  return new Promise((resolve) => {
    client[method](request, metadata, (error, response) => resolve({ error, response }));
  });
}

/** The `google.rpc.Status` of a `grpc-status-details-bin` trailer, decoded by hand. */
function decodeStatus(bytes: Uint8Array) {
  const status = { code: 0, message: "", details: [] as { typeUrl: string; value: Uint8Array }[] };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) status.code = reader.int32();
    else if (field === 2 && wireType === WireType.LengthDelimited) status.message = reader.string();
    else if (field === 3 && wireType === WireType.LengthDelimited) {
      const any = new BinaryReader(reader.bytes());
      const detail: { typeUrl: string; value: Uint8Array } = {
        typeUrl: "",
        value: new Uint8Array(),
      };
      while (any.pos < any.len) {
        const [anyField, anyType] = any.tag();
        if (anyField === 1) detail.typeUrl = any.string();
        else if (anyField === 2) detail.value = any.bytes();
        else any.skip(anyType);
      }
      status.details.push(detail);
    } else reader.skip(wireType);
  }
  return status;
}

let counter = 0;
function initRequest(mode: "ok" | "reject" = "ok", jwt_token = makeJwt()) {
  counter += 1;
  return {
    session_id: `grpcjs-${counter}`,
    api_url: upstream.apiUrl(mode, `grpcjs-${counter}`),
    jwt_token,
  };
}

describe("@grpc/grpc-js over h2c", () => {
  it("opens a session, then reuses it", async () => {
    const request = initRequest();
    const first = await call("Init", request);
    expect(first.error).toBeNull();
    expect(first.response).toEqual({ status: "ok", reused: false });
    const second = await call("Init", request);
    expect(second.response).toEqual({ status: "ok", reused: true });
  });

  it("fails a rejected token with status 16 and an ErrorInfo in grpc-status-details-bin", async () => {
    const { error } = await call("Init", initRequest("reject"));
    expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(error?.code).toBe(16);
    const [trailer] = error?.metadata.get("grpc-status-details-bin") ?? [];
    expect(trailer).toBeInstanceOf(Buffer);
    const status = decodeStatus(trailer as Buffer);
    expect(status.code).toBe(16);
    expect(status.details).toHaveLength(1);
    const [detail] = status.details;
    expect(detail?.typeUrl).toBe("type.googleapis.com/mcpclient.v1.ErrorInfo");
    const info = fromBinary(ErrorInfoSchema, detail?.value ?? new Uint8Array());
    expect(info.reason).toBe("CREDENTIALS_REJECTED");
    expect(info.domain).toBe("mcp-client-server");
    expect(info.metadata).toEqual({ http_status: "401" });
  });

  it("fails missing fields with status 3 INVALID_ARGUMENT", async () => {
    const { error } = await call("Init", { session_id: "grpcjs-missing" });
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const [trailer] = error?.metadata.get("grpc-status-details-bin") ?? [];
    const [detail] = decodeStatus(trailer as Buffer).details;
    const info = fromBinary(ErrorInfoSchema, detail?.value ?? new Uint8Array());
    expect(info.reason).toBe("MISSING_PARAMETERS");
    expect(info.metadata).toEqual({ fields: "api_url,jwt_token" });
  });

  it("calls validate_settings with the bearer token as metadata and returns its content", async () => {
    const jwt = makeJwt();
    const request = initRequest("ok", jwt);
    expect((await call("Init", request)).error).toBeNull();
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${jwt}`);

    const listed = await call("ListTools", { session_id: request.session_id }, metadata);
    expect(listed.error).toBeNull();
    const tools = listed.response.tools as { name: string; input_schema: unknown }[];
    expect(tools.map((t) => t.name).sort()).toEqual(["api_request", "echo", "validate_settings"]);

    const called = await call(
      "CallTool",
      { session_id: request.session_id, name: "validate_settings", arguments: { fields: {} } },
      metadata,
    );
    expect(called.error).toBeNull();
    expect(called.response.is_error).toBe(false);
    expect(called.response.content).toEqual([
      expect.objectContaining({
        kind: "text",
        text: expect.objectContaining({ text: '{"status":"success"}' }),
      }),
    ]);

    const closed = await call("CloseSession", { session_id: request.session_id }, metadata);
    expect(closed.response).toEqual({ closed: true });
  });

  it("refuses CallTool without metadata with status 16 SESSION_CREDENTIALS_MISMATCH", async () => {
    const request = initRequest();
    expect((await call("Init", request)).error).toBeNull();
    const { error } = await call("CallTool", {
      session_id: request.session_id,
      name: "validate_settings",
    });
    expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    const [trailer] = error?.metadata.get("grpc-status-details-bin") ?? [];
    const [detail] = decodeStatus(trailer as Buffer).details;
    expect(fromBinary(ErrorInfoSchema, detail?.value ?? new Uint8Array()).reason).toBe(
      "SESSION_CREDENTIALS_MISMATCH",
    );
  });
});
