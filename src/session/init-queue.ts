/**
 * Orders Inits per session id. Inits with the same credentials that overlap
 * share one run and its outcome (one validation, one start); an Init with
 * other credentials waits until the running one has settled, so two users can
 * never share a result.
 */
export interface InitQueue {
  /**
   * Runs `task` for `sessionId`, or joins the run already under way with the
   * same `key`. A caller whose `signal` aborts stops waiting (rejecting with
   * the abort reason); the shared run goes on for the others.
   */
  run<T>(sessionId: string, key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T>;
  /** Resolves when every run under way has settled. */
  settled(): Promise<void>;
}

/** Creates an empty InitQueue. */
export function createInitQueue(): InitQueue {
  const pending = new Map<string, { key: string; promise: Promise<unknown> }>();
  return {
    async run<T>(sessionId: string, key: string, signal: AbortSignal, task: () => Promise<T>) {
      for (;;) {
        const current = pending.get(sessionId);
        if (current === undefined) break;
        if (current.key === key) return untilAborted(current.promise as Promise<T>, signal);
        await untilAborted(current.promise.then(ignore, ignore), signal);
      }
      const entry = { key, promise: task() };
      pending.set(sessionId, entry);
      const forget = () => {
        if (pending.get(sessionId) === entry) pending.delete(sessionId);
      };
      entry.promise.then(forget, forget);
      return untilAborted(entry.promise as Promise<T>, signal);
    },
    async settled() {
      await Promise.allSettled([...pending.values()].map((p) => p.promise));
    },
  };
}

function ignore(): void {}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
