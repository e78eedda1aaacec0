import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { repoPath, repoRoot } from "./repo-paths.js";

/** The compiled service CLI; `requireBuilt(cliPath)` before starting it. */
export const cliPath = repoPath("dist/src/cli.js");

/** One JSON log line of the service. */
export type LogEntry = Record<string, unknown>;

/** How a CLI process ended, and when (`performance.now()` at its exit event). */
export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atMs: number;
}

/** A spawned CLI whose stdout JSON log lines are collected as they arrive. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON log line so far, in order. */
  readonly logs: readonly LogEntry[];
  /** Complete stdout lines that were not JSON: the service's stdout holds none. */
  readonly strayLines: readonly string[];
  stderr(): string;
  /** "running", or how the process exited, for failure messages. */
  status(): string;
  /** Resolves once the process exited; never rejects. */
  readonly exited: Promise<CliExit>;
  /**
   * Resolves with the first log line whose `msg` is `msg`; rejects, naming
   * the stderr so far, after `timeoutMs` (default 10 s) or when the process
   * exits without having logged it.
   */
  waitForLog(msg: string, timeoutMs?: number): Promise<LogEntry>;
  /** Waits for the "listening" log line and resolves with its URL and port. */
  listening(timeoutMs?: number): Promise<{ url: string; port: number }>;
}

const started = new Set<CliProcess>();

/**
 * Spawns `node dist/src/cli.js ...args` from the repository root with the
 * MCP_CLIENT_SERVER_* variables blanked, so that the arguments and the
 * config file alone decide. killStartedClis() SIGKILLs whatever is left.
 */
export function startCli(args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    // Empty values count as unset.
    env: {
      ...process.env,
      MCP_CLIENT_SERVER_HOST: "",
      MCP_CLIENT_SERVER_PORT: "",
      MCP_CLIENT_SERVER_LOG_LEVEL: "",
    },
  });
  const logs: LogEntry[] = [];
  const strayLines: string[] = [];
  const listeners = new Set<() => void>();
  let stderr = "";
  let status = "running";
  let buffered = "";
  child.stdout?.setEncoding("utf8");
  // Read stdout to the end, so that a full pipe never blocks the service's logging.
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      const entry = parseObject(line);
      if (entry === undefined) strayLines.push(line);
      else logs.push(entry);
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<CliExit>((resolve) =>
    child.once("exit", (code, signal) => {
      const atMs = performance.now();
      status = `exited with ${code ?? signal}`;
      resolve({ code, signal, atMs });
    }),
  );

  const waitForLog = (msg: string, timeoutMs = 10_000) =>
    new Promise<LogEntry>((resolve, reject) => {
      const check = () => {
        const found = logs.find((entry) => entry.msg === msg);
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      const onExit = () => {
        if (check()) return;
        cleanup();
        reject(new Error(`the CLI ${status} before logging "${msg}"; stderr: ${stderr}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off("exit", onExit);
      };
      if (check()) return;
      if (child.exitCode !== null || child.signalCode !== null) return onExit();
      listeners.add(check);
      child.once("exit", onExit);
    });

  const cli: CliProcess = {
    child,
    pid: child.pid ?? 0,
    logs,
    strayLines,
    stderr: () => stderr,
    status: () => status,
    exited,
    waitForLog,
    async listening(timeoutMs) {
      const entry = await waitForLog("listening", timeoutMs);
      if (typeof entry.url !== "string")
        throw new Error(`"listening" without a url: ${JSON.stringify(entry)}`);
      return { url: entry.url, port: Number(new URL(entry.url).port) };
    },
  };
  started.add(cli);
  void exited.then(() => started.delete(cli));
  return cli;
}

/** SIGKILLs every CLI startCli started that has not exited yet: for afterEach. */
export function killStartedClis(): void {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
  }
}

/**
 * Writes `config` to `dir`/`name` as YAML when the name ends in .yaml or
 * .yml, else as JSON, and returns the file's path.
 */
export function writeConfig(dir: string, name: string, config: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, /\.ya?ml$/.test(name) ? stringify(config) : JSON.stringify(config, null, 2));
  return file;
}

function parseObject(line: string): LogEntry | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as LogEntry) : undefined;
  } catch {
    return undefined;
  }
}
