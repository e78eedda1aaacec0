import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { file_mcpclient_v1_error_info } from "../../gen/mcpclient/v1/error_info_pb.js";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { createDescriptorIndex } from "../../src/reflection/descriptor-index.js";
import { createReflectionStream } from "../../src/reflection/reflection-stream.js";
import { toRegistry } from "./reflection-client.js";

const index = createDescriptorIndex([SessionService, Health, ServerReflection, SessionService]);
const session = "mcpclient/v1/session_service.proto";

const names = (files: readonly { name: string }[] | undefined) => files?.map((f) => f.name);
const decode = (files: readonly Uint8Array[]) =>
  files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));

describe("createDescriptorIndex", () => {
  it("names each served service once, in order", () => {
    expect(index.serviceNames).toEqual([
      "mcpclient.v1.SessionService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
    ]);
  });

  it.each([
    ["mcpclient.v1.SessionService", session],
    ["mcpclient.v1.SessionService.CallTool", session],
    ["mcpclient.v1.CallToolRequest", session],
    ["mcpclient.v1.CallToolRequest.session_id", session],
    ["mcpclient.v1.Role", "mcpclient/v1/tool.proto"],
    // Enum values are scoped beside their enum.
    ["mcpclient.v1.ROLE_USER", "mcpclient/v1/tool.proto"],
    ["google.protobuf.Struct.FieldsEntry", "google/protobuf/struct.proto"],
    ["google.protobuf.NULL_VALUE", "google/protobuf/struct.proto"],
    ["google.protobuf.Duration", "google/protobuf/duration.proto"],
    ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
    [
      "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
      "grpc/reflection/v1/reflection.proto",
    ],
  ])("finds %s in %s", (symbol, file) => {
    expect(index.filesBySymbol(symbol)?.[0]?.name).toBe(file);
  });

  it.each([
    "mcpclient.v1.Nope",
    "mcpclient.v1.Role.ROLE_USER",
    "mcpclient.v1",
    ".mcpclient.v1.SessionService",
    "",
  ])("finds nothing for %j", (symbol) => {
    expect(index.filesBySymbol(symbol)).toBeUndefined();
  });

  it("answers a file with all it imports, transitively, each once", () => {
    const files = index.filesByName(session) ?? [];
    expect(files[0]?.name).toBe(session);
    expect(new Set(names(files)).size).toBe(files.length);
    const sent = new Set(names(files));
    for (const file of decode(files.map((f) => f.bytes))) {
      for (const dependency of file.dependency) expect(sent).toContain(dependency);
    }
    expect(sent).toContain("mcpclient/v1/tool.proto");
    expect(sent).toContain("google/protobuf/struct.proto");
    expect(sent).toContain("google/protobuf/duration.proto");
  });

  it("serializes files that a client can resolve on their own", () => {
    const files = decode(
      (index.filesBySymbol("mcpclient.v1.SessionService") ?? []).map((f) => f.bytes),
    );
    const registry = toRegistry(files);
    const service = registry.getService("mcpclient.v1.SessionService");
    expect(service?.methods.map((m) => m.name)).toEqual(SessionService.methods.map((m) => m.name));
    expect(service?.method.callTool?.input.field.arguments?.message?.typeName).toBe(
      "google.protobuf.Struct",
    );
  });

  it("also indexes extra files, such as error detail types", () => {
    expect(index.filesBySymbol("mcpclient.v1.ErrorInfo")).toBeUndefined();
    const withDetails = createDescriptorIndex([SessionService], [file_mcpclient_v1_error_info]);
    expect(withDetails.filesBySymbol("mcpclient.v1.ErrorInfo")?.[0]?.name).toBe(
      "mcpclient/v1/error_info.proto",
    );
    expect(withDetails.serviceNames).toEqual(["mcpclient.v1.SessionService"]);
  });

  it("knows messages without extensions, and no extensions", () => {
    expect(index.extensionNumbers("mcpclient.v1.CallToolRequest")).toEqual([]);
    expect(index.extensionNumbers("mcpclient.v1.Role")).toBeUndefined();
    expect(index.extensionNumbers("nope.Message")).toBeUndefined();
    expect(index.filesByExtension("mcpclient.v1.CallToolRequest", 100)).toBeUndefined();
  });
});

describe("createReflectionStream", () => {
  it("sends the file asked for every time, and each import once per stream", () => {
    const stream = createReflectionStream(index);
    const first = stream.answer({ kind: "fileByFilename", name: session });
    const again = stream.answer({ kind: "fileContainingSymbol", symbol: "mcpclient.v1.Tool" });
    const same = stream.answer({ kind: "fileByFilename", name: session });
    const fileNames = (a: typeof first) =>
      a.kind === "files" ? decode(a.files).map((f) => f.name) : [a.kind];
    expect(fileNames(first)).toContain("google/protobuf/struct.proto");
    expect(fileNames(again)).toEqual(["mcpclient/v1/tool.proto"]);
    expect(fileNames(same)).toEqual([session]);
    // A new stream starts from nothing.
    const fresh = createReflectionStream(index).answer({ kind: "fileByFilename", name: session });
    expect(fileNames(fresh)).toEqual(fileNames(first));
  });

  it("answers unknown names and empty requests with an error, and goes on", () => {
    const stream = createReflectionStream(index);
    const reasons = [
      stream.answer({ kind: "fileContainingSymbol", symbol: "x.Y" }),
      stream.answer({ kind: "fileByFilename", name: "x.proto" }),
      stream.answer({ kind: "fileContainingExtension", extendee: "x.Y", number: 1 }),
      stream.answer({ kind: "allExtensionNumbersOfType", typeName: "x.Y" }),
      stream.answer({ kind: "none" }),
    ].map((a) => (a.kind === "error" ? a.reason : a.kind));
    expect(reasons).toEqual([
      "NOT_FOUND",
      "NOT_FOUND",
      "NOT_FOUND",
      "NOT_FOUND",
      "INVALID_ARGUMENT",
    ]);
    expect(stream.answer({ kind: "listServices" })).toEqual({
      kind: "services",
      names: index.serviceNames,
    });
  });
});
