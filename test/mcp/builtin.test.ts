// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { beforeAll, describe, expect, it } from "vitest";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { requireBuilt } from "../support/repo-paths.js";
import { makeJwt, paths, useMcpHarness } from "./harness.js";

const { upstream, start } = useMcpHarness();

// `npm test` builds first (pretest); the stdio case runs the compiled bin.
beforeAll(() => requireBuilt(paths.builtinBin));

function textOf(item: { kind: { case: string | undefined; value?: unknown } } | undefined): string {
  if (item?.kind.case !== "text") throw new Error(`expected a text item, got ${item?.kind.case}`);
  return (item.kind.value as { text: string }).text;
}

describe("built-in server (default config)", () => {
  it("lists validate_settings and api_request with JSON schemas, and calls them", async () => {
    const { client } = await start();
    const token = makeJwt();
    const init = await client.init({
      sessionId: "s-builtin",
      apiUrl: upstream.apiUrl,
      jwtToken: token,
    });
    expect(init).toMatchObject({ status: "ok", reused: false });

    const { tools } = await client.listTools({ sessionId: "s-builtin" }, bearer(token));
    expect(tools.map((t) => t.name).sort()).toEqual(["api_request", "echo", "validate_settings"]);
    for (const tool of tools) expect(tool.server).toBe("builtin");

    const validate = tools.find((t) => t.name === "validate_settings");
    expect(validate?.title).toBe("Validate settings");
    expect(validate?.inputSchema).toMatchObject({ type: "object" });
    expect(validate?.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });

    const api = tools.find((t) => t.name === "api_request");
    expect(api?.inputSchema).toMatchObject({
      type: "object",
      properties: { path: { type: "string" }, method: { enum: expect.any(Array) } },
      required: ["path"],
    });
    expect(api?.outputSchema).toMatchObject({
      type: "object",
      properties: { status: { type: "integer" }, truncated: { type: "boolean" } },
    });
    expect(api?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });

    const before = upstream.validations().length;
    const result = await client.callTool(
      { sessionId: "s-builtin", name: "validate_settings" },
      bearer(token),
    );
    expect(result.isError).toBe(false);
    expect(JSON.parse(textOf(result.content[0]))).toEqual({ status: "success" });
    expect(upstream.validations()).toHaveLength(before + 1);
    expect(upstream.validations().at(-1)?.headers.authorization).toBe(`Bearer ${token}`);

    const missing = await client.callTool(
      { sessionId: "s-builtin", name: "api_request", arguments: { path: "items/1" } },
      bearer(token),
    );
    expect(missing.isError).toBe(true);
    expect(missing.structuredContent).toEqual({
      status: 404,
      body: { error: "not found" },
      truncated: false,
    });
    expect(upstream.requests.at(-1)).toMatchObject({ method: "GET", path: "/api/items/1" });
  });
});

describe("built-in server as a stdio child", () => {
  it("gets the session's API URL and token through templated env", async () => {
    const { client } = await start({
      builtin: nodeServer(paths.builtinBin, {
        API_BASE_URL: "${apiUrl}",
        API_TOKEN: "${jwtToken}",
        // The upstream is on loopback; the child's own guard allows that only here.
        API_OUTBOUND_PROFILE: "development",
      }),
    });
    const token = makeJwt("stdio-user");
    await client.init({ sessionId: "s-stdio-builtin", apiUrl: upstream.apiUrl, jwtToken: token });
    // The credential check itself sends `{}`; the tool in the child sends an empty body.
    expect(upstream.validations().map((r) => r.body)).toEqual(["{}"]);

    const result = await client.callTool(
      { sessionId: "s-stdio-builtin", name: "validate_settings" },
      bearer(token),
    );
    expect(result.isError).toBe(false);
    expect(JSON.parse(textOf(result.content[0]))).toEqual({ status: "success" });

    const calls = upstream.validations();
    expect(calls.map((r) => r.body)).toEqual(["{}", ""]);
    expect(calls[1]?.headers.authorization).toBe(`Bearer ${token}`);
  });
});
