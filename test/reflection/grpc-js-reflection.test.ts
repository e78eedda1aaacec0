import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Service, startService } from "../integration/harness.js";
import { repoRoot } from "../support/repo-paths.js";
import { reflectionVersions, toRegistry } from "./reflection-client.js";

/** A reflection response as proto-loader decodes it (`keepCase`, `oneofs`). */
interface Response {
  message_response: string;
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

type Duplex = grpc.ClientDuplexStream<object, Response>;
type ReflectionClient = grpc.Client & { ServerReflectionInfo(): Duplex };
type ClientConstructor = new (address: string, creds: grpc.ChannelCredentials) => ReflectionClient;

const protoDir = join(repoRoot, "proto");

/** The reflection client of `version`, built by grpc-js from our reflection proto. */
function loadClient(version: string): ClientConstructor {
  const definition = loadSync(join(protoDir, `grpc/reflection/${version}/reflection.proto`), {
    includeDirs: [protoDir],
    keepCase: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: ClientConstructor }> };
  };
  const service = loaded.grpc.reflection[version]?.ServerReflection;
  if (!service) throw new Error(`no reflection ${version} in the proto`);
  return service;
}

/** Writes one request on `stream` and resolves with the next response. */
function ask(stream: Duplex, request: object): Promise<Response> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    stream.once("error", onError);
    stream.once("data", (response: Response) => {
      stream.off("error", onError);
      resolve(response);
    });
    stream.write(request);
  });
}

let service: Service;

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  await service.server.shutdown();
});

describe.each(reflectionVersions)("grpc-js reflection %s client", (version) => {
  let client: ReflectionClient;
  let stream: Duplex;

  beforeAll(() => {
    const Client = loadClient(version);
    client = new Client(`127.0.0.1:${service.server.port}`, grpc.credentials.createInsecure());
    stream = client.ServerReflectionInfo();
  });

  afterAll(() => {
    stream.end();
    client.close();
  });

  it("lists services, then describes a method's file, on one stream", async () => {
    const listed = await ask(stream, { list_services: "" });
    expect(listed.message_response).toBe("list_services_response");
    expect(listed.list_services_response?.service.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        "mcpclient.v1.SessionService",
        `grpc.reflection.${version}.ServerReflection`,
      ]),
    );

    const found = await ask(stream, {
      file_containing_symbol: "mcpclient.v1.SessionService.CallTool",
    });
    expect(found.message_response).toBe("file_descriptor_response");
    const files = (found.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    expect(files[0]?.name).toBe("mcpclient/v1/session_service.proto");
    const methods = files[0]?.service.find((s) => s.name === "SessionService")?.method;
    expect(methods?.map((m) => m.name)).toEqual(
      expect.arrayContaining(["Init", "ListTools", "CallTool", "CloseSession"]),
    );
    // Everything the file imports came along: the schema resolves on its own.
    const registry = toRegistry(files);
    expect(
      registry.getMessage("mcpclient.v1.CallToolRequest")?.field.arguments?.message?.typeName,
    ).toBe("google.protobuf.Struct");
  });

  it("answers an unknown symbol with NOT_FOUND on the same stream", async () => {
    const missing = await ask(stream, { file_containing_symbol: "mcpclient.v1.Missing" });
    expect(missing.message_response).toBe("error_response");
    expect(missing.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
  });
});
