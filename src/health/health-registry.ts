import { ServiceError } from "../errors.js";

/** A registered service's status, as `grpc.health.v1` names it. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/** What a watch reports: a registered service's status, or that the name is not registered. */
export type WatchedStatus = ServingStatus | "SERVICE_UNKNOWN";

/** The name under which the whole server's status is kept. */
export const overallHealth = "";

/** The serving status of the server and of its services, by name. */
export interface HealthRegistry {
  /**
   * The status of `service` (`""` is the whole server). Throws ServiceError
   * `SERVICE_NOT_FOUND` when no service of that name is registered.
   */
  check(service: string): ServingStatus;
  /** A snapshot of every registered service's status. */
  list(): ReadonlyMap<string, ServingStatus>;
  /** Registers `service` or changes its status; watchers see a change. Ignored after shutdown(). */
  set(service: string, status: ServingStatus): void;
  /**
   * Sets every service NOT_SERVING for good: later set() calls are ignored.
   * Every watch, present and future, then delivers NOT_SERVING (or
   * SERVICE_UNKNOWN) and ends, since no change can follow. Idempotent.
   */
  shutdown(): void;
  /**
   * Yields the status of `service` at once (SERVICE_UNKNOWN when it is not
   * registered), then each change. A consumer slower than the changes gets
   * the latest status only. Ends when `signal` aborts, or once it has
   * delivered the status shutdown() set.
   */
  watch(service: string, signal: AbortSignal): AsyncGenerator<WatchedStatus, void>;
}

interface Watcher {
  readonly service: string;
  /** The status not yet yielded. */
  pending: WatchedStatus | undefined;
  /** No status can follow `pending`: the watch ends after it. */
  last: boolean;
  wake: (() => void) | undefined;
}

/** Creates a registry in which each of `services` is SERVING. */
export function createHealthRegistry(services: Iterable<string>): HealthRegistry {
  const statuses = new Map<string, ServingStatus>();
  for (const service of services) statuses.set(service, "SERVING");
  const watchers = new Set<Watcher>();
  let final = false;

  const statusOf = (service: string): WatchedStatus => statuses.get(service) ?? "SERVICE_UNKNOWN";
  const notify = (watcher: Watcher) => {
    watcher.pending = statusOf(watcher.service);
    watcher.last = final;
    watcher.wake?.();
  };

  return {
    check(service) {
      const status = statuses.get(service);
      if (status === undefined) {
        throw new ServiceError("SERVICE_NOT_FOUND", "No service of this name reports its health.");
      }
      return status;
    },
    list: () => new Map(statuses),
    set(service, status) {
      if (final || statuses.get(service) === status) return;
      statuses.set(service, status);
      for (const watcher of watchers) if (watcher.service === service) notify(watcher);
    },
    shutdown() {
      if (final) return;
      for (const service of statuses.keys()) statuses.set(service, "NOT_SERVING");
      final = true;
      for (const watcher of watchers) notify(watcher);
    },
    async *watch(service, signal) {
      const watcher: Watcher = {
        service,
        pending: statusOf(service),
        last: final,
        wake: undefined,
      };
      const wake = () => watcher.wake?.();
      watchers.add(watcher);
      signal.addEventListener("abort", wake);
      try {
        let sent: WatchedStatus | undefined;
        while (!signal.aborted) {
          const next = watcher.pending;
          watcher.pending = undefined;
          if (next !== undefined && next !== sent) {
            sent = next;
            yield next;
          } else if (watcher.last) {
            return;
          } else {
            await new Promise<void>((resolve) => {
              watcher.wake = resolve;
            });
            watcher.wake = undefined;
          }
        }
      } finally {
        watchers.delete(watcher);
        signal.removeEventListener("abort", wake);
      }
    },
  };
}
