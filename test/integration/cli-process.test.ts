import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  everythingServer as everything,
  repoPath,
  repoRoot,
  requireBuilt,
} from "../support/repo-paths.js";
import { waitFor } from "../support/wait.js";
import {
  connectOutcome,
  descendants,
  isAlive,
  makeJwt,
  type ProcessId,
  postJson,
  servicePath,
  startUpstream,
  type Upstream,
} from "./harness.js";

const cli = repoPath("dist/src/cli.js");

let upstream: Upstream;
let dir: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  requireBuilt(cli);
  upstream = await startUpstream();
  dir = mkdtempSync(join(tmpdir(), "mcs-cli-"));
});

afterEach(() => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, config: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A spawned CLI whose stdout JSON log lines are collected. */
interface CliProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line whose `msg` is `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    // Empty values count as unset: the config file alone decides.
    env: {
      ...process.env,
      MCP_CLIENT_SERVER_HOST: "",
      MCP_CLIENT_SERVER_PORT: "",
      MCP_CLIENT_SERVER_LOG_LEVEL: "",
    },
  });
  running.push(child);
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let buffered = "";
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      logs.push(JSON.parse(line) as Record<string, unknown>);
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(msg, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find((entry) => entry.msg === msg);
          if (!found) return false;
          cleanup();
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no "${msg}" log line; stderr: ${stderr}`));
        }, timeoutMs);
        const onExit = () => {
          if (check()) return;
          cleanup();
          reject(new Error(`exited before "${msg}"; stderr: ${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off("exit", onExit);
        };
        if (check()) return;
        listeners.add(check);
        child.once("exit", onExit);
      });
    },
  };
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

describe("the CLI binary", () => {
  it("prints usage for --help and exits 0", () => {
    const result = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: mcp-client-server \[--config FILE\]/);
    expect(result.stdout).toContain("--port N");
  });

  it("exits 2 for a bad config file and names each key path on stderr", () => {
    const file = writeConfig("bad.json", {
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
    const config = writeConfig("good.json", {
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
    const pid = proc.child.pid ?? 0;
    const listening = await proc.waitForLog("listening");
    const url = String(listening.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(url).port);
    expect(port).toBeGreaterThan(0);

    // Every process the service ever had below it, sampled until it exits.
    const seen = new Map<string, ProcessId>();
    const sample = () => {
      for (const p of descendants(pid)) seen.set(`${p.pid}/${p.startTime}`, p);
    };
    const sampler = setInterval(sample, 20);
    try {
      const jwtToken = makeJwt();
      const sessionId = "cli-session";
      const init = await postJson(`${url}${servicePath}/Init`, {
        sessionId,
        apiUrl: upstream.apiUrl("ok", "cli"),
        jwtToken,
      });
      expect(init.status).toBe(200);
      sample();
      const children = descendants(pid);
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

      expect(await proc.exited).toEqual({ code: 0, signal: null });
    } finally {
      clearInterval(sampler);
    }
    expect(seen.size).toBeGreaterThan(0);
    const survivors = () => [...seen.values()].filter(isAlive);
    expect(await waitFor(() => survivors().length === 0, "every descendant to exit", 5_000)).toBe(
      true,
    );
    expect(proc.logs.some((entry) => entry.msg === "shutdown complete")).toBe(true);
  });
});
