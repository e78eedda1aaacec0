import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { createEventLog, paths } from "../mcp/harness.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { appWithUpstream, expectRpcError, initSession, testConfig, useHarness } from "./harness.js";

const h = useHarness();

it("keeps limits.maxSessions when a lost session is re-Inited while a new session wants room", async () => {
  const events = createEventLog();
  const fixture = nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: events.path });
  const base = await testConfig({ mcpServers: { fx: fixture } });
  const config = { ...base, limits: { ...base.limits, maxSessions: 2 } };
  const { client, upstream, app } = await appWithUpstream(h, config);
  const tokenA = h.jwt();
  await initSession(client, upstream, "a", tokenA);
  await initSession(client, upstream, "b", h.jwt());
  await expectRpcError(
    client.callTool({ sessionId: "a", name: "crash" }, bearer(tokenA)),
    Code.Unavailable,
    "MCP_SERVER_EXITED",
  );
  upstream.onValidate = () => ({ status: 200, delayMs: 150 });
  const checksBefore = upstream.validations().length;
  const reinit = client.init({ sessionId: "a", apiUrl: upstream.apiUrl, jwtToken: h.jwt() });
  // A's re-Init is under way (its credential check has started): A must not be evicted.
  await expect.poll(() => upstream.validations().length).toBe(checksBefore + 1);
  await expectRpcError(
    client.init({ sessionId: "c", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
    Code.ResourceExhausted,
    "SESSION_LIMIT_REACHED",
  );
  expect((await reinit).reused).toBe(false);
  expect(app.sessions.size).toBe(2);
  events.remove();
});
