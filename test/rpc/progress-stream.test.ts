import { describe, expect, it } from "vitest";
import { type ProgressEvent, streamProgress } from "../../src/rpc/progress-stream.js";

type Event = ProgressEvent<number, string>;

async function collect(events: AsyncIterable<Event>): Promise<Event[]> {
  const seen: Event[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

const progress = (value: number): Event => ({ kind: "progress", value });
const result = (value: string): Event => ({ kind: "result", value });
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A call whose progress and outcome the test drives. */
function controlledCall() {
  let report: (progress: number) => void = () => {};
  let settle: { resolve(value: string): void; reject(error: unknown): void } | undefined;
  let callSignal: AbortSignal | undefined;
  const call = (onProgress: (progress: number) => void, signal: AbortSignal) => {
    report = onProgress;
    callSignal = signal;
    return new Promise<string>((resolve, reject) => {
      settle = { resolve, reject };
    });
  };
  return {
    call,
    report: (value: number) => report(value),
    resolve: (value: string) => settle?.resolve(value),
    reject: (error: unknown) => settle?.reject(error),
    signal: () => callSignal,
  };
}

describe("streamProgress", () => {
  it("yields each progress as it is reported, in order, then the result", async () => {
    const c = controlledCall();
    const events = streamProgress(c.call, { signal: new AbortController().signal });
    const first = events.next();
    await tick();
    c.report(1);
    expect(await first).toEqual({ done: false, value: progress(1) });
    const second = events.next();
    c.report(2);
    expect(await second).toEqual({ done: false, value: progress(2) });
    c.report(3);
    c.resolve("done");
    expect(await collect(events)).toEqual([progress(3), result("done")]);
  });

  it("yields only the result for a call that reports no progress", async () => {
    const events = streamProgress<number, string>(async () => "quiet", {
      signal: new AbortController().signal,
    });
    expect(await collect(events)).toEqual([result("quiet")]);
  });

  it("throws the call's error after the progress reported before it, and no result", async () => {
    const c = controlledCall();
    const failure = new Error("server went away");
    const events = streamProgress(c.call, { signal: new AbortController().signal });
    const seen: Event[] = [];
    const done = (async () => {
      for await (const event of events) seen.push(event);
    })();
    await tick();
    c.report(1);
    c.report(2);
    c.reject(failure);
    await expect(done).rejects.toBe(failure);
    expect(seen).toEqual([progress(1), progress(2)]);
  });

  it("throws what a call throws synchronously", async () => {
    const failure = new Error("no such tool");
    const events = streamProgress<number, string>(
      () => {
        throw failure;
      },
      { signal: new AbortController().signal },
    );
    await expect(collect(events)).rejects.toBe(failure);
  });

  it("keeps at most `capacity` events for a slow reader: the oldest go, the latest stays", async () => {
    const c = controlledCall();
    const events = streamProgress(c.call, { signal: new AbortController().signal, capacity: 4 });
    const first = events.next();
    await tick();
    c.report(1);
    expect(await first).toEqual({ done: false, value: progress(1) });
    // The reader is busy: 1000 more arrive before it asks again.
    for (let i = 2; i <= 1001; i++) c.report(i);
    c.resolve("done");
    expect(await collect(events)).toEqual([
      progress(998),
      progress(999),
      progress(1000),
      progress(1001),
      result("done"),
    ]);
  });

  it("with capacity 1 a slow reader gets only the latest progress", async () => {
    const c = controlledCall();
    const events = streamProgress(c.call, { signal: new AbortController().signal, capacity: 1 });
    const first = events.next();
    await tick();
    for (let i = 1; i <= 50; i++) c.report(i);
    expect(await first).toEqual({ done: false, value: progress(50) });
    c.resolve("done");
    expect(await collect(events)).toEqual([result("done")]);
  });

  it("ignores progress reported after the call settled", async () => {
    let report: (progress: number) => void = () => {};
    const events = streamProgress<number, string>(
      async (onProgress) => {
        report = onProgress;
        return "done";
      },
      { signal: new AbortController().signal },
    );
    const first = events.next();
    await tick();
    report(7);
    expect(await first).toEqual({ done: false, value: result("done") });
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });

  it("aborts the call's signal with the caller's reason when the caller aborts", async () => {
    const c = controlledCall();
    const caller = new AbortController();
    const events = streamProgress(c.call, { signal: caller.signal });
    const next = events.next();
    await tick();
    expect(c.signal()?.aborted).toBe(false);
    const reason = new Error("caller left");
    caller.abort(reason);
    expect(c.signal()?.aborted).toBe(true);
    expect(c.signal()?.reason).toBe(reason);
    c.reject(reason);
    await expect(next).rejects.toBe(reason);
  });

  it("starts the call with an aborted signal when the caller already left", async () => {
    const caller = new AbortController();
    caller.abort(new Error("gone"));
    let seen: AbortSignal | undefined;
    const events = streamProgress<number, string>(
      async (_onProgress, signal) => {
        seen = signal;
        signal.throwIfAborted();
        return "never";
      },
      { signal: caller.signal },
    );
    await expect(collect(events)).rejects.toThrow("gone");
    expect(seen?.aborted).toBe(true);
  });

  it("aborts the call when the reader stops before the result, and not after it", async () => {
    const c = controlledCall();
    const events = streamProgress(c.call, { signal: new AbortController().signal });
    const first = events.next();
    await tick();
    c.report(1);
    await first;
    await events.return();
    expect(c.signal()?.aborted).toBe(true);
    // The call's rejection after the abort is handled: no unhandled rejection.
    c.reject(c.signal()?.reason);
    await tick();

    const answered = controlledCall();
    const again = streamProgress(answered.call, { signal: new AbortController().signal });
    const next = again.next();
    await tick();
    answered.resolve("done");
    expect(await next).toEqual({ done: false, value: result("done") });
    await again.return();
    expect(answered.signal()?.aborted).toBe(false);
  });

  it("stops listening to the caller's signal once the stream ends", async () => {
    const caller = new AbortController();
    let callSignal: AbortSignal | undefined;
    const events = streamProgress<number, string>(
      async (_onProgress, signal) => {
        callSignal = signal;
        return "done";
      },
      { signal: caller.signal },
    );
    await collect(events);
    caller.abort(new Error("later"));
    expect(callSignal?.aborted).toBe(false);
  });
});
