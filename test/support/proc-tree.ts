import { readdirSync, readFileSync } from "node:fs";

/** The fields of `/proc/<pid>/stat` the process-tree tests look at. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** The process group id. */
  readonly pgid: number;
  /** One letter: R, S, D, Z (zombie), T, ... */
  readonly state: string;
  /** Start time in clock ticks after boot: with `pid`, an identity that survives pid reuse. */
  readonly startTime: string;
}

/**
 * The process's stat line, parsed, or undefined when there is no such
 * process (or it vanished while being read). A zombie still has one.
 */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2, in parentheses) may hold spaces and ")": the
  // other fields start after the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  return {
    pid,
    state: fields[0] ?? "",
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    startTime: fields[19] ?? "",
  };
}

/** The stat of every process in /proc, zombies included, read in one pass. */
function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** Every process (zombies included) whose ppid chain leads to `rootPid`, root excluded. */
function subtree(rootPid: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of allStats()) {
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else children.set(stat.ppid, [stat]);
  }
  const found: ProcStat[] = [];
  const queue = [rootPid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/**
 * Every live (not zombie) process whose ppid chain leads to `rootPid`, root
 * excluded, breadth first. An orphan has been reparented and is not found.
 */
export function descendants(rootPid: number): ProcStat[] {
  return subtree(rootPid).filter((stat) => stat.state !== "Z");
}

/** The descendants of `rootPid` that have exited and wait to be reaped (state Z). */
export function zombies(rootPid: number): ProcStat[] {
  return subtree(rootPid).filter((stat) => stat.state === "Z");
}

/** Every live (not zombie) process whose process group is `pgid`. */
export function processesInGroup(pgid: number): ProcStat[] {
  return allStats().filter((stat) => stat.pgid === pgid && stat.state !== "Z");
}

/**
 * Every live (not zombie) process whose initial environment holds `entry`
 * (`NAME=value`) exactly: how a test finds what it started, orphans
 * included, by a marker value only it uses. Processes of other users, whose
 * environment is not readable, are skipped.
 */
export function processesWithEnv(entry: string): ProcStat[] {
  return allStats().filter((stat) => {
    if (stat.state === "Z") return false;
    try {
      return readFileSync(`/proc/${stat.pid}/environ`, "utf8").split("\0").includes(entry);
    } catch {
      return false;
    }
  });
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/**
 * True while the very process `proc` names runs: its pid exists, is not a
 * zombie and has the same start time (a reused pid is another process).
 */
export function stillRunning(proc: Pick<ProcStat, "pid" | "startTime">): boolean {
  const stat = readStat(proc.pid);
  return stat !== undefined && stat.state !== "Z" && stat.startTime === proc.startTime;
}

/**
 * Polls every 25 ms until none of `pids` runs (gone or zombie) and resolves
 * with []; after `timeoutMs` resolves with those still running instead. Never
 * rejects.
 */
export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isRunning);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The process's argv joined with spaces, or "" once it is gone (or a zombie). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
