import { ServiceError } from "../errors.js";

/** The wait suggested with `PROCESS_LIMIT_REACHED`, as for the session cap. */
export const processLimitRetryMs = 5_000;

/** Room for the processes of one server start, taken before anything is spawned. */
export interface ProcessReservation {
  /** One reserved process was spawned; it now counts as live until `exited`. */
  spawned(): void;
  /** Gives back what was reserved and not spawned. Idempotent. */
  release(): void;
}

/**
 * Counts stdio server processes: those alive (spawned and not yet reaped)
 * plus those reserved by starts under way.
 */
export interface ProcessBudget {
  /**
   * Reserves `count` processes; RESOURCE_EXHAUSTED `PROCESS_LIMIT_REACHED`
   * when they would take the count past the cap.
   */
  reserve(count: number): ProcessReservation;
  /** A spawned process was reaped. */
  exited(): void;
  /** Processes alive now. */
  readonly live: number;
}

/** Creates the budget for `max` processes (`limits.maxChildProcesses`). */
export function createProcessBudget(max: number): ProcessBudget {
  let live = 0;
  let reserved = 0;
  return {
    get live() {
      return live;
    },
    reserve(count) {
      if (live + reserved + count > max) {
        throw new ServiceError(
          "PROCESS_LIMIT_REACHED",
          "This server runs as many MCP server processes as it may; retry later or on another instance.",
          {
            metadata: {
              max_child_processes: String(max),
              retry_after_ms: String(processLimitRetryMs),
            },
          },
        );
      }
      reserved += count;
      let left = count;
      return {
        spawned() {
          if (left > 0) {
            left--;
            reserved--;
          }
          live++;
        },
        release() {
          reserved -= left;
          left = 0;
        },
      };
    },
    exited() {
      live = Math.max(0, live - 1);
    },
  };
}
