/** One event of a call that reports progress: progress updates, then its result. */
export type ProgressEvent<P, R> =
  | { readonly kind: "progress"; readonly value: P }
  | { readonly kind: "result"; readonly value: R };

/** Options of streamProgress. */
export interface ProgressStreamOptions {
  /** Aborts the call; the stream then ends with the call's error. */
  readonly signal: AbortSignal;
  /** Most progress events held while the reader is busy; default 8, at least 1. */
  readonly capacity?: number;
}

/** How many progress events wait for a slow reader by default. */
const defaultProgressCapacity = 8;

/**
 * Runs `call` and yields the progress it reports, in order, then its result;
 * throws the call's error instead of the result when it fails, after the
 * progress that came before it.
 *
 * Progress waits for the reader in a queue of at most `capacity` events:
 * when a slow reader lets it fill, the oldest waiting event is dropped. So
 * memory stays bounded whatever the server sends, the events a reader gets
 * are still in order, and the latest progress is always delivered. Progress
 * reported after the call settled is ignored.
 *
 * `call` gets a signal that aborts with `options.signal`, and when the reader
 * stops before the result (the generator is returned early): a call that
 * nobody reads any more is cancelled.
 */
export async function* streamProgress<P, R>(
  call: (onProgress: (progress: P) => void, signal: AbortSignal) => Promise<R>,
  options: ProgressStreamOptions,
): AsyncGenerator<ProgressEvent<P, R>, void, undefined> {
  const capacity = Math.max(1, options.capacity ?? defaultProgressCapacity);
  const queue: P[] = [];
  let outcome: { ok: true; value: R } | { ok: false; error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const controller = new AbortController();
  const { signal } = options;
  const abort = () => controller.abort(signal.reason);
  if (signal.aborted) abort();
  signal.addEventListener("abort", abort, { once: true });
  const onProgress = (progress: P) => {
    if (outcome !== undefined) return;
    if (queue.length >= capacity) queue.shift();
    queue.push(progress);
    notify();
  };
  // Started inside an async function, so a synchronous throw becomes the outcome too.
  const running = (async () => call(onProgress, controller.signal))();
  running.then(
    (value) => {
      outcome = { ok: true, value };
      notify();
    },
    (error: unknown) => {
      outcome = { ok: false, error };
      notify();
    },
  );
  try {
    for (;;) {
      if (queue.length > 0) {
        yield { kind: "progress", value: queue.shift() as P };
        continue;
      }
      if (outcome?.ok === false) throw outcome.error;
      if (outcome?.ok === true) {
        yield { kind: "result", value: outcome.value };
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal.removeEventListener("abort", abort);
    if (outcome === undefined) controller.abort(signal.aborted ? signal.reason : undefined);
  }
}
