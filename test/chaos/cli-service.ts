import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import {
  type JsonResponse,
  makeJwt,
  postJson,
  servicePath,
  startUpstream,
  type Upstream,
} from "../integration/harness.js";
import { createEventLog, type EventLog } from "../mcp/harness.js";
import {
  type CliProcess,
  cliPath,
  killStartedClis,
  startCli,
  writeConfig,
} from "../support/cli-process.js";
import { createProcessTracker, type ProcessTracker } from "../support/process-tracker.js";
import { requireBuilt } from "../support/repo-paths.js";
import { unlimitedInitRates } from "../support/unlimited-init-rates.js";
import { chaosServer } from "./harness.js";

/** The service CLI with chaos servers below it, reached over Connect JSON. */
export interface ChaosCli extends CliProcess {
  /** `http://127.0.0.1:<port>`, from its "listening" log line. */
  readonly url: string;
  readonly port: number;
  /** Inits `sessionId` with a fresh JWT against the upstream and returns that JWT. */
  init(sessionId: string): Promise<string>;
  /** Calls tool `name` without arguments, fails unless it succeeded, and returns its structured content. */
  callTool(sessionId: string, jwtToken: string, name: string): Promise<Record<string, unknown>>;
}

/** How a test starts its CLI. */
export interface ChaosCliOptions {
  readonly shutdownGraceMs: number;
  /** The config file's name; `.yaml` writes it as YAML, anything else as JSON. */
  readonly configName: string;
}

/** A test file that runs the service CLI against chaos servers. */
export interface ChaosCliSuite {
  /** Where every chaos server records its events. */
  readonly events: EventLog;
  /** Every process a test started or saw below the service; killed after each test. */
  readonly tracker: ProcessTracker;
  /**
   * Starts the CLI with one stdio chaos server per session that ignores
   * SIGTERM and the end of its stdin, and resolves once it listens. The CLI
   * and every process that ever runs below it are tracked.
   */
  start(options: ChaosCliOptions): Promise<ChaosCli>;
  /** Runs `cleanup` after the test, before its processes are killed. */
  onCleanup(cleanup: () => void): void;
}

/**
 * Sets up the current test file for chaos CLI tests: an upstream, a config
 * directory and an event log for the file, and after each test a SIGKILL
 * for every process it started or saw, as the chaos servers and their
 * grandchildren ignore SIGTERM. Those a crashed service orphaned before the
 * test learnt their pids are found by the event log's path, which they all
 * hold in their environment.
 */
export function useChaosCli(): ChaosCliSuite {
  let upstream: Upstream | undefined;
  let dir: string | undefined;
  let events: EventLog | undefined;
  const tracker = createProcessTracker();
  const cleanups: (() => void)[] = [];
  const eventLog = () => {
    if (events === undefined) throw new Error("the chaos CLI suite is not set up");
    return events;
  };

  beforeAll(async () => {
    requireBuilt(cliPath);
    upstream = await startUpstream();
    dir = mkdtempSync(join(tmpdir(), "mcs-chaos-cli-"));
    events = createEventLog();
  });

  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    killStartedClis();
    tracker.killAll(events && `CHAOS_EVENTS=${events.path}`);
  });

  afterAll(async () => {
    await upstream?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    events?.remove();
  });

  async function start({ shutdownGraceMs, configName }: ChaosCliOptions): Promise<ChaosCli> {
    if (upstream === undefined || dir === undefined) throw new Error("not set up");
    const api = upstream;
    const config = writeConfig(dir, configName, {
      server: { host: "127.0.0.1", port: 0, shutdownGraceMs },
      credentialCheck: { timeoutMs: 2_000 },
      // The upstream listens on loopback, which only the development profile reaches.
      outbound: { profile: "development" },
      limits: unlimitedInitRates,
      tools: { startTimeoutMs: 15_000 },
      log: { level: "info" },
      mcpServers: {
        chaos: chaosServer(eventLog(), { ignoreStdinEnd: true, ignoreSigterm: true }),
      },
    });
    const cli = startCli(["--config", config]);
    tracker.trackPid(cli.pid);
    tracker.follow(cli.pid, cli.exited);
    const { url, port } = await cli.listening();

    // A failed request names the service's state and stderr: a crash shows up as "socket hang up".
    const post = async (rpc: string, body: unknown, jwtToken?: string): Promise<JsonResponse> => {
      try {
        return await postJson(
          `${url}${servicePath}/${rpc}`,
          body,
          jwtToken === undefined ? {} : { headers: { authorization: `Bearer ${jwtToken}` } },
        );
      } catch (error) {
        await Promise.race([cli.exited, new Promise((resolve) => setTimeout(resolve, 200))]);
        throw new Error(`${rpc} failed; the service is ${cli.status()}; stderr:\n${cli.stderr()}`, {
          cause: error,
        });
      }
    };
    return {
      ...cli,
      url,
      port,
      async init(sessionId) {
        const jwtToken = makeJwt({ sub: sessionId });
        const apiUrl = api.apiUrl("ok", sessionId);
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

  return {
    get events() {
      return eventLog();
    },
    tracker,
    start,
    onCleanup: (cleanup) => void cleanups.push(cleanup),
  };
}
