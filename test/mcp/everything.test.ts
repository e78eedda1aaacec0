import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CallToolResponse } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type ContentItem, Role } from "../../gen/mcpclient/v1/tool_pb.js";
import type { McpServerConfig } from "../../src/config/types.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { makeJwt, paths, type Service, useMcpHarness } from "./harness.js";

// Each tool the suite calls, checked in the installed dist so a renamed tool fails loudly.
const usedTools = [
  "echo",
  "get-sum",
  "get-tiny-image",
  "get-resource-links",
  "get-resource-reference",
  "get-structured-content",
  "get-annotated-message",
];

const everything = nodeServer(paths.everything, {}, ["stdio"]);
const sessionId = "s-everything";

const mcp = useMcpHarness();
const { upstream } = mcp;
let service: Service | undefined;
let token: string;
let tinyImage: Buffer;

beforeAll(() => {
  for (const tool of usedTools) {
    const file = join(paths.everythingTools, `${tool}.js`);
    if (!existsSync(file)) throw new Error(`server-everything has no ${file}`);
    expect(readFileSync(file, "utf8")).toContain(`"${tool}"`);
  }
  const source = readFileSync(join(paths.everythingTools, "get-tiny-image.js"), "utf8");
  const base64 = /MCP_TINY_IMAGE = "([A-Za-z0-9+/=]+)"/.exec(source)?.[1];
  if (base64 === undefined) throw new Error("MCP_TINY_IMAGE not found in get-tiny-image.js");
  tinyImage = Buffer.from(base64, "base64");
});

beforeEach(() => {
  token = makeJwt();
  service = undefined;
});

async function open(servers: Record<string, McpServerConfig> = { everything }): Promise<Service> {
  service = await mcp.open(servers, sessionId, token);
  return service;
}

function call(name: string, args: JsonObject = {}): Promise<CallToolResponse> {
  if (service === undefined) throw new Error("open() first");
  return service.client.callTool({ sessionId, name, arguments: args }, bearer(token));
}

type Kind = ContentItem["kind"];
type KindValues = { [C in Kind as C["case"] & string]: C["value"] };

function kind<K extends keyof KindValues>(
  item: ContentItem | undefined,
  expected: K,
): KindValues[K] {
  if (item?.kind.case !== expected) {
    throw new Error(`expected a ${expected} item, got ${item?.kind.case}`);
  }
  return item.kind.value as KindValues[K];
}

/** The tool names server-everything offers a client without capabilities, every page. */
async function referenceToolNames(): Promise<string[]> {
  const client = new McpClient({ name: "reference", version: "1.0.0" }, { capabilities: {} });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [paths.everything, "stdio"],
      stderr: "ignore",
    }),
  );
  try {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return names;
  } finally {
    await client.close();
  }
}

describe("server-everything over stdio", () => {
  it("lists every tool with bare names and maps each field", async () => {
    const { client } = await open();
    const { tools } = await client.listTools({ sessionId }, bearer(token));
    const expected = await referenceToolNames();
    expect(expected).toEqual(expect.arrayContaining(usedTools));
    expect(tools.map((t) => t.name).sort()).toEqual([...expected].sort());
    expect(new Set(tools.map((t) => t.server))).toEqual(new Set(["everything"]));

    const echo = tools.find((t) => t.name === "echo");
    expect(echo).toMatchObject({
      title: "Echo Tool",
      description: "Echoes back the input string",
      inputSchema: {
        type: "object",
        properties: { message: { type: "string", description: "Message to echo" } },
        required: ["message"],
      },
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    });
    expect(echo?.outputSchema).toBeUndefined();

    const structured = tools.find((t) => t.name === "get-structured-content");
    expect(structured?.outputSchema).toMatchObject({
      type: "object",
      properties: {
        temperature: { type: "number" },
        conditions: { type: "string" },
        humidity: { type: "number" },
      },
    });
  });

  it("calls echo and get-sum", async () => {
    await open();
    const echo = await call("echo", { message: "hello über" });
    expect(echo.isError).toBe(false);
    expect(echo.content).toHaveLength(1);
    expect(kind(echo.content[0], "text").text).toBe("Echo: hello über");
    expect(echo.structuredContent).toBeUndefined();

    const sum = await call("get-sum", { a: 2, b: 3.5 });
    expect(kind(sum.content[0], "text").text).toBe("The sum of 2 and 3.5 is 5.5.");
  });

  it("maps get-tiny-image to raw PNG bytes with their mime type", async () => {
    await open();
    const result = await call("get-tiny-image");
    expect(result.content.map((c) => c.kind.case)).toEqual(["text", "image", "text"]);
    const image = kind(result.content[1], "image");
    expect(image.mimeType).toBe("image/png");
    expect([...image.data.subarray(0, 8)]).toEqual([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ]);
    expect(Buffer.from(image.data).equals(tinyImage)).toBe(true);
    expect(image.annotations).toBeUndefined();
  });

  it("maps get-resource-links to resource_link items", async () => {
    await open();
    const result = await call("get-resource-links", { count: 2 });
    expect(result.content.map((c) => c.kind.case)).toEqual([
      "text",
      "resourceLink",
      "resourceLink",
    ]);
    const first = kind(result.content[1], "resourceLink");
    // server-everything serves its blobs as text/plain, so it describes them as plaintext.
    expect(first).toMatchObject({
      uri: "demo://resource/dynamic/blob/1",
      name: "Blob Resource 1",
      title: "",
      description: "Resource 1: plaintext resource",
      mimeType: "text/plain",
      icons: [],
    });
    expect(first.size).toBeUndefined();
    expect(first.annotations).toBeUndefined();
    expect(kind(result.content[2], "resourceLink")).toMatchObject({
      uri: "demo://resource/dynamic/text/2",
      name: "Text Resource 2",
      description: "Resource 2: plaintext resource",
      mimeType: "text/plain",
    });
  });

  it("maps get-resource-reference to embedded text and blob resources", async () => {
    await open();
    const text = await call("get-resource-reference", { resourceType: "Text", resourceId: 4 });
    const textResource = kind(text.content[1], "resource");
    expect(textResource.contents.case).toBe("text");
    expect(textResource.contents.value).toMatchObject({
      uri: "demo://resource/dynamic/text/4",
      mimeType: "text/plain",
      text: expect.stringMatching(/^Resource 4: This is a plaintext resource created at /),
    });

    const blob = await call("get-resource-reference", { resourceType: "Blob", resourceId: 5 });
    const blobResource = kind(blob.content[1], "resource");
    if (blobResource.contents.case !== "blob") throw new Error("expected blob contents");
    expect(blobResource.contents.value.uri).toBe("demo://resource/dynamic/blob/5");
    expect(blobResource.contents.value.mimeType).toBe("text/plain");
    // MCP carries the blob base64-encoded; the contract carries the decoded bytes.
    expect(Buffer.from(blobResource.contents.value.blob).toString("utf8")).toMatch(
      /^Resource 5: This is a base64 blob created at /,
    );
  });

  it("maps get-structured-content to structured_content", async () => {
    await open();
    const result = await call("get-structured-content", { location: "Chicago" });
    const weather = { temperature: 36, conditions: "Light rain / drizzle", humidity: 82 };
    expect(result.structuredContent).toEqual(weather);
    expect(JSON.parse(kind(result.content[0], "text").text)).toEqual(weather);
    expect(result.isError).toBe(false);
  });

  it("maps get-annotated-message annotations: audience roles and priority", async () => {
    await open();
    const error = await call("get-annotated-message", { messageType: "error", includeImage: true });
    const text = kind(error.content[0], "text");
    expect(text.text).toBe("Error: Operation failed");
    expect(text.annotations?.audience).toEqual([Role.USER, Role.ASSISTANT]);
    expect(text.annotations?.priority).toBe(1);
    expect(text.annotations?.lastModified).toBe("");
    const image = kind(error.content[1], "image");
    expect(image.annotations?.audience).toEqual([Role.USER]);
    expect(image.annotations?.priority).toBe(0.5);

    const debug = await call("get-annotated-message", { messageType: "debug" });
    const debugText = kind(debug.content[0], "text");
    expect(debugText.annotations?.audience).toEqual([Role.ASSISTANT]);
    expect(debugText.annotations?.priority).toBe(0.3);
  });

  it("returns get-sum with string arguments as an is_error result (McpServer validates input)", async () => {
    await open();
    const result = await call("get-sum", { a: "two", b: "three" });
    expect(result.isError).toBe(true);
    expect(kind(result.content[0], "text").text).toContain("-32602");
  });
});

describe("several servers", () => {
  it("prefixes tool names with the server name and routes calls by prefix", async () => {
    const { client } = await open({ builtin: { type: "builtin" }, everything });
    const { tools } = await client.listTools({ sessionId }, bearer(token));
    const names = tools.map((t) => t.name);
    expect(names).toContain("builtin__validate_settings");
    expect(names).toContain("builtin__api_request");
    expect(names).toContain("everything__echo");
    expect(names.every((n) => n.startsWith("builtin__") || n.startsWith("everything__"))).toBe(
      true,
    );
    for (const tool of tools) expect(tool.name.startsWith(`${tool.server}__`)).toBe(true);
    expect(tools.find((t) => t.name === "everything__echo")?.title).toBe("Echo Tool");

    const echo = await call("everything__echo", { message: "routed" });
    expect(kind(echo.content[0], "text").text).toBe("Echo: routed");

    const validationsBefore = upstream.validations().length;
    const validate = await call("builtin__validate_settings");
    expect(JSON.parse(kind(validate.content[0], "text").text)).toEqual({ status: "success" });
    expect(upstream.validations()).toHaveLength(validationsBefore + 1);

    const bare = await rpcFailure(call("echo", { message: "x" }));
    expect(bare.code).toBe(Code.NotFound);
    expect(bare.reason).toBe("TOOL_NOT_FOUND");
    expect(bare.metadata.tool).toBe("echo");
  });
});
