import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProcessGuardian, guardianMarker } from "../../src/process/guardian.js";
import { captureLogs } from "../support/log-capture.js";
import { cmdline, descendants, readStat, waitUntilGone } from "../support/proc-tree.js";
import { repoPath, requireBuilt } from "../support/repo-paths.js";
import { waitFor } from "../support/wait.js";

const builtGuardian = repoPath("dist/src/process/guardian.js");
const builtLogger = repoPath("dist/src/log/logger.js");

/** Process groups and pids a test started, SIGKILLed after it. */
const groups: number[] = [];
const pids: number[] = [];

let dir: string;

beforeAll(async () => {
  requireBuilt(builtGuardian);
  requireBuilt(builtLogger);
  dir = await mkdtemp(join(tmpdir(), "mcs-guardian-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  const targets = [...groups.splice(0).map((pgid) => -pgid), ...pids.splice(0)];
  for (const target of targets) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await waitUntilGone(
    targets.map((target) => Math.abs(target)),
    3_000,
  );
});

/** Starts `sleep 60` as the leader of a process group of its own; returns its pid (= pgid). */
function sleeper(): number {
  const child = spawn("sleep", ["60"], { stdio: "ignore", detached: true });
  if (child.pid === undefined) throw new Error("sleep did not start");
  child.unref();
  groups.push(child.pid);
  return child.pid;
}

/** True while `pid` runs (exists and is not a zombie). */
function running(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** The guardian processes below `pid`. */
function guardiansBelow(pid: number): number[] {
  return descendants(pid)
    .map((stat) => stat.pid)
    .filter((p) => cmdline(p).includes(guardianMarker));
}

describe("createProcessGuardian in this process", () => {
  it("starts no watchdog before the first watch, then one in a process group of its own", async () => {
    const guardian = createProcessGuardian(captureLogs("silent").logger);
    expect(guardiansBelow(process.pid)).toEqual([]);
    guardian.watch(sleeper());
    guardian.watch(sleeper());
    const watchdogs = guardiansBelow(process.pid);
    pids.push(...watchdogs);
    expect(watchdogs).toHaveLength(1);
    const [watchdog] = watchdogs;
    if (watchdog === undefined) throw new Error("no watchdog");
    expect(readStat(watchdog)?.pgid).toBe(watchdog);
    expect(readStat(process.pid)?.pgid).not.toBe(watchdog);
    guardian.close();
    // Gone before the next test looks for watchdogs of its own.
    expect(await waitUntilGone([watchdog], 3_000)).toEqual([]);
  });

  it("kills the groups it holds when closed, not those it forgot, and exits", async () => {
    const guardian = createProcessGuardian(captureLogs("silent").logger);
    const watched = sleeper();
    const forgotten = sleeper();
    guardian.watch(watched);
    guardian.watch(forgotten);
    guardian.forget(forgotten);
    const [watchdog] = guardiansBelow(process.pid);
    if (watchdog === undefined) throw new Error("no watchdog");
    pids.push(watchdog);
    guardian.close();
    guardian.close();
    expect(await waitUntilGone([watchdog, watched], 3_000)).toEqual([]);
    expect(running(forgotten)).toBe(true);
  });

  it("starts nothing after close", () => {
    const guardian = createProcessGuardian(captureLogs("silent").logger);
    guardian.close();
    guardian.watch(sleeper());
    // spawn() returns once the child has exec'ed: a watchdog would be listed right away.
    expect(guardiansBelow(process.pid)).toEqual([]);
  });
});

// A stand-in for the service, SIGKILLed by the test: it watches one sleep, watches and
// forgets another, prints both pids and waits to be killed.
const serviceScript = `
import { spawn } from "node:child_process";
import { createProcessGuardian } from ${JSON.stringify(pathToFileURL(builtGuardian).href)};
import { createLogger } from ${JSON.stringify(pathToFileURL(builtLogger).href)};

const guardian = createProcessGuardian(createLogger({ level: "silent" }));
const sleep = () => spawn("sleep", ["60"], { stdio: "ignore", detached: true }).pid;
const watched = sleep();
const forgotten = sleep();
guardian.watch(watched);
guardian.watch(forgotten);
guardian.forget(forgotten);
console.log(JSON.stringify({ watched, forgotten }));
setInterval(() => {}, 60_000);
`;

describe("the watchdog, when the service dies", () => {
  it("SIGKILLs the watched group of a SIGKILLed service and spares a forgotten one", async () => {
    const script = join(dir, "service.mjs");
    await writeFile(script, serviceScript);
    const service: ChildProcess = spawn(process.execPath, [script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (service.pid === undefined || service.stdout === null) throw new Error("no service");
    pids.push(service.pid);
    const [line] = (await once(createInterface({ input: service.stdout }), "line")) as [string];
    const { watched, forgotten } = JSON.parse(line) as { watched: number; forgotten: number };
    groups.push(watched, forgotten);
    const servicePid = service.pid;
    const watchdog = await waitFor(() => guardiansBelow(servicePid)[0], "the watchdog");
    pids.push(watchdog);
    expect(readStat(watchdog)?.pgid).toBe(watchdog);
    expect(running(watched)).toBe(true);

    service.kill("SIGKILL");
    expect(await waitUntilGone([watched], 3_000)).toEqual([]);
    expect(await waitUntilGone([watchdog], 3_000)).toEqual([]);
    expect(running(forgotten)).toBe(true);
  });
});
