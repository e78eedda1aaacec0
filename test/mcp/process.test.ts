// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { McpServerConfig } from "../../src/config/types.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { processGone } from "../support/process-gone.js";
import { waitFor } from "../support/wait.js";
import { makeJwt, paths, type Service, useMcpHarness } from "./harness.js";

// What a child may inherit from the service besides its configured env.
const baseEnv = new Set(["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"]);
const secretName = "MCS_TEST_SECRET";

const { upstream, start } = useMcpHarness();
let token: string;

beforeEach(() => {
  token = makeJwt();
  process.env[secretName] = "service-only-value";
});

afterEach(() => {
  delete process.env[secretName];
});

function fixture(): McpServerConfig {
  return nodeServer(paths.stdioFixture, {
    FIXTURE_TOKEN: "${jwtToken}",
    FIXTURE_API_URL: "${apiUrl}",
    FIXTURE_SESSION: "${sessionId}",
    FIXTURE_MIXED: "Bearer ${jwtToken} for ${sessionId}",
    FIXTURE_PLAIN: "literal",
  });
}

interface Info {
  readonly pid: number;
  readonly envKeys: string[];
  readonly env: Record<string, string>;
}

async function info(service: Service, sessionId: string, jwt = token): Promise<Info> {
  const result = await service.client.callTool({ sessionId, name: "info" }, bearer(jwt));
  return result.structuredContent as unknown as Info;
}

describe("stdio child environment", () => {
  it("gets its templated variables and a minimal base, not the service's own environment", async () => {
    const service = await start({ fixture: fixture() });
    await service.client.init({ sessionId: "s-env", apiUrl: upstream.apiUrl, jwtToken: token });
    const { env, envKeys } = await info(service, "s-env");
    expect(env).toEqual({
      FIXTURE_TOKEN: token,
      FIXTURE_API_URL: upstream.apiUrl,
      FIXTURE_SESSION: "s-env",
      FIXTURE_MIXED: `Bearer ${token} for s-env`,
      FIXTURE_PLAIN: "literal",
    });
    expect(envKeys).not.toContain(secretName);
    expect(envKeys.filter((key) => !key.startsWith("FIXTURE_") && !baseEnv.has(key))).toEqual([]);
  });
});

describe("stdio child stderr", () => {
  it("goes to the log with server and session_id, with the token redacted", async () => {
    const service = await start({ fixture: fixture() });
    await service.client.init({ sessionId: "s-stderr", apiUrl: upstream.apiUrl, jwtToken: token });
    await service.client.callTool({ sessionId: "s-stderr", name: "stderr" }, bearer(token));
    const logs = service.logs;
    const entry = await waitFor(
      () => logs().find((e) => String(e.stderr ?? "").includes("stderr-probe")),
      "the child's stderr line in the log",
    );
    expect(entry).toMatchObject({
      server: "fixture",
      session_id: "s-stderr",
      stderr: "stderr-probe token=[REDACTED] done",
    });
    const signature = token.split(".")[2] ?? "";
    expect(signature.length).toBeGreaterThan(0);
    expect(service.logText()).not.toContain(token);
    expect(service.logText()).not.toContain(signature);
  });

  it("masks the values of the api_url's query too, whatever their shape", async () => {
    const service = await start({ fixture: fixture() });
    const queryValue = "q7Zp2Lx9Sd";
    const apiUrl = `${upstream.apiUrl}?key=${queryValue}`;
    await service.client.init({ sessionId: "s-query", apiUrl, jwtToken: token });
    // The server writes the value on its own, not as part of a URL the logger would recognise.
    await service.client.callTool(
      { sessionId: "s-query", name: "stderr", arguments: { prefix: `key=${queryValue} ` } },
      bearer(token),
    );
    const logs = service.logs;
    const entry = await waitFor(
      () =>
        logs().find((e) => e.session_id === "s-query" && String(e.stderr ?? "").includes("probe")),
      "the child's stderr line in the log",
    );
    expect(entry?.stderr).toBe("stderr-probe token=key=[REDACTED] [REDACTED] done");
    expect(service.logText()).not.toContain(queryValue);
  });

  it("masks a token whose header has a space after the brace, also when glued to other text", async () => {
    // `{ "alg"` encodes to `eyAi`, not the usual `eyJ`.
    const spaced = makeJwt("user-1", '{ "alg": "HS256", "typ": "JWT" }');
    expect(spaced.startsWith("eyAi")).toBe(true);
    const service = await start({ fixture: fixture() });
    const { client } = service;
    await client.init({ sessionId: "s-spaced", apiUrl: upstream.apiUrl, jwtToken: spaced });
    await client.callTool({ sessionId: "s-spaced", name: "stderr" }, bearer(spaced));
    // Glued to a word character, the token has no JWT shape of its own to match.
    await client.callTool(
      { sessionId: "s-spaced", name: "stderr", arguments: { prefix: "x" } },
      bearer(spaced),
    );
    const logs = service.logs;
    const lines = await waitFor(() => {
      const found = logs()
        .filter((e) => e.session_id === "s-spaced" && String(e.stderr ?? "").includes("probe"))
        .map((e) => e.stderr);
      return found.length === 2 && found;
    }, "both stderr lines in the log");
    expect(lines).toEqual([
      "stderr-probe token=[REDACTED] done",
      "stderr-probe token=x[REDACTED] done",
    ]);
    const signature = spaced.split(".")[2] ?? "";
    expect(signature.length).toBeGreaterThan(0);
    expect(service.logText()).not.toContain(spaced);
    expect(service.logText()).not.toContain(signature);
  });
});

describe("stdio child lifetime", () => {
  it("ends the child when the session is closed", async () => {
    const service = await start({ fixture: fixture() });
    await service.client.init({ sessionId: "s-close", apiUrl: upstream.apiUrl, jwtToken: token });
    const { pid } = await info(service, "s-close");
    expect(processGone(pid)).toBe(false);
    const { closed } = await service.client.closeSession({ sessionId: "s-close" }, bearer(token));
    expect(closed).toBe(true);
    await waitFor(() => processGone(pid), `child ${pid} to exit`, 3_000);
  });

  it("ends the previous child when Init brings new credentials for the session", async () => {
    const service = await start({ fixture: fixture() });
    await service.client.init({ sessionId: "s-swap", apiUrl: upstream.apiUrl, jwtToken: token });
    const before = await info(service, "s-swap");
    const next = makeJwt("next");
    const swapped = await service.client.init({
      sessionId: "s-swap",
      apiUrl: upstream.apiUrl,
      jwtToken: next,
    });
    expect(swapped.reused).toBe(false);
    const after = await info(service, "s-swap", next);
    expect(after.pid).not.toBe(before.pid);
    expect(after.env.FIXTURE_TOKEN).toBe(next);
    await waitFor(() => processGone(before.pid), `child ${before.pid} to exit`, 3_000);
  });

  it("ends every session's child on app.close()", async () => {
    const service = await start({ fixture: fixture() });
    const other = makeJwt("other");
    await service.client.init({ sessionId: "s-a", apiUrl: upstream.apiUrl, jwtToken: token });
    await service.client.init({ sessionId: "s-b", apiUrl: upstream.apiUrl, jwtToken: other });
    const pids = [(await info(service, "s-a")).pid, (await info(service, "s-b", other)).pid];
    expect(new Set(pids).size).toBe(2);
    expect(pids.some(processGone)).toBe(false);
    await service.app.close();
    for (const pid of pids) await waitFor(() => processGone(pid), `child ${pid} to exit`, 3_000);
  });
});
