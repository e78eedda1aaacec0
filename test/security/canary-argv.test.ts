// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold the service's ${name} templates.
import { beforeAll, describe, expect, it } from "vitest";
import { paths } from "../mcp/harness.js";
import { initSession, testConfig, useHarness } from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { descendants } from "../support/proc-tree.js";
import { processGone } from "../support/process-gone.js";
import { requireBuilt } from "../support/repo-paths.js";
import { waitFor } from "../support/wait.js";
import { holding, readArgv, readEnviron } from "./proc.js";

// A distinctive canary token goes to two real stdio children through env
// templating: the recording fixture (as MCP_TOKEN) and the compiled built-in
// server (as API_TOKEN, which it uses against the API). The kernel's copy of
// each child's argv and initial environment must hold the token exactly
// once, under the templated name, and nowhere else. (The service's own argv
// never sees a token: tokens arrive in RPCs, long after it started.)

const h = useHarness();
beforeAll(() => requireBuilt(paths.builtinBin));

/** The compiled built-in server as a stdio child, allowed to reach the loopback API. */
function builtinChild() {
  return nodeServer(paths.builtinBin, {
    API_BASE_URL: "${apiUrl}",
    API_TOKEN: "${jwtToken}",
    API_OUTBOUND_PROFILE: "development",
  });
}

/** The children of this process whose argv runs `script`. */
function childrenRunning(script: string): number[] {
  return descendants(process.pid)
    .map((p) => p.pid)
    .filter((pid) => !processGone(pid) && readArgv(pid).includes(script));
}

describe("a templated token in a stdio child", () => {
  it("is in the child's environment once, under the templated name, and never in its argv", async () => {
    const upstream = await h.upstream();
    const config = await testConfig({
      mcpServers: {
        fixture: nodeServer(paths.stdioFixture, {
          MCP_TOKEN: "${jwtToken}",
          FIXTURE_SESSION: "${sessionId}",
        }),
        api: builtinChild(),
      },
    });
    const { client } = await h.app(config);
    const canary = h.jwt({ payload: { name: "CANARY-ARGV" } });
    const other = h.jwt();
    await initSession(client, upstream, "canary-argv", canary);
    await initSession(client, upstream, "other-user", other);

    const info = await client.callTool(
      { sessionId: "canary-argv", name: "fixture__info" },
      bearer(canary),
    );
    const fixturePid = (info.structuredContent as { pid: number }).pid;
    // The built-in child really works with the token it got (the API sees it).
    const before = upstream.requests.length;
    const res = await client.callTool(
      { sessionId: "canary-argv", name: "api__api_request", arguments: { path: "items/7" } },
      bearer(canary),
    );
    expect(res.isError).toBe(false);
    expect(upstream.requests.slice(before).map((r) => r.authorization)).toEqual([
      `Bearer ${canary}`,
    ]);

    const fixtures = childrenRunning(paths.stdioFixture);
    const apis = childrenRunning(paths.builtinBin);
    expect(fixtures).toContain(fixturePid);
    expect([fixtures.length, apis.length]).toEqual([2, 2]);
    // Tell the two sessions' children apart by the token each holds.
    const [apiPid] = apis.filter((pid) => holding(readEnviron(pid), canary).length > 0);
    if (apiPid === undefined) throw new Error("no built-in child holds the canary");

    for (const [pid, script, name] of [
      [fixturePid, paths.stdioFixture, "MCP_TOKEN"],
      [apiPid, paths.builtinBin, "API_TOKEN"],
    ] as const) {
      // argv is exactly the configured command, which the config cannot template.
      const argv = readArgv(pid);
      expect(argv).toEqual([process.execPath, script]);
      expect(holding(argv, canary)).toEqual([]);
      const environ = readEnviron(pid);
      expect(holding(environ, canary)).toEqual([`${name}=${canary}`]);
      expect(holding(environ, other)).toEqual([]);
      expect(environ.filter((entry) => entry.startsWith(`${name}=`))).toHaveLength(1);
    }
    // The fixture's other templated variable holds what it should, not the token.
    expect(readEnviron(fixturePid)).toContain("FIXTURE_SESSION=canary-argv");
    // The service did not route the token through its own environment either.
    expect(
      holding(
        Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
        canary,
      ),
    ).toEqual([]);
  });

  it("leaves with the session: closing it ends both children", async () => {
    const upstream = await h.upstream();
    const config = await testConfig({
      mcpServers: {
        fixture: nodeServer(paths.stdioFixture, { MCP_TOKEN: "${jwtToken}" }),
        api: builtinChild(),
      },
    });
    const { client } = await h.app(config);
    const canary = h.jwt({ payload: { name: "CANARY-EXIT" } });
    await initSession(client, upstream, "canary-exit", canary);
    const holders = [
      ...childrenRunning(paths.stdioFixture),
      ...childrenRunning(paths.builtinBin),
    ].filter((pid) => holding(readEnviron(pid), canary).length > 0);
    expect(holders).toHaveLength(2);
    await client.closeSession({ sessionId: "canary-exit" }, bearer(canary));
    await waitFor(() => holders.every(processGone), "the token's children to exit");
  });
});
