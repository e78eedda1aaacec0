import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  type JsonResponse,
  makeJwt,
  postJson,
  servicePath,
  startUpstream,
  type Upstream,
} from "../integration/harness.js";
import {
  cmdline,
  descendants,
  type ProcStat,
  processesWithEnv,
  readStat,
  waitUntilGone,
  zombies,
} from "../support/proc-tree.js";
import { repoPath, repoRoot, requireBuilt } from "../support/repo-paths.js";

const cli = repoPath("dist/src/cli.js");
const chaosServer = fileURLToPath(new URL("./fixtures/chaos-server.mjs", import.meta.url));

let upstream: Upstream;
let dir: string;
/**
 * In the environment of every chaos server and, inherited, of its
 * grandchildren: afterEach finds them by it even after a crashed service
 * orphaned them before the test learnt their pids.
 */
let eventsEntry: string;
/** Every process a test started or saw below the service, by `pid/startTime`. */
const tracked = new Map<string, ProcStat>();
const samplers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  requireBuilt(cli);
  upstream = await startUpstream();
  dir = mkdtempSync(join(tmpdir(), "mcs-chaos-"));
  eventsEntry = `CHAOS_EVENTS=${join(dir, "events.jsonl")}`;
});

// SIGKILL, because the chaos servers and their grandchildren ignore SIGTERM.
afterEach(() => {
  for (const sampler of samplers.splice(0)) clearInterval(sampler);
  if (eventsEntry) processesWithEnv(eventsEntry).forEach(track);
  for (const proc of tracked.values()) {
    // The start time guards against killing an unrelated process that reused the pid.
    if (readStat(proc.pid)?.startTime !== proc.startTime) continue;
    try {
      process.kill(proc.pid, "SIGKILL");
    } catch {
      // Gone between the check and the kill.
    }
  }
  tracked.clear();
});

afterAll(async () => {
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function track(stat: ProcStat): void {
  tracked.set(`${stat.pid}/${stat.startTime}`, stat);
}

/** The service CLI as a child process, reached over Connect JSON. */
interface ChaosService {
  readonly pid: number;
  readonly url: string;
  readonly exited: Promise<void>;
  /** Inits `sessionId` with a fresh JWT against the upstream and returns that JWT. */
  init(sessionId: string): Promise<string>;
  /** Calls tool `name` without arguments and returns its structured content. */
  callTool(sessionId: string, jwtToken: string, name: string): Promise<Record<string, unknown>>;
}

/**
 * Starts the service CLI with one stdio chaos server per session that
 * ignores SIGTERM and the end of its stdin. Every process that ever runs
 * below the service is tracked, so that afterEach kills it even when the
 * service dies before a test learns its pid.
 */
async function startChaosService(): Promise<ChaosService> {
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    stringify({
      server: { host: "127.0.0.1", port: 0, shutdownGraceMs: 1_000 },
      credentialCheck: { timeoutMs: 2_000 },
      // The upstream listens on loopback, which only the development profile reaches.
      outbound: { profile: "development" },
      tools: { startTimeoutMs: 15_000 },
      log: { level: "info" },
      mcpServers: {
        chaos: {
          type: "stdio",
          command: process.execPath,
          args: [chaosServer],
          env: {
            CHAOS_IGNORE_STDIN_END: "1",
            CHAOS_IGNORE_SIGTERM: "1",
            CHAOS_EVENTS: eventsEntry.slice("CHAOS_EVENTS=".length),
          },
        },
      },
    }),
  );
  const child = spawn(process.execPath, [cli, "--config", config], {
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
  const pid = child.pid ?? 0;
  const self = readStat(pid);
  if (self) track(self);
  const sampler = setInterval(() => descendants(pid).forEach(track), 20);
  samplers.push(sampler);

  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let status = "running";
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      status = `exited with ${code ?? signal}`;
      clearInterval(sampler);
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`no "listening" log line: ${stderr}`)), 10_000);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the service ${status} before listening: ${stderr}`));
    });
    child.stdout?.setEncoding("utf8");
    // Read stdout to the end, so that a full pipe never blocks the service's logging.
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const entry = parseLogLine(line);
        if (entry?.msg === "listening" && typeof entry.url === "string") {
          clearTimeout(timer);
          resolve(entry.url);
        }
      }
    });
  });

  // A failed request names the service's state and stderr: a crash shows up as "socket hang up".
  const post = async (rpc: string, body: unknown, jwtToken?: string): Promise<JsonResponse> => {
    try {
      return await postJson(
        `${url}${servicePath}/${rpc}`,
        body,
        jwtToken === undefined ? {} : { headers: { authorization: `Bearer ${jwtToken}` } },
      );
    } catch (error) {
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 200))]);
      throw new Error(`${rpc} failed; the service is ${status}; stderr:\n${stderr}`, {
        cause: error,
      });
    }
  };
  return {
    pid,
    url,
    exited,
    async init(sessionId) {
      const jwtToken = makeJwt({ sub: sessionId });
      const apiUrl = upstream.apiUrl("ok", sessionId);
      const response = await post("Init", { sessionId, apiUrl, jwtToken });
      expect(response.status, response.text).toBe(200);
      return jwtToken;
    },
    async callTool(sessionId, jwtToken, name) {
      const response = await post("CallTool", { sessionId, name, arguments: {} }, jwtToken);
      expect(response.status, response.text).toBe(200);
      expect(response.json?.isError, response.text).toBeUndefined();
      return (response.json?.structuredContent ?? {}) as Record<string, unknown>;
    },
  };
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

describe("a SIGKILLed service", () => {
  it("children of a SIGKILLed service die within 5 s", async () => {
    const service = await startChaosService();

    const servers: number[] = [];
    const grandchildren: number[] = [];
    for (const sessionId of ["chaos-a", "chaos-b"]) {
      const jwtToken = await service.init(sessionId);
      const pids = await service.callTool(sessionId, jwtToken, "pids");
      const spawned = await service.callTool(sessionId, jwtToken, "spawn_grandchild");
      expect(pids.pid).toEqual(expect.any(Number));
      expect(spawned.pid).toEqual(expect.any(Number));
      servers.push(pids.pid as number);
      grandchildren.push(spawned.pid as number);
    }
    expect(new Set(servers).size).toBe(2);

    const below = descendants(service.pid);
    below.forEach(track);
    const belowPids = below.map((p) => p.pid);
    for (const pid of [...servers, ...grandchildren]) {
      expect(belowPids, `${pid} runs below the service`).toContain(pid);
    }
    for (const pid of servers) expect(cmdline(pid)).toContain(chaosServer);
    for (const [i, pid] of servers.entries()) {
      // Soft: a wrong group must not hide whether the children outlive the service.
      expect.soft(readStat(pid)?.pgid, `server ${pid} leads its own process group`).toBe(pid);
      expect
        .soft(readStat(grandchildren[i] ?? 0)?.pgid, "a grandchild stays in its server's group")
        .toBe(pid);
    }

    process.kill(service.pid, "SIGKILL");
    await service.exited;

    const survivors = await waitUntilGone([...servers, ...grandchildren], 5_000);
    const described = survivors.map((pid) => `${pid} ${cmdline(pid)}`);
    expect(described, "servers and grandchildren still running 5 s after the kill").toEqual([]);
    // Whatever else ran below the service (a watchdog, say) goes with it too.
    const stragglers = await waitUntilGone(belowPids, 1_000);
    expect(stragglers.map((pid) => `${pid} ${cmdline(pid)}`)).toEqual([]);
    expect(zombies(process.pid), "unreaped children of the test process").toEqual([]);
  });
});
