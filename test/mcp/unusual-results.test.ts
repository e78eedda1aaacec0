import { Code } from "@connectrpc/connect";
import { beforeEach, describe, expect, it } from "vitest";
import type { CallToolResponse } from "../../gen/mcpclient/v1/session_service_pb.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { makeJwt, paths, useMcpHarness } from "./harness.js";

const sessionId = "s-raw";

const mcp = useMcpHarness();
const { upstream } = mcp;
let token: string;

beforeEach(() => {
  token = makeJwt();
});

/** A service whose only server is fixtures/raw-server.mjs, with session `s-raw` open. */
async function open() {
  const { client } = await mcp.open({ raw: nodeServer(paths.rawFixture) }, sessionId, token);
  return client;
}

/** The pid the fixture reports from its `info` tool. */
function pidOf(res: CallToolResponse): unknown {
  return res.structuredContent?.pid;
}

describe("content the SDK does not know", () => {
  it("passes an item of an unknown type or a malformed known type through as `other`, unchanged", async () => {
    const client = await open();
    const res = await client.callTool({ sessionId, name: "odd-content" }, bearer(token));
    expect(res.isError).toBe(false);
    expect(res.content.map((item) => item.kind)).toEqual([
      { case: "text", value: expect.objectContaining({ text: "plain" }) },
      { case: "other", value: { type: "hologram", data: "x", extra: { a: 1 } } },
      { case: "other", value: { type: "image", mimeType: "image/png" } },
    ]);
  });
});

describe("a result the SDK cannot read", () => {
  it("is INTERNAL MCP_ERROR without mcp_code, and the session and its server go on", async () => {
    const client = await open();
    const pid = pidOf(await client.callTool({ sessionId, name: "info" }, bearer(token)));
    expect(pid).toEqual(expect.any(Number));

    const failure = await rpcFailure(
      client.callTool({ sessionId, name: "unreadable" }, bearer(token)),
    );
    expect(failure.code).toBe(Code.Internal);
    expect(failure.reason).toBe("MCP_ERROR");
    expect(failure.metadata).toEqual({ server: "raw" });

    // Not a lost server: the same child answers, and Init reuses the session.
    const next = await client.callTool({ sessionId, name: "info" }, bearer(token));
    expect(pidOf(next)).toBe(pid);
    const again = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: token });
    expect(again.reused).toBe(true);
  });
});

describe("a tools/list with an output schema no validator can compile", () => {
  it("still lets other tools be called", async () => {
    const client = await open();
    // The first call of a session lists the tools to find the tool's server.
    const res = await client.callTool({ sessionId, name: "info" }, bearer(token));
    expect(pidOf(res)).toEqual(expect.any(Number));
  });

  it("is listed in full, the schema passed on as the server sent it", async () => {
    const client = await open();
    const { tools } = await client.listTools({ sessionId }, bearer(token));
    expect(tools.map((t) => t.name).sort()).toEqual([
      "bad-schema",
      "info",
      "odd-content",
      "unreadable",
    ]);
    expect(tools.find((t) => t.name === "bad-schema")?.outputSchema).toEqual({
      type: "object",
      properties: { x: { type: "nonsense" } },
    });
    const info = await client.callTool({ sessionId, name: "info" }, bearer(token));
    expect(pidOf(info)).toEqual(expect.any(Number));
  });
});
