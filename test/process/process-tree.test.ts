import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { listDescendants, signalTree } from "../../src/process/process-tree.js";
import { cmdline, readStat, waitUntilGone } from "../support/proc-tree.js";
import { waitFor } from "../support/wait.js";

/** The process groups tests started (each led by its shell), killed whole after each test. */
const groups: number[] = [];

afterEach(async () => {
  const leaders = groups.splice(0);
  for (const pgid of leaders) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await waitUntilGone(leaders, 3_000);
});

/**
 * Spawns `sh -c script` in a process group of its own (Debian's sh is dash),
 * so that everything it starts, however deep, goes with the group after the test.
 */
function shell(script: string): ChildProcess & { pid: number } {
  const child = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  const { pid } = child;
  if (pid === undefined) throw new Error("sh did not start");
  groups.push(pid);
  return child as ChildProcess & { pid: number };
}

/** Waits until `pid` has `count` descendants running `sleep 30`, and returns their pids. */
function sleepsBelow(pid: number, count: number): Promise<number[]> {
  return waitFor(() => {
    const sleeps = listDescendants(pid).filter((p) => cmdline(p) === "sleep 30");
    return sleeps.length === count && sleeps;
  }, `${count} sleeps below ${pid}`);
}

describe("listDescendants", () => {
  it("finds the children of a shell", async () => {
    const sh = shell("sleep 30 & sleep 30 & wait");
    const sleeps = await sleepsBelow(sh.pid, 2);
    for (const pid of sleeps) expect(readStat(pid)?.ppid).toBe(sh.pid);
    expect(listDescendants(sh.pid).sort()).toEqual([...sleeps].sort());
  });

  it("finds grandchildren too, and the test process's own descendants", async () => {
    const sh = shell("sh -c 'sleep 30 & wait' & sleep 30 & wait");
    const sleeps = await sleepsBelow(sh.pid, 2);
    const parents = sleeps.map((pid) => readStat(pid)?.ppid);
    // One sleep is a child, the other a grandchild.
    expect(parents).toContain(sh.pid);
    expect(parents.some((ppid) => ppid !== sh.pid)).toBe(true);
    const mine = listDescendants(process.pid);
    expect(mine).toContain(sh.pid);
    for (const pid of sleeps) expect(mine).toContain(pid);
  });

  it("finds nothing below a process without children or one that does not exist", () => {
    const sh = shell("exec sleep 30");
    expect(listDescendants(sh.pid)).toEqual([]);
    expect(listDescendants(2 ** 30)).toEqual([]);
  });
});

describe("signalTree", () => {
  it("signals a detached child's whole process group, grandchildren included", async () => {
    const sh = shell("sh -c 'sleep 30 & wait' & wait");
    const [sleep] = await sleepsBelow(sh.pid, 1);
    if (sleep === undefined) throw new Error("no sleep");
    const inner = readStat(sleep)?.ppid ?? -1;
    expect(readStat(sleep)?.pgid).toBe(sh.pid);
    expect(inner).not.toBe(sh.pid);
    signalTree(sh.pid, [], "SIGKILL");
    expect(await waitUntilGone([sh.pid, inner, sleep], 3_000)).toEqual([]);
  });

  it("signals the listed pids outside the group as well", async () => {
    const group = shell("exec sleep 30");
    const outsider = shell("exec sleep 30");
    signalTree(group.pid, [outsider.pid], "SIGKILL");
    expect(await waitUntilGone([group.pid, outsider.pid], 3_000)).toEqual([]);
  });

  it("does not throw for a group or pids that do not exist", async () => {
    const gone = shell("exit 0");
    await new Promise((resolve) => gone.once("exit", resolve));
    // Reaped: neither the pid nor the group exists any more. SIGCONT harms no process that
    // reused the pid meanwhile; 2^30 is above every possible pid_max (2^22).
    expect(() => signalTree(gone.pid, [gone.pid], "SIGCONT")).not.toThrow();
    expect(() => signalTree(2 ** 30, [2 ** 30], "SIGKILL")).not.toThrow();
  });
});
