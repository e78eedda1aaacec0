import { collectDefaultMetrics, Registry } from "prom-client";

let shared: Registry | undefined;

/**
 * prom-client's default process and Node.js metrics (`process_*`,
 * `nodejs_*`), on a registry of this module's own, created once per process:
 * each `collectDefaultMetrics` call starts a GC observer and an event loop
 * monitor that are never stopped, and these metrics describe the process,
 * not one app. Every app's registry includes them (see Registry.merge).
 */
export function processMetricsRegistry(): Registry {
  if (shared === undefined) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
