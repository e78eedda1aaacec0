/**
 * Runs `run` with a fresh signal that aborts when any of `signals` does, and
 * drops its listeners on them when `run` settles, so listeners that
 * downstream code leaves on the fresh signal go away with it. When the fresh
 * signal aborted, its reason is thrown rather than what `run` made of the
 * abort (downstream code reports a plain cancel; the reason says why).
 */
export async function withLinkedSignal<T>(
  signals: readonly AbortSignal[],
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const listeners = signals.map((signal) => {
    const abort = () => controller.abort(signal.reason);
    if (signal.aborted) abort();
    signal.addEventListener("abort", abort, { once: true });
    return () => signal.removeEventListener("abort", abort);
  });
  try {
    return await run(controller.signal);
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    for (const remove of listeners) remove();
  }
}
