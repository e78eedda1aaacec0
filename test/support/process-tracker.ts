import {
  descendants,
  type ProcStat,
  processesWithEnv,
  readStat,
  stillRunning,
} from "./proc-tree.js";

/**
 * The processes a test started or saw, each by pid and start time, so that
 * it can check they all ended and SIGKILL those that did not without ever
 * touching an unrelated process that reused a pid.
 */
export interface ProcessTracker {
  track(proc: ProcStat): void;
  /** Tracks the process `pid`, if it runs. */
  trackPid(pid: number): void;
  /** Tracks every process below `pid`, sampled every 20 ms until `until` settles. */
  follow(pid: number, until: Promise<unknown>): void;
  /** Every process tracked so far, ended ones included. */
  tracked(): ProcStat[];
  /**
   * Stops following, SIGKILLs every tracked process that still runs and
   * every live one whose environment holds `envEntry` (`NAME=value`: how
   * orphans a crashed parent left behind are found), and forgets them all.
   */
  killAll(envEntry?: string): void;
}

/** Creates an empty tracker. */
export function createProcessTracker(): ProcessTracker {
  const procs = new Map<string, ProcStat>();
  const samplers = new Set<NodeJS.Timeout>();
  const track = (proc: ProcStat) => void procs.set(`${proc.pid}/${proc.startTime}`, proc);
  const stopFollowing = (sampler: NodeJS.Timeout) => {
    clearInterval(sampler);
    samplers.delete(sampler);
  };
  return {
    track,
    trackPid(pid) {
      const stat = readStat(pid);
      if (stat) track(stat);
    },
    follow(pid, until) {
      const sampler = setInterval(() => descendants(pid).forEach(track), 20);
      samplers.add(sampler);
      const stop = () => stopFollowing(sampler);
      void until.then(stop, stop);
    },
    tracked: () => [...procs.values()],
    killAll(envEntry) {
      for (const sampler of samplers) stopFollowing(sampler);
      if (envEntry !== undefined) processesWithEnv(envEntry).forEach(track);
      for (const proc of procs.values()) {
        if (!stillRunning(proc)) continue;
        try {
          process.kill(proc.pid, "SIGKILL");
        } catch {
          // Gone between the check and the kill.
        }
      }
      procs.clear();
    },
  };
}
