import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CredentialCheck } from "../credentials/credential-check.js";
import { reasonOf } from "../errors.js";
import type { AuditEvent, AuditLog } from "../log/audit.js";
import { processMetricsRegistry } from "./process-metrics.js";

/** The prefix of every metric this service defines (prom-client's process metrics keep their names). */
export const metricPrefix = "mcp_client_server_";

// From a cached reuse (milliseconds) to the longest tool timeout (300 s).
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** One finished RPC: labels are bounded enums, never a caller's input. */
export interface RpcObservation {
  /** The service's full name, such as `mcpclient.v1.SessionService`. */
  readonly service: string;
  /** The method's name, such as `Init`. */
  readonly method: string;
  /** The lowercase code name: `ok`, `unauthenticated`, `deadline_exceeded`, ... */
  readonly code: string;
  readonly seconds: number;
}

/** What the gauges read at each scrape. */
export interface MetricSources {
  /** Sessions with live MCP clients. */
  readonly sessions: () => number;
  /** Stdio server processes alive. */
  readonly processes: () => number;
  /** The configured server names, so their series exist from the start. */
  readonly servers: readonly string[];
}

/**
 * The service's Prometheus instruments on a registry of their own (never
 * prom-client's global one), plus prom-client's default process metrics.
 * No label holds a token, a session id, a URL or a tool name: servers come
 * from the config, everything else from fixed sets of codes and reasons.
 */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Counts an RPC and its duration. */
  observeRpc(call: RpcObservation): void;
  /** Counts one MCP server start of one session (`failed` when it did not connect). */
  serverStarted(server: string, outcome: "ok" | "failed"): void;
  /** Wraps a credential check to count its outcomes: `ok` or the error's reason. */
  countCredentialChecks(check: CredentialCheck): CredentialCheck;
  /** Wraps an audit log: closed sessions, lost servers and tool calls are counted too. */
  observeAudit(audit: AuditLog): AuditLog;
}

/** Creates the registry and its instruments; the gauges read `sources` at each scrape. */
export function createServiceMetrics(sources: MetricSources): ServiceMetrics {
  const own = new Registry();
  const registers = [own];
  const name = (suffix: string) => `${metricPrefix}${suffix}`;
  const rpcLabels = ["service", "method", "code"] as const;
  const rpcs = new Counter({
    name: name("rpc_requests_total"),
    help: "RPCs handled (and POST /init as method InitAlias), by service, method and code.",
    labelNames: rpcLabels,
    registers,
  });
  const rpcSeconds = new Histogram({
    name: name("rpc_duration_seconds"),
    help: "RPC handling time in seconds, streams until the handler ends, by service, method and code.",
    labelNames: rpcLabels,
    buckets: durationBuckets,
    registers,
  });
  new Gauge({
    name: name("active_sessions"),
    help: "Sessions with live MCP clients.",
    registers,
    collect() {
      this.set(sources.sessions());
    },
  });
  new Gauge({
    name: name("child_processes"),
    help: "Stdio MCP server processes alive (spawned and not yet reaped).",
    registers,
    collect() {
      this.set(sources.processes());
    },
  });
  const starts = new Counter({
    name: name("mcp_server_starts_total"),
    help: "MCP server starts for a session, by configured server and outcome (ok or failed).",
    labelNames: ["server", "outcome"] as const,
    registers,
  });
  const exits = new Counter({
    name: name("mcp_server_exits_total"),
    help: "MCP servers that went away and ended their session, by configured server and why.",
    labelNames: ["server", "why"] as const,
    registers,
  });
  const credentialChecks = new Counter({
    name: name("credential_checks_total"),
    help: "Credential checks against users' APIs, by outcome: ok or the error reason.",
    labelNames: ["outcome"] as const,
    registers,
  });
  const toolSeconds = new Histogram({
    name: name("tool_call_duration_seconds"),
    help: "Tool calls that reached an MCP server, in seconds, by server and outcome (ok, is_error or the error reason).",
    labelNames: ["server", "outcome"] as const,
    buckets: durationBuckets,
    registers,
  });
  const closed = new Counter({
    name: name("sessions_closed_total"),
    help: "Sessions closed, by why: closed, shutdown, evicted, idle_timeout, max_lifetime or token_expired.",
    labelNames: ["why"] as const,
    registers,
  });
  // Series of known label values start at 0, so that rate() sees their first increase.
  for (const server of sources.servers) {
    for (const outcome of ["ok", "failed"]) starts.inc({ server, outcome }, 0);
  }

  function observe(event: AuditEvent): void {
    switch (event.event) {
      case "session_closed":
        closed.inc({ why: event.why });
        return;
      case "session_lost":
        exits.inc({ server: event.server, why: event.why });
        return;
      case "tool_called":
        toolSeconds.observe(
          { server: event.server, outcome: event.outcome },
          event.duration_ms / 1000,
        );
        return;
    }
  }

  return {
    registry: Registry.merge([processMetricsRegistry(), own]),
    observeRpc({ service, method, code, seconds }) {
      const labels = { service, method, code };
      rpcs.inc(labels);
      rpcSeconds.observe(labels, seconds);
    },
    serverStarted(server, outcome) {
      starts.inc({ server, outcome });
    },
    countCredentialChecks(check) {
      return async (apiUrl, jwtToken, signal) => {
        try {
          await check(apiUrl, jwtToken, signal);
          credentialChecks.inc({ outcome: "ok" });
        } catch (error) {
          credentialChecks.inc({
            outcome: reasonOf(error),
          });
          throw error;
        }
      };
    },
    observeAudit(audit) {
      return (event) => {
        audit(event);
        observe(event);
      };
    },
  };
}
