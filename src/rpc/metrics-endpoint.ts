import type { Registry } from "prom-client";
import type { Caller, CallerCredentials } from "../auth/caller-auth.js";
import type { Logger } from "../log/logger.js";
import { allowMethods, errorBody, type HttpRoute, send, sendError } from "./http-route.js";
import { requestCredentials } from "./node-caller.js";

/** The path Prometheus scrapes. */
export const metricsPath = "/metrics";

/**
 * `GET /metrics`: the registry in the Prometheus text format
 * (`registry.contentType`). When `authenticate` is given, the caller's
 * `x-api-key` and client certificate are checked as for the RPCs; a refusal
 * answers 401 `{"status":"error","error":"...","error_type":"<REASON>"}`,
 * the shape of `POST /init`'s errors. Another method answers 405
 * `METHOD_NOT_ALLOWED`.
 */
export function createMetricsEndpoint(
  registry: Registry,
  authenticate: ((credentials: CallerCredentials) => Caller) | undefined,
  logger: Logger,
): HttpRoute {
  return async (req, res) => {
    if (!allowMethods(req, res, ["GET"], errorBody("Use GET.", "METHOD_NOT_ALLOWED"))) return;
    try {
      authenticate?.(requestCredentials(req));
      send(req, res, 200, registry.contentType, await registry.metrics());
    } catch (error) {
      sendError(req, res, error, logger, "GET /metrics");
    }
  };
}
