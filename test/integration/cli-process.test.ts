import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cliPath as cli, killStartedClis, startCli, writeConfig } from "../support/cli-process.js";
import { cmdline, descendants, stillRunning } from "../support/proc-tree.js";
import { createProcessTracker } from "../support/process-tracker.js";
import { everythingServer as everything, requireBuilt } from "../support/repo-paths.js";
import { waitFor } from "../support/wait.js";
import { connectOutcome, makeJwt, postJson, servicePath, useUpstream } from "./harness.js";

const upstream = useUpstream();
let dir: string;

beforeAll(async () => {
  requireBuilt(cli);
  dir = mkdtempSync(join(tmpdir(), "mcs-cli-"));
});

afterEach(killStartedClis);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the CLI binary", () => {
  it("prints usage for --help and exits 0", () => {
    const result = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: mcp-client-server \[--config FILE\]/);
    expect(result.stdout).toContain("--port N");
  });

  it("exits 2 for a bad config file and names each key path on stderr", () => {
    const file = writeConfig(dir, "bad.json", {
      server: { maxMessageBytes: -5 },
      mcpServers: { broken: { type: "stdio" } },
    });
    const result = spawnSync(process.execPath, [cli, "--config", file], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("server.maxMessageBytes:");
    expect(result.stderr).toContain("mcpServers.broken.command:");
    expect(result.stdout).toBe("");
  });

  it("exits 2 for an unknown option", () => {
    const result = spawnSync(process.execPath, [cli, "--bogus"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--bogus");
  });

  it("serves on port 0, ends its MCP children on SIGTERM and lets in-flight work finish", async () => {
    const config = writeConfig(dir, "good.json", {
      server: { host: "127.0.0.1", shutdownGraceMs: 5_000 },
      credentialCheck: { timeoutMs: 2_000 },
      outbound: { profile: "development" },
      log: { level: "info" },
      mcpServers: {
        everything: { type: "stdio", command: process.execPath, args: [everything, "stdio"] },
        builtin: { type: "builtin" },
      },
    });
    const proc = startCli(["--config", config, "--port", "0"]);
    const pid = proc.pid;
    // Every process the service ever had below it, sampled until it exits.
    const seen = createProcessTracker();
    seen.follow(pid, proc.exited);
    const { url, port } = await proc.listening();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(port).toBeGreaterThan(0);

    const jwtToken = makeJwt();
    const sessionId = "cli-session";
    const init = await postJson(`${url}${servicePath}/Init`, {
      sessionId,
      apiUrl: upstream.apiUrl("ok", "cli"),
      jwtToken,
    });
    expect(init.status).toBe(200);
    const children = descendants(pid);
    children.forEach(seen.track);
    expect(children.some((p) => cmdline(p.pid).includes("server-everything"))).toBe(true);

    const list = await postJson(
      `${url}${servicePath}/ListTools`,
      { sessionId },
      { headers: { authorization: `Bearer ${jwtToken}` } },
    );
    expect(list.status).toBe(200);
    const names = ((list.json?.tools ?? []) as { name: string }[]).map((t) => t.name);
    expect(names).toContain("everything__echo");
    expect(names).toContain("builtin__validate_settings");

    // A slow Init (the API answers after 500 ms) is in flight when SIGTERM arrives.
    const slow = postJson(`${url}${servicePath}/Init`, {
      sessionId: "cli-slow",
      apiUrl: upstream.apiUrl("delay", "cli"),
      jwtToken: makeJwt(),
    });
    await upstream.arrived("delay", "cli");
    proc.child.kill("SIGTERM");
    await proc.waitForLog("shutting down: no new connections");
    expect(await connectOutcome(port)).toBe("ECONNREFUSED");

    const slowResult = await slow;
    expect(slowResult.status).toBe(200);
    expect(slowResult.json).toEqual({ status: "ok" });

    expect(await proc.exited).toMatchObject({ code: 0, signal: null });
    expect(seen.tracked().length).toBeGreaterThan(0);
    const survivors = () => seen.tracked().filter(stillRunning);
    expect(await waitFor(() => survivors().length === 0, "every descendant to exit", 5_000)).toBe(
      true,
    );
    expect(proc.logs.some((entry) => entry.msg === "shutdown complete")).toBe(true);
    expect(proc.strayLines, "stdout lines that are not JSON").toEqual([]);
  });
});
