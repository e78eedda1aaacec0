import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { bearer } from "../support/bearer.js";
import { segment } from "../support/jwt.js";
import { closedPort } from "../support/loopback-port.js";
import { toRpcFailure } from "../support/rpc-failure.js";
import { createHarness, type SessionClient, testConfig, useHarness } from "./harness.js";

const h = useHarness();

/** Runs `call` and returns the reason it failed with, or "ok". */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (e) {
    const failure = toRpcFailure(e);
    return `${Code[failure.code]}:${failure.reason ?? "?"}`;
  }
}

describe("canary token", () => {
  it("never appears in a log line, an error or a response, whatever the scenario", async () => {
    const upstream = await h.upstream();
    const { client, app, logs } = await h.app();
    const canary = h.jwt({ payload: { name: "CANARY" } });
    const [head, payload, signature] = canary.split(".") as [string, string, string];
    const apiUrl = upstream.apiUrl;
    const init = (c: SessionClient, sessionId: string, jwtToken = canary, url = apiUrl) =>
      outcome(c.init({ sessionId, apiUrl: url, jwtToken }));
    const results: Record<string, string> = {};

    // Missing parameters and a bad session_id, with the canary in the other fields.
    results.missing = await init(client, "", canary);
    results.badId = await init(client, "a/b", canary);
    results.longId = await init(client, "x".repeat(10_000), canary);
    // Invalid URLs that carry the token themselves.
    results.urlFragment = await init(client, "u1", canary, `${apiUrl}#${canary}`);
    results.urlUserinfo = await init(client, "u1", canary, `http://u:${signature}@127.0.0.1/`);
    results.urlScheme = await init(client, "u1", canary, `ftp://127.0.0.1/?t=${canary}`);
    // Malformed shapes made of the canary's own segments.
    const none = h.secret(`${segment({ alg: "none" })}.${payload}.${signature}`);
    results.algNone = await init(client, "u1", none);
    results.twoSegments = await init(client, "u1", h.secret(`${head}.${payload}`));
    results.fourSegments = await init(client, "u1", h.secret(`${canary}.${signature}`));
    results.padded = await init(client, "u1", h.secret(`${canary}=`));
    results.expired = await init(client, "u1", h.jwt({ exp: 1_000_000 }));
    // Every upstream outcome.
    for (const status of [401, 403, 500, 302]) {
      upstream.onValidate = () => status;
      results[`upstream${status}`] = await init(client, "u1");
    }
    upstream.onValidate = () => "hang";
    results.timeout = await init(client, "u1");
    const closed = `http://127.0.0.1:${await closedPort()}/api/v1?token=${canary}`;
    results.unreachable = await init(client, "u1", canary, closed);
    upstream.onValidate = () => 200;

    // A session, reused, and five coalesced Inits of another.
    results.created = await init(client, "canary-a");
    results.reused = await init(client, "canary-a");
    const coalesced = await Promise.all(Array.from({ length: 5 }, () => init(client, "canary-c")));
    results.coalesced = [...new Set(coalesced)].join();

    // Session methods with missing, wrong and right bearers.
    const other = h.jwt();
    const wrong = { headers: { authorization: `Bearer ${canary}x` } };
    results.noBearer = await outcome(client.listTools({ sessionId: "canary-a" }));
    results.wrongBearer = await outcome(client.listTools({ sessionId: "canary-a" }, wrong));
    results.hijackCall = await outcome(
      client.callTool({ sessionId: "canary-a", name: "validate_settings" }, bearer(other)),
    );
    results.hijackClose = await outcome(client.closeSession({ sessionId: "canary-a" }, wrong));
    results.unknownSession = await outcome(
      client.listTools({ sessionId: "nobody" }, bearer(canary)),
    );
    results.unknownTool = await outcome(
      client.callTool({ sessionId: "canary-a", name: "no_such_tool" }, bearer(canary)),
    );
    const zero = create(DurationSchema, { seconds: 0n });
    results.badTimeout = await outcome(
      client.callTool(
        { sessionId: "canary-a", name: "validate_settings", timeout: zero },
        bearer(canary),
      ),
    );
    results.listTools = await outcome(client.listTools({ sessionId: "canary-a" }, bearer(canary)));
    results.validate = await outcome(
      client.callTool({ sessionId: "canary-a", name: "validate_settings" }, bearer(canary)),
    );
    // An API that echoes the token back, in its body and in the path.
    const echo = await client.callTool(
      { sessionId: "canary-a", name: "api_request", arguments: { path: "echo-auth" } },
      bearer(canary),
    );
    expect(echo.structuredContent).toMatchObject({ status: 200 });
    expect(JSON.stringify(echo.structuredContent)).toContain("Bearer");
    results.echoPath = await outcome(
      client.callTool(
        {
          sessionId: "canary-a",
          name: "api_request",
          arguments: { path: `items/${canary}`, query: { t: canary } },
        },
        bearer(canary),
      ),
    );
    results.mcpTimeout = await outcome(
      client.callTool(
        {
          sessionId: "canary-a",
          name: "api_request",
          arguments: { path: "hang" },
          timeout: create(DurationSchema, { nanos: 100_000_000 }),
        },
        bearer(canary),
      ),
    );

    // New credentials for the session: refused, then accepted.
    const next = h.jwt();
    upstream.onValidate = (r) => (r.authorization === `Bearer ${next}` ? 401 : 200);
    results.newRefused = await init(client, "canary-a", next);
    upstream.onValidate = () => 200;
    results.newAccepted = await init(client, "canary-a", next);
    results.oldAfterReplace = await outcome(
      client.listTools({ sessionId: "canary-a" }, bearer(canary)),
    );

    // A failed start, with the token templated into the failing server's env.
    const broken = await h.app(
      await testConfig({
        mcpServers: {
          broken: {
            type: "stdio",
            command: "/nonexistent/cmd",
            args: [],
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the service's env template syntax.
            env: { TOKEN: "${jwtToken}" },
          },
          builtin: { type: "builtin" },
        },
      }),
    );
    results.startFailed = await init(broken.client, "canary-b");

    // Close, close again, and shut down.
    results.close = await outcome(client.closeSession({ sessionId: "canary-a" }, bearer(next)));
    results.closeAgain = await outcome(client.closeSession({ sessionId: "canary-a" }));
    await app.close();
    results.afterShutdown = await init(client, "canary-d");

    // Every scenario ran and ended as the contract says.
    expect(results).toEqual({
      missing: "InvalidArgument:MISSING_PARAMETERS",
      badId: "InvalidArgument:INVALID_SESSION_ID",
      longId: "InvalidArgument:INVALID_SESSION_ID",
      urlFragment: "Unauthenticated:INVALID_API_URL",
      urlUserinfo: "Unauthenticated:INVALID_API_URL",
      urlScheme: "Unauthenticated:INVALID_API_URL",
      algNone: "Unauthenticated:INVALID_JWT_FORMAT",
      twoSegments: "Unauthenticated:INVALID_JWT_FORMAT",
      fourSegments: "Unauthenticated:INVALID_JWT_FORMAT",
      padded: "Unauthenticated:INVALID_JWT_FORMAT",
      expired: "Unauthenticated:TOKEN_EXPIRED",
      upstream401: "Unauthenticated:CREDENTIALS_REJECTED",
      upstream403: "Unauthenticated:CREDENTIALS_REJECTED",
      upstream500: "Internal:UPSTREAM_ERROR",
      upstream302: "Internal:UPSTREAM_ERROR",
      timeout: "Internal:UPSTREAM_TIMEOUT",
      unreachable: "Internal:UPSTREAM_UNREACHABLE",
      created: "ok",
      reused: "ok",
      coalesced: "ok",
      noBearer: "Unauthenticated:SESSION_CREDENTIALS_MISMATCH",
      wrongBearer: "Unauthenticated:SESSION_CREDENTIALS_MISMATCH",
      hijackCall: "Unauthenticated:SESSION_CREDENTIALS_MISMATCH",
      hijackClose: "Unauthenticated:SESSION_CREDENTIALS_MISMATCH",
      unknownSession: "NotFound:SESSION_NOT_FOUND",
      unknownTool: "NotFound:TOOL_NOT_FOUND",
      badTimeout: "InvalidArgument:INVALID_TIMEOUT",
      listTools: "ok",
      validate: "ok",
      echoPath: "ok",
      mcpTimeout: "DeadlineExceeded:MCP_TIMEOUT",
      newRefused: "Unauthenticated:CREDENTIALS_REJECTED",
      newAccepted: "ok",
      oldAfterReplace: "Unauthenticated:SESSION_CREDENTIALS_MISMATCH",
      startFailed: "Internal:MCP_SERVER_START_FAILED",
      close: "ok",
      closeAgain: "ok",
      afterShutdown: "Unavailable:SERVER_SHUTTING_DOWN",
    });

    // The collection is real: log lines of both apps and every RPC's outcome.
    expect(logs.some((line) => line.includes('"session_id":"canary-a"'))).toBe(true);
    expect(broken.logs.some((line) => line.includes('"session_id":"canary-b"'))).toBe(true);
    expect(h.observed().length).toBeGreaterThan(logs.length + Object.keys(results).length);
    expect(h.leaks()).toEqual([]);
  });

  it("is found by the leak check wherever it shows up", async () => {
    const upstream = await h.upstream();
    // Strings known to be in a log line, an ErrorInfo and a response stand in for a token.
    const probe = createHarness();
    const { client: probed } = await probe.app();
    await probed.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() });
    await outcome(probed.init({ sessionId: "s1", apiUrl: "ftp://x", jwtToken: h.jwt() }));
    probe.secret("validating credentials");
    probe.secret("mcp-client-server");
    probe.secret('{"status":"ok"}');
    const leaks = probe.leaks();
    expect(leaks.some((l) => l.startsWith("validating credentials in {"))).toBe(true);
    expect(leaks).toContain("mcp-client-server in mcp-client-server");
    expect(leaks).toContain('{"status":"ok"} in {"status":"ok"}');
    // A secret's payload and signature segments count on their own.
    probe.secret("eyJhbGciOiJIUzI1NiJ9.validating credentials.mcp-client-server-xyz");
    expect(probe.leaks().length).toBeGreaterThan(leaks.length);
    await expect(probe.cleanup()).rejects.toThrow();
  });
});
