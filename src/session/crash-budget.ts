import { ServiceError } from "../errors.js";
import { setNewest } from "../limits/bounded-map.js";

/** The restart policy: `sessions.restart` in the config. */
export interface RestartPolicy {
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly crashBudget: number;
  readonly crashWindowMs: number;
}

/**
 * Remembers when each session's MCP servers crashed (exited, dropped the
 * connection or failed to start) and decides when they may start again.
 */
export interface CrashBudget {
  /**
   * Throws UNAVAILABLE `MCP_SERVER_CRASH_LOOP` when the session used up its
   * crash budget within the window, or `MCP_SERVER_BACKOFF` while it waits
   * out the backoff after its last crash; both carry `retry_after_ms`.
   */
  check(sessionId: string): void;
  /** Records a crash of the session's servers now. */
  record(sessionId: string): void;
}

/**
 * Creates the crash budget. The first restart after a crash is immediate;
 * each further crash within `crashWindowMs` doubles the wait from
 * `backoffMs` up to `maxBackoffMs`; at `crashBudget` crashes restarts stop
 * until the oldest leaves the window. At most `maxKeys` sessions are
 * remembered (the oldest entry goes first), so memory stays bounded.
 */
export function createCrashBudget(
  policy: RestartPolicy,
  options: { now?: () => number; maxKeys?: number } = {},
): CrashBudget {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const crashes = new Map<string, number[]>();

  function recent(sessionId: string, at: number): number[] {
    const times = (crashes.get(sessionId) ?? []).filter((t) => t > at - policy.crashWindowMs);
    if (times.length === 0) crashes.delete(sessionId);
    else crashes.set(sessionId, times);
    return times;
  }

  const backoff = (count: number) =>
    count < 2 ? 0 : Math.min(policy.backoffMs * 2 ** (count - 2), policy.maxBackoffMs);

  // Whether a start at `t` is allowed, given the crash times.
  function allowed(times: readonly number[], t: number): boolean {
    const inWindow = times.filter((c) => c > t - policy.crashWindowMs);
    const last = inWindow.at(-1);
    if (last === undefined) return true;
    return inWindow.length < policy.crashBudget && last + backoff(inWindow.length) <= t;
  }

  // The first time from `at` on when a start is allowed: it can only change
  // when a crash leaves the window or a backoff ends.
  function nextAllowed(times: readonly number[], at: number): number {
    const last = times.at(-1) ?? at;
    const candidates = [
      at,
      ...times.map((c) => c + policy.crashWindowMs),
      ...times.map((_, i) => last + backoff(i + 1)),
    ].filter((t) => t >= at);
    candidates.sort((x, y) => x - y);
    return candidates.find((t) => allowed(times, t)) ?? last + policy.crashWindowMs;
  }

  return {
    check(sessionId) {
      const at = now();
      const times = recent(sessionId, at);
      const waitMs = nextAllowed(times, at) - at;
      if (waitMs <= 0) return;
      const count = times.length;
      const metadata = {
        crashes: String(count),
        crash_window_ms: String(policy.crashWindowMs),
        retry_after_ms: String(waitMs),
      };
      if (count >= policy.crashBudget) {
        throw new ServiceError(
          "MCP_SERVER_CRASH_LOOP",
          `The MCP servers of this session crashed ${count} times within ${policy.crashWindowMs} ms; restarts resume in ${waitMs} ms.`,
          { metadata },
        );
      }
      throw new ServiceError(
        "MCP_SERVER_BACKOFF",
        `The MCP servers of this session crashed ${count} times recently; the next start is allowed in ${waitMs} ms.`,
        { metadata },
      );
    },
    record(sessionId) {
      const at = now();
      const times = recent(sessionId, at);
      setNewest(crashes, sessionId, [...times, at].slice(-policy.crashBudget), maxKeys);
    },
  };
}
