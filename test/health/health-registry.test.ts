import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/errors.js";
import {
  createHealthRegistry,
  overallHealth,
  type WatchedStatus,
} from "../../src/health/health-registry.js";

const service = "mcpclient.v1.SessionService";
const newRegistry = () => createHealthRegistry([overallHealth, service]);

/** Whether `next` settles within `ms`: "pending" when it does not. */
async function settled<T>(next: Promise<T>, ms = 50): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([next, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next value of `watch`, or "done" when it ended. */
async function nextOf(watch: AsyncGenerator<WatchedStatus, void>): Promise<WatchedStatus | "done"> {
  const result = await watch.next();
  return result.done ? "done" : result.value;
}

describe("createHealthRegistry", () => {
  it("starts every given name SERVING and refuses other names with SERVICE_NOT_FOUND", () => {
    const health = newRegistry();
    expect(health.check("")).toBe("SERVING");
    expect(health.check(service)).toBe("SERVING");
    expect(Object.fromEntries(health.list())).toEqual({ "": "SERVING", [service]: "SERVING" });
    let thrown: unknown;
    try {
      health.check("no.such.Service");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ServiceError);
    expect((thrown as ServiceError).reason).toBe("SERVICE_NOT_FOUND");
    expect((thrown as ServiceError).errorClass).toBe("not_found");
  });

  it("list() is a snapshot, not a view", () => {
    const health = newRegistry();
    const before = health.list();
    health.set(service, "NOT_SERVING");
    expect(before.get(service)).toBe("SERVING");
    expect(health.list().get(service)).toBe("NOT_SERVING");
  });

  it("shutdown() sets every name NOT_SERVING for good", () => {
    const health = newRegistry();
    health.shutdown();
    health.set(service, "SERVING");
    health.set("late.Service", "SERVING");
    health.shutdown();
    expect(Object.fromEntries(health.list())).toEqual({
      "": "NOT_SERVING",
      [service]: "NOT_SERVING",
    });
  });
});

describe("watch", () => {
  it("yields the current status, then each change, and nothing for a set() that changes nothing", async () => {
    const health = newRegistry();
    const abort = new AbortController();
    const watch = health.watch(service, abort.signal);
    expect(await nextOf(watch)).toBe("SERVING");
    const next = watch.next();
    health.set(service, "SERVING");
    health.set("other.Service", "NOT_SERVING");
    expect(await settled(next)).toBe("pending");
    health.set(service, "NOT_SERVING");
    expect(await next).toEqual({ done: false, value: "NOT_SERVING" });
    health.set(service, "SERVING");
    expect(await nextOf(watch)).toBe("SERVING");
    abort.abort();
    expect(await nextOf(watch)).toBe("done");
  });

  it("gives a slow consumer the latest status only", async () => {
    const health = newRegistry();
    const watch = health.watch(service, new AbortController().signal);
    expect(await nextOf(watch)).toBe("SERVING");
    health.set(service, "NOT_SERVING");
    health.set(service, "SERVING");
    health.set(service, "NOT_SERVING");
    expect(await nextOf(watch)).toBe("NOT_SERVING");
    expect(await settled(watch.next())).toBe("pending");
  });

  it("reports an unknown name as SERVICE_UNKNOWN, stays open, and follows it once it is set", async () => {
    const health = newRegistry();
    const watch = health.watch("later.Service", new AbortController().signal);
    expect(await nextOf(watch)).toBe("SERVICE_UNKNOWN");
    const next = watch.next();
    expect(await settled(next)).toBe("pending");
    health.set("later.Service", "SERVING");
    expect(await next).toEqual({ done: false, value: "SERVING" });
  });

  it("delivers NOT_SERVING at shutdown() and then ends; a later watch ends after its status", async () => {
    const health = newRegistry();
    const whole = health.watch(overallHealth, new AbortController().signal);
    const unknown = health.watch("no.such.Service", new AbortController().signal);
    expect(await nextOf(whole)).toBe("SERVING");
    expect(await nextOf(unknown)).toBe("SERVICE_UNKNOWN");
    const next = whole.next();
    health.shutdown();
    expect(await next).toEqual({ done: false, value: "NOT_SERVING" });
    expect(await nextOf(whole)).toBe("done");
    expect(await settled(nextOf(unknown))).toBe("done");

    const late = health.watch(service, new AbortController().signal);
    expect(await nextOf(late)).toBe("NOT_SERVING");
    expect(await nextOf(late)).toBe("done");
  });

  it("ends a waiting watch when its signal aborts, and yields nothing for an aborted signal", async () => {
    const health = newRegistry();
    const abort = new AbortController();
    const watch = health.watch(service, abort.signal);
    expect(await nextOf(watch)).toBe("SERVING");
    const next = watch.next();
    abort.abort();
    expect(await settled(next)).toEqual({ done: true, value: undefined });
    expect(await nextOf(health.watch(service, abort.signal))).toBe("done");
  });
});
