import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "../log/logger.js";

/** The marker in the guardian's command line, for operators and tests looking at `ps`. */
export const guardianMarker = "mcp-client-server-guardian";

// The guardian's whole program. It holds the process groups it is told about
// ("+pgid" / "-pgid" lines on stdin). When stdin ends or its parent changes,
// the service is gone, however it died (SIGKILL included): it SIGKILLs every
// group it holds and exits. It ignores the signals a terminal or a service
// manager sends to a whole group, so it outlives the service to do that.
const program = `
const groups = new Set();
const parent = process.ppid;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => {});
const end = () => {
  for (const pgid of groups) {
    try { process.kill(-pgid, "SIGKILL"); } catch {}
  }
  process.exit(0);
};
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  for (let at = pending.indexOf("\\n"); at !== -1; at = pending.indexOf("\\n")) {
    const line = pending.slice(0, at);
    pending = pending.slice(at + 1);
    const pgid = Number(line.slice(1));
    if (!Number.isInteger(pgid) || pgid <= 1) continue;
    if (line[0] === "+") groups.add(pgid);
    else groups.delete(pgid);
  }
});
process.stdin.on("end", end);
process.stdin.on("error", end);
setInterval(() => { if (process.ppid !== parent) end(); }, 1000);
`;

/**
 * Makes sure stdio servers do not outlive the service. Each server runs in
 * its own process group, which is registered here; a small watchdog
 * process, started with the first server, kills every registered group as
 * soon as the service's end of its pipe closes. It is needed because a
 * SIGKILLed service runs no cleanup, and servers that ignore the end of
 * their stdin would otherwise run on.
 */
export interface ProcessGuardian {
  /** Registers a process group; starts the watchdog if it is not running. */
  watch(pgid: number): void;
  /** Drops a process group that has ended. */
  forget(pgid: number): void;
  /** Ends the watchdog; call once every server has ended. Idempotent. */
  close(): void;
}

/** Creates the guardian; the watchdog starts lazily, so a service without stdio servers has none. */
export function createProcessGuardian(logger: Logger): ProcessGuardian {
  const groups = new Set<number>();
  let watchdog: ChildProcess | undefined;
  let closed = false;

  function send(line: string): void {
    watchdog?.stdin?.write(`${line}\n`);
  }

  function start(): void {
    const child = spawn(process.execPath, ["-e", program, guardianMarker], {
      stdio: ["pipe", "ignore", "ignore"],
      // Its own group, so that a signal to the service's group does not end it first.
      detached: true,
    });
    watchdog = child;
    child.unref();
    // The pipe must not keep the service's event loop alive either.
    (child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
    child.stdin?.on("error", () => {});
    child.on("error", (error) => {
      // A failed spawn (EMFILE, EAGAIN) fires no "exit": forget it here, so the next server retries.
      if (watchdog === child) watchdog = undefined;
      logger.error({ err: error }, "process guardian failed to start");
    });
    child.on("exit", (code, signal) => {
      if (watchdog === child) watchdog = undefined;
      if (!closed) {
        logger.error({ code, signal }, "process guardian exited; it restarts with the next server");
      }
    });
    for (const pgid of groups) send(`+${pgid}`);
  }

  return {
    watch(pgid) {
      if (closed) return;
      groups.add(pgid);
      if (watchdog === undefined) start();
      else send(`+${pgid}`);
    },
    forget(pgid) {
      if (groups.delete(pgid)) send(`-${pgid}`);
    },
    close() {
      closed = true;
      watchdog?.stdin?.end();
      watchdog = undefined;
    },
  };
}
