import { describe, expect, it } from "vitest";
import { cmdline, descendants, readStat } from "../support/proc-tree.js";
import { useChaosCli } from "./cli-service.js";
import { chaosServerPath, expectGone, expectNoZombies } from "./harness.js";

const suite = useChaosCli();

describe("a SIGKILLed service", () => {
  it("children of a SIGKILLed service die within 5 s", async () => {
    const service = await suite.start({ shutdownGraceMs: 1_000, configName: "config.yaml" });

    const servers: number[] = [];
    const grandchildren: number[] = [];
    for (const sessionId of ["chaos-a", "chaos-b"]) {
      const jwtToken = await service.init(sessionId);
      const pids = await service.callTool(sessionId, jwtToken, "pids");
      const spawned = await service.callTool(sessionId, jwtToken, "spawn_grandchild");
      expect(pids.pid).toEqual(expect.any(Number));
      expect(spawned.pid).toEqual(expect.any(Number));
      servers.push(pids.pid as number);
      grandchildren.push(spawned.pid as number);
    }
    expect(new Set(servers).size).toBe(2);

    const below = descendants(service.pid);
    below.forEach(suite.tracker.track);
    const belowPids = below.map((p) => p.pid);
    for (const pid of [...servers, ...grandchildren]) {
      expect(belowPids, `${pid} runs below the service`).toContain(pid);
    }
    for (const pid of servers) expect(cmdline(pid)).toContain(chaosServerPath);
    for (const [i, pid] of servers.entries()) {
      // Soft: a wrong group must not hide whether the children outlive the service.
      expect.soft(readStat(pid)?.pgid, `server ${pid} leads its own process group`).toBe(pid);
      expect
        .soft(readStat(grandchildren[i] ?? 0)?.pgid, "a grandchild stays in its server's group")
        .toBe(pid);
    }

    process.kill(service.pid, "SIGKILL");
    await service.exited;

    await expectGone(
      [...servers, ...grandchildren],
      5_000,
      "servers and grandchildren still running 5 s after the kill",
    );
    // Whatever else ran below the service (a watchdog, say) goes with it too.
    await expectGone(belowPids, 1_000);
    expectNoZombies();
  });
});
