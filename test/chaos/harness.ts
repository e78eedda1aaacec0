import { fileURLToPath } from "node:url";
import type { JsonObject } from "@bufbuild/protobuf";
import { expect } from "vitest";
import type { Config, McpServerConfig } from "../../src/config/types.js";
import { guardianMarker } from "../../src/process/guardian.js";
import { createEventLog, type EventLog } from "../mcp/harness.js";
import {
  appWithUpstream,
  type Harness,
  initSession,
  type SessionClient,
  testConfig,
} from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { cmdline, descendants, waitUntilGone, zombies } from "../support/proc-tree.js";

/** The chaos fixture: a real stdio MCP server that crashes, hangs, forks and floods on request. */
export const chaosServerPath = fileURLToPath(
  new URL("./fixtures/chaos-server.mjs", import.meta.url),
);

/** The env switches of the chaos fixture (see its header). */
export interface ChaosSwitches {
  readonly exitAtStart?: number;
  readonly ignoreStdinEnd?: boolean;
  readonly ignoreSigterm?: boolean;
}

/** A stdio server config running the chaos fixture, recording into `events`. */
export function chaosServer(events: EventLog, switches: ChaosSwitches = {}): McpServerConfig {
  return nodeServer(chaosServerPath, {
    CHAOS_EVENTS: events.path,
    ...(switches.exitAtStart === undefined
      ? {}
      : { CHAOS_EXIT_AT_START: String(switches.exitAtStart) }),
    ...(switches.ignoreStdinEnd ? { CHAOS_IGNORE_STDIN_END: "1" } : {}),
    ...(switches.ignoreSigterm ? { CHAOS_IGNORE_SIGTERM: "1" } : {}),
  });
}

/** Config overrides by section, merged over testConfig()'s. */
export interface ChaosOverrides {
  readonly mcpServers: Record<string, McpServerConfig>;
  readonly limits?: Partial<Config["limits"]>;
  readonly sessions?: Partial<Omit<Config["sessions"], "restart">> & {
    readonly restart?: Partial<Config["sessions"]["restart"]>;
  };
  readonly stdio?: Partial<Config["stdio"]>;
  readonly tools?: Partial<Config["tools"]>;
}

/**
 * testConfig() with the given sections merged in; stdio servers get a short
 * stop grace (200 ms) unless the test sets one, so kill escalation is quick.
 */
export async function chaosConfig(overrides: ChaosOverrides): Promise<Config> {
  const base = await testConfig({ mcpServers: overrides.mcpServers });
  return {
    ...base,
    limits: { ...base.limits, ...overrides.limits },
    sessions: {
      ...base.sessions,
      ...overrides.sessions,
      restart: { ...base.sessions.restart, ...overrides.sessions?.restart },
    },
    stdio: { ...base.stdio, stopGraceMs: 200, ...overrides.stdio },
    tools: { ...base.tools, ...overrides.tools },
  };
}

/** A fresh event log, removed when the harness cleans up. */
export function chaosEvents(h: Harness): EventLog {
  const events = createEventLog();
  const cleanup = h.cleanup;
  h.cleanup = async () => {
    try {
      await cleanup();
    } finally {
      events.remove();
    }
  };
  return events;
}

/** A chaos app's config sections and servers. */
export interface ChaosAppOptions extends Omit<ChaosOverrides, "mcpServers"> {
  /**
   * The names of its chaos servers (default one, "chaos"): one server's
   * tools are bare (`pids`), several servers' are `<name>__pids`.
   */
  readonly servers?: readonly string[];
  /** The env switches every server gets. */
  readonly switches?: ChaosSwitches;
  /** Where the servers record; by default a fresh log, removed at cleanup. */
  readonly events?: EventLog;
}

/** An app and upstream whose MCP servers are chaos fixtures, with their event log. */
export async function chaosApp(h: Harness, options: ChaosAppOptions = {}) {
  const { servers = ["chaos"], switches, events = chaosEvents(h), ...overrides } = options;
  const mcpServers = Object.fromEntries(
    servers.map((name) => [name, chaosServer(events, switches)]),
  );
  const app = await appWithUpstream(h, await chaosConfig({ mcpServers, ...overrides }));
  return { ...app, events };
}

/** What chaosApp resolves with. */
export type ChaosApp = Awaited<ReturnType<typeof chaosApp>>;

/** Inits `sessionId` on `app` with a fresh token and returns the token. */
export async function openSession(h: Harness, app: ChaosApp, sessionId: string): Promise<string> {
  const token = h.jwt();
  await initSession(app.client, app.upstream, sessionId, token);
  return token;
}

/** What the fixture's `pids` tool reports. */
export interface ChaosPids {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid?: number;
}

/** Calls a `<server>__<tool>` (or bare, with one server) tool and returns its structured content. */
export async function callStructured<T>(
  client: SessionClient,
  sessionId: string,
  token: string,
  name: string,
  args: JsonObject = {},
): Promise<T> {
  const result = await client.callTool({ sessionId, name, arguments: args }, bearer(token));
  return result.structuredContent as unknown as T;
}

/** The pid of the chaos server behind `tool` (`pids`, or `<server>__pids`); fails unless there is one. */
export async function chaosServerPid(
  client: SessionClient,
  sessionId: string,
  token: string,
  tool = "pids",
): Promise<number> {
  const { pid } = await callStructured<ChaosPids>(client, sessionId, token, tool);
  expect(pid).toEqual(expect.any(Number));
  return pid;
}

/**
 * Waits up to `timeoutMs` for every one of `pids` to end (or turn zombie),
 * then fails naming each still running by pid and argv.
 */
export async function expectGone(
  pids: readonly number[],
  timeoutMs: number,
  message?: string,
): Promise<void> {
  const survivors = await waitUntilGone(pids, timeoutMs);
  expect(
    survivors.map((pid) => `${pid} ${cmdline(pid)}`),
    message,
  ).toEqual([]);
}

/** Fails when this test process has zombie children or grandchildren. */
export function expectNoZombies(): void {
  expect(zombies(process.pid).map((z) => `${z.pid} ${z.state}`)).toEqual([]);
}

/** The pids of live processes below this test process, except the process guardian. */
export function childProcesses(): number[] {
  return descendants(process.pid)
    .filter((p) => p.state !== "Z" && !cmdline(p.pid).includes(guardianMarker))
    .map((p) => p.pid);
}
