import { describe, expect, it } from "vitest";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { makeJwt, paths, useMcpHarness } from "./harness.js";

const { upstream, events, start } = useMcpHarness();

describe("tools/list paging", () => {
  it("follows nextCursor over three pages and returns all 25 tools", async () => {
    const { client } = await start({
      paged: nodeServer(paths.pagedFixture, { FIXTURE_EVENTS: events.path }),
    });
    const token = makeJwt();
    await client.init({ sessionId: "s-paged", apiUrl: upstream.apiUrl, jwtToken: token });

    const { tools } = await client.listTools({ sessionId: "s-paged" }, bearer(token));
    const expected = Array.from({ length: 25 }, (_, i) => `tool-${String(i + 1).padStart(2, "0")}`);
    expect(tools.map((t) => t.name)).toEqual(expected);
    expect(tools.every((t) => t.server === "paged")).toBe(true);
    expect(events.read().map((e) => e.cursor)).toEqual([null, "10", "20"]);

    // A tool from the last page is callable by its listed name.
    const result = await client.callTool({ sessionId: "s-paged", name: "tool-25" }, bearer(token));
    expect(result.content[0]?.kind).toEqual({
      case: "text",
      value: expect.objectContaining({ text: "called tool-25" }),
    });
  });

  it("finds a tool on a later page when CallTool comes before any ListTools", async () => {
    const { client } = await start({
      paged: nodeServer(paths.pagedFixture, { FIXTURE_EVENTS: events.path }),
    });
    const token = makeJwt();
    await client.init({ sessionId: "s-paged", apiUrl: upstream.apiUrl, jwtToken: token });
    const result = await client.callTool({ sessionId: "s-paged", name: "tool-17" }, bearer(token));
    expect(result.isError).toBe(false);
    expect(result.content[0]?.kind.value).toMatchObject({ text: "called tool-17" });
  });
});
