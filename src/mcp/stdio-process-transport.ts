import { type ChildProcess, spawn } from "node:child_process";
import { getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { ProcessGuardian } from "../process/guardian.js";
import type { ProcessReservation } from "../process/process-budget.js";
import { listDescendants, signalTree } from "../process/process-tree.js";
import { createByteBudget } from "./byte-budget.js";
import type { LostReason } from "./server-connection.js";
import { forwardStderrLines } from "./stderr-lines.js";
import { splitLines } from "./stdout-lines.js";

/** How to run one stdio MCP server and what bounds it. */
export interface StdioProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the SDK's minimal default environment; nothing else of the service's leaks in. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** See `stdio.stopGraceMs`. */
  readonly stopGraceMs: number;
  /** Longest stdout line; a longer one ends the server (`stdout_flood`). */
  readonly maxMessageBytes: number;
  /** Sustained stderr rate, with ten seconds' worth allowed at once; more ends the server (`stderr_flood`). */
  readonly maxStderrBytesPerSecond: number;
  /** Gets each stderr line, cut at 8192 characters, and `end()` once the process has ended. */
  readonly stderr: { line(line: string): void; end(): void };
  /** Told when the process is spawned; from then on it counts until `onExited`. */
  readonly reservation: ProcessReservation;
  /** Called once the process has exited and been reaped. */
  readonly onExited: () => void;
  readonly guardian: ProcessGuardian;
}

// How long to wait for a SIGKILLed process to be reaped before giving up on it.
const killWaitMs = 5_000;

/**
 * An MCP client transport over a child's stdin and stdout, like the SDK's
 * stdio transport, with what a long-running multi-user service needs on top:
 * - the child leads its own process group, registered with the guardian, and
 *   stopping it signals the whole group (and any descendant that left it),
 *   so wrappers such as `npx` or `sh -c` leave no grandchildren behind;
 * - the connection closes as soon as the child exits, even while a
 *   grandchild still holds its pipes, and the rest of its group is killed;
 * - stdout lines and the stderr rate are bounded, so a flooding child is
 *   ended (with the reason kept) instead of growing the service's memory.
 */
export class StdioProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #options: StdioProcessOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #done = false;
  #lostReason: LostReason | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: StdioProcessOptions) {
    this.#options = options;
  }

  /** Why the connection ended, when it was not closed by `close()` or `stop()`. */
  get lostReason(): LostReason | undefined {
    return this.#lostReason;
  }

  start(): Promise<void> {
    if (this.#child) throw new Error("StdioProcessTransport already started");
    const options = this.#options;
    const child = spawn(options.command, [...options.args], {
      env: { ...getDefaultEnvironment(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    return new Promise((resolve, reject) => {
      let spawned = false;
      child.on("error", (error) => {
        // Before spawn: the command could not be run. After: a signal could not be sent.
        if (spawned) {
          this.onerror?.(error);
        } else {
          this.#finish();
          reject(error);
        }
      });
      child.once("spawn", () => {
        spawned = true;
        const pid = child.pid as number;
        options.reservation.spawned();
        options.guardian.watch(pid);
        child.once("exit", (code, signal) => this.#onExit(pid, code, signal));
        this.#read(child);
        resolve();
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (this.#done || !stdin || stdin.destroyed) return Promise.reject(new Error("Not connected"));
    return new Promise((resolve, reject) => {
      stdin.write(serializeMessage(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    return this.stop(this.#options.stopGraceMs);
  }

  /**
   * Ends the server: closes its stdin, then after `graceMs` SIGTERMs its
   * group, then after `graceMs` more SIGKILLs it. Resolves once it is reaped.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    const child = this.#child;
    const pid = child?.pid;
    if (child === undefined || pid === undefined || this.#done) {
      this.#finish();
      return;
    }
    // Taken now: once the child exits, its children are re-parented and lost from view.
    const descendants = listDescendants(pid);
    child.stdin?.end();
    if (await this.#exitsWithin(graceMs)) return;
    signalTree(pid, descendants, "SIGTERM");
    // A stopped (SIGSTOP) process acts on SIGTERM only once continued.
    signalTree(pid, descendants, "SIGCONT");
    if (await this.#exitsWithin(graceMs)) return;
    signalTree(pid, [...descendants, ...listDescendants(pid)], "SIGKILL");
    await this.#exitsWithin(killWaitMs);
  }

  async #exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const exited = (this.#exited ?? Promise.resolve()).then(() => true as const);
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #read(child: ChildProcess): void {
    const options = this.#options;
    const stdout = child.stdout;
    const stderr = child.stderr;
    stdout?.on(
      "data",
      splitLines(options.maxMessageBytes, {
        line: (line) => this.#receive(line),
        overflow: () => this.#kill({ why: "stdout_flood" }),
      }),
    );
    stdout?.on("error", (error) => this.onerror?.(error));
    child.stdin?.on("error", (error) => this.onerror?.(error));
    if (stderr) {
      const rate = options.maxStderrBytesPerSecond;
      const budget = createByteBudget(rate, rate * 10);
      stderr.on("data", (chunk: Buffer) => {
        if (!budget.take(chunk.length)) this.#kill({ why: "stderr_flood" });
      });
      forwardStderrLines(stderr, (line) => options.stderr.line(line));
    }
  }

  #receive(line: string): void {
    if (this.#done) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (error) {
      this.onerror?.(error as Error);
      return;
    }
    this.onmessage?.(message);
  }

  // Ends a misbehaving child at once; the exit handler reports it.
  #kill(reason: LostReason): void {
    const pid = this.#child?.pid;
    if (this.#done || pid === undefined || this.#lostReason !== undefined) return;
    this.#lostReason = reason;
    signalTree(pid, listDescendants(pid), "SIGKILL");
  }

  #onExit(pid: number, code: number | null, signal: NodeJS.Signals | null): void {
    const options = this.#options;
    options.onExited();
    options.guardian.forget(pid);
    // The server is over: whatever it left in its group goes too.
    signalTree(pid, [], "SIGKILL");
    if (this.#stopping === undefined && this.#lostReason === undefined) {
      this.#lostReason = {
        why: "exited",
        ...(code === null ? {} : { exitCode: code }),
        ...(signal === null ? {} : { signal }),
      };
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    const child = this.#child;
    // A grandchild may still hold the other ends; do not wait for it.
    child?.stdin?.destroy();
    child?.stdout?.destroy();
    child?.stderr?.destroy();
    this.#options.stderr.end();
    this.onclose?.();
  }
}
