import { type HealthRegistry, overallHealth } from "../health/health-registry.js";
import { allowMethods, type HttpRoute, sendJson } from "./http-route.js";

/** The liveness probe's path. */
export const livenessPath = "/healthz";
/** The readiness probe's path. */
export const readinessPath = "/readyz";

/**
 * `GET /healthz`: 200 `{"status":"ok"}` while the process can answer at
 * all, draining included. Other methods than GET and HEAD: 405.
 */
export function createLivenessProbe(): HttpRoute {
  return probe(() => [200, "ok"]);
}

/**
 * `GET /readyz`: 200 `{"status":"ready"}` while the whole server is
 * SERVING, 503 `{"status":"not_ready"}` otherwise (from the start of the
 * drain on). Other methods than GET and HEAD: 405.
 */
export function createReadinessProbe(health: HealthRegistry): HttpRoute {
  return probe(() =>
    health.check(overallHealth) === "SERVING" ? [200, "ready"] : [503, "not_ready"],
  );
}

function probe(state: () => [number, string]): HttpRoute {
  return async (req, res) => {
    if (!allowMethods(req, res, ["GET", "HEAD"], { status: "method_not_allowed" })) return;
    const [status, text] = state();
    sendJson(req, res, status, { status: text });
  };
}
