import { type CallOptions, Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Config } from "../../src/config/types.js";
import { bearer } from "../support/bearer.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  appWithUpstream,
  expectRpcError,
  livePids,
  pidServer,
  spawnedPids,
  type TestApp,
  testConfig,
  type Upstream,
  useHarness,
} from "./harness.js";

const h = useHarness();

/** How a caller gives up: its deadline passes, or it aborts its own call. */
type GiveUp = "deadline" | "abort";

/**
 * Call options for a caller that gives up: with a `timeoutMs` deadline of
 * `deadlineMs`, or with a signal that `leave()` aborts.
 */
function caller(
  how: GiveUp,
  deadlineMs = 150,
): { options: CallOptions; leave(): void; code: Code } {
  if (how === "deadline") {
    return { options: { timeoutMs: deadlineMs }, leave: () => {}, code: Code.DeadlineExceeded };
  }
  const controller = new AbortController();
  return {
    options: { signal: controller.signal },
    leave: () => controller.abort(),
    code: Code.Canceled,
  };
}

/** A config whose only server is the pid-recording child, with a roomy credential check. */
async function childConfig(pidDir: string, startDelayMs?: number): Promise<Config> {
  const base = await testConfig({ mcpServers: { child: pidServer(pidDir, { startDelayMs }) } });
  return { ...base, credentialCheck: { ...base.credentialCheck, timeoutMs: 5_000 } };
}

/**
 * Checks that session `s1` does not exist once every Init of it has settled:
 * CloseSession waits for an Init under way, so `closed: false` means the
 * abandoned Init kept nothing (a session it had created would be closed now,
 * and answer `closed: true`).
 */
async function expectNoSession(setup: TestApp, token: string): Promise<void> {
  const { client, app } = setup;
  expect((await client.closeSession({ sessionId: "s1" }, bearer(token))).closed).toBe(false);
  expect(app.sessions.size).toBe(0);
  await expectRpcError(
    client.callTool({ sessionId: "s1", name: "ping" }, bearer(token)),
    Code.NotFound,
    "SESSION_NOT_FOUND",
  );
}

function init(setup: TestApp & { upstream: Upstream }, token: string, options?: CallOptions) {
  const request = { sessionId: "s1", apiUrl: setup.upstream.apiUrl, jwtToken: token };
  return setup.client.init(request, options);
}

describe("an Init whose every caller has gone", () => {
  it.each(["deadline", "abort"] as const)(
    "stops during a slow credential check (caller %s): no start, no session, no child",
    async (how) => {
      const pidDir = await h.tempDir();
      const setup = await appWithUpstream(h, await childConfig(pidDir));
      setup.upstream.onValidate = () => ({ status: 200, delayMs: 300 });
      const token = h.jwt();
      const gone = caller(how);
      const call = rpcFailure(init(setup, token, gone.options));
      await expect.poll(() => setup.upstream.validations().length).toBe(1);
      gone.leave();
      expect((await call).code).toBe(gone.code);

      await expectNoSession(setup, token);
      // The check was given up before it answered: nothing was started.
      expect(setup.starts.calls).toBe(0);
      expect(await spawnedPids(pidDir)).toBe(0);
      expect(setup.upstream.validations()).toHaveLength(1);
    },
  );

  it.each(["deadline", "abort"] as const)(
    "stops a slow-starting stdio server (caller %s) and ends its child",
    async (how) => {
      const pidDir = await h.tempDir();
      const setup = await appWithUpstream(h, await childConfig(pidDir, 3_000));
      const token = h.jwt();
      // The deadline passes after the child has started, long before it answers.
      const gone = caller(how, 1_000);
      const call = rpcFailure(init(setup, token, gone.options));
      // The child is running but has not answered the MCP handshake yet.
      await expect.poll(() => spawnedPids(pidDir), { timeout: 10_000 }).toBe(1);
      gone.leave();
      expect((await call).code).toBe(gone.code);

      // Kept alive, the child would be a session's server once its start completes.
      await expect.poll(() => livePids(pidDir), { timeout: 10_000 }).toEqual([]);
      await expectNoSession(setup, token);
      expect({ calls: setup.starts.calls, started: setup.starts.started }).toEqual({
        calls: 1,
        started: 0,
      });
      expect(await spawnedPids(pidDir)).toBe(1);
    },
  );

  it("goes on while another caller of the same Init still waits", async () => {
    const pidDir = await h.tempDir();
    const setup = await appWithUpstream(h, await childConfig(pidDir));
    setup.upstream.onValidate = () => ({ status: 200, delayMs: 300 });
    const token = h.jwt();
    const leaving = caller("abort");
    const left = rpcFailure(init(setup, token, leaving.options));
    const staying = init(setup, token);
    await expect.poll(() => setup.upstream.validations().length).toBe(1);
    leaving.leave();
    expect((await left).code).toBe(Code.Canceled);

    const res = await staying;
    expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });
    expect(setup.upstream.validations()).toHaveLength(1);
    expect({ calls: setup.starts.calls, started: setup.starts.started }).toEqual({
      calls: 1,
      started: 1,
    });
    expect(setup.app.sessions.size).toBe(1);
    expect(await livePids(pidDir)).toHaveLength(1);
    const pong = await setup.client.callTool({ sessionId: "s1", name: "ping" }, bearer(token));
    expect(pong.content[0]?.kind).toEqual({
      case: "text",
      value: expect.objectContaining({ text: "pong" }),
    });
  });
});

describe("a new Init with the same credentials as an abandoned one still winding down", () => {
  // The abandoned run needs ~2 s to close a server that did start; an Init
  // that never gave up must wait it out and start afresh, not inherit the
  // abort of the callers that left.
  it("is not answered with the abort of the callers that left", async () => {
    const [pidDir, lingerDir, readyDir] = await Promise.all([
      h.tempDir(),
      h.tempDir(),
      h.tempDir(),
    ]);
    const base = await testConfig({
      mcpServers: {
        slow: pidServer(pidDir, { startDelayMs: 3_000 }),
        // Started, so the abandoned Init must close it; it ends only on SIGTERM, 2 s later.
        lingering: pidServer(lingerDir, { lingerMs: 10_000, readyDir }),
      },
    });
    const setup = await appWithUpstream(h, base);
    const token = h.jwt();
    const leaving = caller("abort");
    const left = rpcFailure(init(setup, token, leaving.options));
    await expect.poll(() => spawnedPids(readyDir), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => spawnedPids(pidDir), { timeout: 10_000 }).toBe(1);
    leaving.leave();
    expect((await left).code).toBe(Code.Canceled);

    const res = await init(setup, token);
    expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });
    expect(setup.app.sessions.size).toBe(1);
  });
});

describe("CloseSession sent while an Init of the session is under way", () => {
  it("waits for the Init, then closes the session it created and ends its child", async () => {
    const pidDir = await h.tempDir();
    const setup = await appWithUpstream(h, await childConfig(pidDir));
    setup.upstream.onValidate = () => ({ status: 200, delayMs: 300 });
    const token = h.jwt();
    const initCall = init(setup, token);
    await expect.poll(() => setup.upstream.validations().length).toBe(1);
    expect(setup.starts.calls).toBe(0);

    const closed = await setup.client.closeSession({ sessionId: "s1" }, bearer(token));
    expect(closed.closed).toBe(true);
    const res = await initCall;
    expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });

    expect(setup.app.sessions.size).toBe(0);
    expect({ started: setup.starts.started, closed: setup.starts.closed }).toEqual({
      started: 1,
      closed: 1,
    });
    await expectRpcError(
      setup.client.callTool({ sessionId: "s1", name: "ping" }, bearer(token)),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
    expect(await spawnedPids(pidDir)).toBe(1);
    await expect.poll(() => livePids(pidDir), { timeout: 10_000 }).toEqual([]);
  });
});
