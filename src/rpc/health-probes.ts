import type { HttpRequest, HttpResponse } from "../app.js";
import { type HealthRegistry, overallHealth } from "../health/health-registry.js";

/** An HTTP endpoint of the `httpRoutes` map in `createApp`. */
type Probe = (req: HttpRequest, res: HttpResponse) => Promise<void>;

/** The liveness probe's path. */
export const livenessPath = "/healthz";
/** The readiness probe's path. */
export const readinessPath = "/readyz";

/**
 * `GET /healthz`: 200 `{"status":"ok"}` while the process can answer at
 * all, draining included. Other methods than GET and HEAD: 405.
 */
export function createLivenessProbe(): Probe {
  return probe(() => [200, "ok"]);
}

/**
 * `GET /readyz`: 200 `{"status":"ready"}` while the whole server is
 * SERVING, 503 `{"status":"not_ready"}` otherwise (from the start of the
 * drain on). Other methods than GET and HEAD: 405.
 */
export function createReadinessProbe(health: HealthRegistry): Probe {
  return probe(() =>
    health.check(overallHealth) === "SERVING" ? [200, "ready"] : [503, "not_ready"],
  );
}

function probe(state: () => [number, string]): Probe {
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(req, res, 405, "method_not_allowed");
    }
    const [status, text] = state();
    send(req, res, status, text);
  };
}

function send(req: HttpRequest, res: HttpResponse, status: number, text: string): void {
  const json = JSON.stringify({ status: text });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    // A probe answer is only true the moment it is given.
    "cache-control": "no-store",
  });
  if (req.method === "HEAD") res.end();
  else res.end(json);
}
