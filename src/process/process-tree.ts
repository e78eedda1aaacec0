import { readdirSync, readFileSync } from "node:fs";

/**
 * The pids of every live descendant of `pid`, read from `/proc` in one pass.
 * Empty where there is no `/proc` (the process group still covers the
 * usual wrappers there). A descendant that has already been re-parented,
 * because its parent exited, is no longer found.
 */
export function listDescendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = readParent(entry);
    if (ppid === undefined) continue;
    const siblings = children.get(ppid);
    if (siblings) siblings.push(Number(entry));
    else children.set(ppid, [Number(entry)]);
  }
  const found: number[] = [];
  const pending = [...(children.get(pid) ?? [])];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    found.push(next);
    pending.push(...(children.get(next) ?? []));
  }
  return found;
}

function readParent(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces and ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends `signal` to the process group `pgid` and to each of `pids`; a
 * process already gone is not an error.
 */
export function signalTree(pgid: number, pids: readonly number[], signal: NodeJS.Signals): void {
  for (const target of [-pgid, ...pids]) {
    try {
      process.kill(target, signal);
    } catch {
      // ESRCH: already gone. EPERM: not ours any more (pid reused).
    }
  }
}
