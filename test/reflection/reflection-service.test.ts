import {
  Code,
  createClient,
  createConnectRouter,
  createRouterTransport,
} from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import type { Config } from "../../src/config/types.js";
import { createLogger } from "../../src/log/logger.js";
import { makeAuthConfig } from "../integration/auth-harness.js";
import { sha256hex, withApiKey } from "../support/api-key.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  errorCodeOf,
  filesOf,
  type Query,
  reflect,
  reflectionVersions,
  servicesOf,
  toRegistry,
} from "./reflection-client.js";

const apps: App[] = [];

/** The app's routes and interceptors over createRouterTransport; sends `apiKey` when given. */
function inMemory(config: Config, apiKey?: string) {
  const app = createApp(config, createLogger({ level: "silent" }));
  apps.push(app);
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: app.interceptors },
    transport: { interceptors: apiKey === undefined ? [] : [withApiKey(apiKey)] },
  });
  return { app, transport };
}

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

const sessionFile = "mcpclient/v1/session_service.proto";
const symbol = (value: string): Query => ({ case: "fileContainingSymbol", value });

describe.each(reflectionVersions)("reflection %s, in memory", (version) => {
  const { app, transport } = inMemory(makeAuthConfig());

  it("lists exactly the services the router registers", async () => {
    const router = createConnectRouter();
    app.routes(router);
    const registered = new Set(router.handlers.map((h) => h.service.typeName));
    const [reply] = await reflect(transport, version, [{ case: "listServices", value: "" }]);
    const listed = servicesOf(reply);
    expect(new Set(listed)).toEqual(registered);
    expect(listed).toHaveLength(registered.size);
    expect(listed).toEqual(
      expect.arrayContaining([
        "mcpclient.v1.SessionService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("answers a file by name with every file it imports, transitively", async () => {
    const [reply] = await reflect(transport, version, [
      { case: "fileByFilename", value: sessionFile },
    ]);
    const files = filesOf(reply);
    expect(files[0]?.name).toBe(sessionFile);
    const names = files.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "mcpclient/v1/tool.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/duration.proto",
      ]),
    );
    for (const file of files) for (const d of file.dependency) expect(names).toContain(d);
  });

  it.each([
    ["mcpclient.v1.SessionService", sessionFile],
    ["mcpclient.v1.SessionService.CallTool", sessionFile],
    ["mcpclient.v1.CallToolRequest", sessionFile],
    ["mcpclient.v1.Role", "mcpclient/v1/tool.proto"],
    ["google.protobuf.Struct", "google/protobuf/struct.proto"],
    // Imported by no service file, described so that clients decode error details.
    ["mcpclient.v1.ErrorInfo", "mcpclient/v1/error_info.proto"],
    [`grpc.reflection.${version}.ServerReflection`, `grpc/reflection/${version}/reflection.proto`],
  ])("answers the file containing %s", async (name, file) => {
    const [reply] = await reflect(transport, version, [symbol(name)]);
    expect(filesOf(reply)[0]?.name).toBe(file);
  });

  it("describes SessionService well enough to call it", async () => {
    const [reply] = await reflect(transport, version, [symbol("mcpclient.v1.SessionService")]);
    const service = toRegistry(filesOf(reply)).getService("mcpclient.v1.SessionService");
    expect(service?.methods.map((m) => m.name)).toEqual(
      expect.arrayContaining(["Init", "ListTools", "CallTool", "CloseSession"]),
    );
  });

  it("sends an import once per stream, and the file asked for every time", async () => {
    const replies = await reflect(transport, version, [
      symbol("mcpclient.v1.SessionService"),
      symbol("mcpclient.v1.Tool"),
      symbol("mcpclient.v1.Tool"),
    ]);
    const names = replies.map((r) => filesOf(r).map((f) => f.name));
    expect(names[0]).toContain("mcpclient/v1/tool.proto");
    expect(names[1]).toEqual(["mcpclient/v1/tool.proto"]);
    expect(names[2]).toEqual(["mcpclient/v1/tool.proto"]);
  });

  it("answers unknown names with NOT_FOUND and keeps the stream open", async () => {
    const replies = await reflect(transport, version, [
      symbol("mcpclient.v1.NoSuchService"),
      { case: "fileByFilename", value: "no/such.proto" },
      {
        case: "fileContainingExtension",
        value: { containingType: "mcpclient.v1.Tool", extensionNumber: 100 },
      },
      { case: "allExtensionNumbersOfType", value: "mcpclient.v1.Nope" },
      { case: undefined },
      symbol("mcpclient.v1.SessionService.CallTool"),
    ]);
    expect(replies.slice(0, 5).map(errorCodeOf)).toEqual([
      Code.NotFound,
      Code.NotFound,
      Code.NotFound,
      Code.NotFound,
      Code.InvalidArgument,
    ]);
    expect(filesOf(replies[5])[0]?.name).toBe(sessionFile);
  });

  it("answers the extension numbers of a known message: none", async () => {
    const [reply] = await reflect(transport, version, [
      { case: "allExtensionNumbersOfType", value: "mcpclient.v1.Tool" },
    ]);
    expect(reply?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "mcpclient.v1.Tool", extensionNumber: [] },
    });
  });

  it("echoes the request and its host", async () => {
    const [reply] = await reflect(transport, version, [{ case: "listServices", value: "*" }]);
    expect(reply?.validHost).toBe("localhost");
    expect(reply?.originalRequest?.messageRequest).toEqual({ case: "listServices", value: "*" });
  });
});

describe.each(reflectionVersions)("reflection %s with API keys", (version) => {
  const key = "reflection-test-key";
  const apiKeys = [{ name: "backend", sha256: sha256hex(key) }];
  const list: Query[] = [{ case: "listServices", value: "" }];

  it("follows service auth: UNAUTHENTICATED without a key, answered with one", async () => {
    const config = makeAuthConfig({ auth: { apiKeys } });
    const failure = await rpcFailure(reflect(inMemory(config).transport, version, list));
    expect(failure.code).toBe(Code.Unauthenticated);
    expect(failure.reason).toBe("API_KEY_REQUIRED");
    const [reply] = await reflect(inMemory(config, key).transport, version, list);
    expect(servicesOf(reply)).toContain("mcpclient.v1.SessionService");
  });

  it("answers without a key when auth.anonymous.reflection is true, and only reflection", async () => {
    const config = makeAuthConfig({ auth: { apiKeys, anonymous: { reflection: true } } });
    const { transport } = inMemory(config);
    const [reply] = await reflect(transport, version, list);
    expect(servicesOf(reply)).toContain("mcpclient.v1.SessionService");
    const failure = await rpcFailure(
      createClient(SessionService, transport).closeSession({ sessionId: "x" }),
    );
    expect(failure.code).toBe(Code.Unauthenticated);
  });
});
