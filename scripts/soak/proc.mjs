// What the soak measures in this process: open file descriptors (from /proc/self/fd),
// descendants (from the ppid chains in /proc) sorted into zombies, the service's guardian
// and other children, and heap/rss after a forced GC. Linux only.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const settleMs = 2_000;
const guardianMark = "mcp-client-server-guardian";

/**
 * Waits for the service to settle, runs the GC twice (needs `--expose-gc`) and returns
 * `{ fds, children, zombies, guardian, heap, rss }`.
 */
export async function measure() {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  global.gc();
  global.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { fds: openFds(), ...processes(), heap: heapUsed, rss };
}

function openFds() {
  const fds = { total: 0, socket: 0, pipe: 0, other: 0 };
  for (const fd of readdirSync("/proc/self/fd")) {
    let target;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the directory listing itself, already closed
    }
    fds.total++;
    const kind = /^(socket|pipe):/.exec(target)?.[1] ?? "other";
    fds[kind]++;
  }
  return fds;
}

function readProc(pid, file) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined; // gone between listing and reading
  }
}

/**
 * Every descendant of this process through the ppid chains in /proc, sorted into
 * `{ children, zombies, guardian }`, each a list of `{ pid, state, cmdline }`.
 */
export function processes() {
  const byParent = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(name, "stat");
    if (stat === undefined) continue;
    // The command name may hold spaces and parentheses: the fields start after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const list = byParent.get(Number(ppid)) ?? [];
    list.push({ pid: Number(name), state });
    byParent.set(Number(ppid), list);
  }
  const found = { children: [], zombies: [], guardian: [] };
  const queue = [process.pid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of byParent.get(pid) ?? []) {
      queue.push(child.pid);
      const cmdline = (readProc(child.pid, "cmdline") ?? "").replaceAll("\0", " ").trim();
      const entry = { pid: child.pid, state: child.state, cmdline };
      if (child.state === "Z") found.zombies.push(entry);
      else if (cmdline.includes(guardianMark)) found.guardian.push(entry);
      else found.children.push(entry);
    }
  }
  return found;
}

/**
 * Polls {@link processes} until no descendant is left or `maxMs` has passed; returns the
 * last listing plus `waitedMs`. The guardian exits when the service closes its stdin, so
 * every descendant gets a moment after shutdown.
 */
export async function processesGone(maxMs) {
  const started = Date.now();
  for (;;) {
    const found = processes();
    const waitedMs = Date.now() - started;
    const left = found.children.length + found.zombies.length + found.guardian.length;
    if (left === 0 || waitedMs >= maxMs) return { ...found, waitedMs };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Samples the number of live children every 500 ms until `stop()`; `max()` is the peak. */
export function sampleChildren() {
  let max = 0;
  const timer = setInterval(() => {
    max = Math.max(max, processes().children.length);
  }, 500);
  return { max: () => max, stop: () => clearInterval(timer) };
}
