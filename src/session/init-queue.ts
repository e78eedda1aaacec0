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
   * the abort reason); the shared run goes on while anyone still waits, and
   * its own signal aborts when the last caller has gone.
   */
  run<T>(
    sessionId: string,
    key: string,
    signal: AbortSignal,
    task: (signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  /** Resolves when the run under way for `sessionId`, if any, has settled. */
  idle(sessionId: string): Promise<void>;
  /** Resolves when every run under way has settled. */
  settled(): Promise<void>;
}

interface Run {
  readonly key: string;
  readonly promise: Promise<unknown>;
  readonly controller: AbortController;
  waiters: number;
}

/** Creates an empty InitQueue. */
export function createInitQueue(): InitQueue {
  const pending = new Map<string, Run>();

  function wait<T>(run: Run, signal: AbortSignal): Promise<T> {
    run.waiters++;
    return untilAborted(run.promise as Promise<T>, signal, () => {
      run.waiters--;
      if (run.waiters === 0) run.controller.abort(signal.reason);
    });
  }

  return {
    async run(sessionId, key, signal, task) {
      for (;;) {
        const current = pending.get(sessionId);
        if (current === undefined) break;
        // A run stopped because its callers left is only cleaning up: wait it out.
        if (current.key === key && !current.controller.signal.aborted) return wait(current, signal);
        await untilAborted(current.promise.then(ignore, ignore), signal, ignore);
      }
      const controller = new AbortController();
      const run: Run = { key, promise: task(controller.signal), controller, waiters: 0 };
      pending.set(sessionId, run);
      const forget = () => {
        if (pending.get(sessionId) === run) pending.delete(sessionId);
      };
      run.promise.then(forget, forget);
      return wait(run, signal);
    },
    async idle(sessionId) {
      await pending.get(sessionId)?.promise.then(ignore, ignore);
    },
    async settled() {
      await Promise.allSettled([...pending.values()].map((p) => p.promise));
    },
  };
}

function ignore(): void {}

function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  onAbort: () => void,
): Promise<T> {
  if (signal.aborted) {
    onAbort();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}
