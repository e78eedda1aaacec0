// Init cost: what an Init with credentials the user's API rejects costs the service, next to one
// it accepts, on a service whose one MCP server is a real stdio child (the built-in server run as
// `node dist/src/builtin/stdio-main.js`). A valid Init checks the credentials and then spawns
// and handshakes a node process; an invalid one should stop at the check (CREDENTIALS_REJECTED)
// and start nothing.
//
// Per kind: wall time per Init (serial, so no Init waits for another), CPU time per Init of the
// service's whole process tree (the service, its stdio servers and the guardian, read from
// /proc: own utime+stime plus cutime+cstime of reaped children), processes started
// (mcp_server_starts_total) and credential checks by outcome (credential_checks_total), both
// from GET /metrics.

import {
  clockTicks,
  diffCounts,
  metricByLabel,
  metricSum,
  readStat,
  scrapeMetrics,
  treeCpuMs,
  waitForMetric,
} from "../lib/proc-stats.mjs";
import { stdioBuiltinServers } from "../lib/stdio-builtin.mjs";

/** The scenario's title in the report. */
export const title = "Init: invalid versus valid credentials";

const rejected = "Unauthenticated CREDENTIALS_REJECTED";
const starts = "mcp_client_server_mcp_server_starts_total";
const checks = "mcp_client_server_credential_checks_total";
const children = "mcp_client_server_child_processes";

/** Runs the init-cost scenario; see the file comment. */
export async function run({ quick, root, startService, startUserApi, makeJwt, runLoad, log }) {
  // Valid Inits keep their process until the end (at most `validCalls` alive at once: 40 node
  // processes are ~3 GB RSS); invalid ones are cheap, so there are more of them, which keeps
  // their CPU well above the 10 ms resolution of /proc's clock ticks.
  const validCalls = quick ? 10 : 40;
  const invalidCalls = quick ? 100 : 400;
  const concurrency = 1;

  const api = await startUserApi();
  const service = await startService({ name: "init-cost", mcpServers: stdioBuiltinServers(root) });
  const good = makeJwt("init-cost");
  const bad = makeJwt("invalid");
  const init = (prefix, jwt, extra) => ({
    mode: "grpc-sessions",
    target: {
      url: service.url,
      rpc: "Init",
      request: { session_id: `${prefix}-{i}`, api_url: api.apiUrl, jwt_token: jwt },
      ...extra,
    },
    concurrency,
  });
  const closeAll = async (prefix, calls) => {
    const result = await runLoad({
      mode: "grpc",
      target: {
        url: service.url,
        rpc: "CloseSession",
        request: { session_id: `${prefix}-{i}` },
        headers: { authorization: `Bearer ${good}` },
      },
      concurrency: 8,
      calls,
    });
    if (result.ok !== calls)
      throw new Error(`CloseSession failed: ${JSON.stringify(result.errors)}`);
    await waitForMetric(service.url, children, (n) => n === 0);
  };

  // Warm-up: JIT, the guardian (started with the first stdio server) and both paths.
  const warmValid = 3;
  const warmInvalid = 200;
  const warm = await runLoad({ ...init("warm-valid", good), calls: warmValid });
  if (warm.ok !== warmValid) throw new Error(`Init failed: ${JSON.stringify(warm.errors)}`);
  await closeAll("warm-valid", warmValid);
  await runLoad({ ...init("warm-invalid", bad, { expect: rejected }), calls: warmInvalid });

  const idleWindowMs = 1_000;
  const idle0 = treeCpuMs(service.pid);
  await new Promise((resolve) => setTimeout(resolve, idleWindowMs));
  const idleCpuMs = treeCpuMs(service.pid) - idle0;

  const measure = async (label, spec) => {
    const before = await scrapeMetrics(service.url);
    const own0 = readStat(service.pid).cpuMs;
    const tree0 = treeCpuMs(service.pid);
    const result = await runLoad(spec);
    const tree1 = treeCpuMs(service.pid);
    const own1 = readStat(service.pid).cpuMs;
    const after = await scrapeMetrics(service.url);
    const out = {
      result,
      cpuMs: (tree1 - tree0) / spec.calls,
      ownCpuMs: (own1 - own0) / spec.calls,
      starts: metricSum(after, starts) - metricSum(before, starts),
      startsByOutcome: diffCounts(
        metricByLabel(before, starts, "outcome"),
        metricByLabel(after, starts, "outcome"),
      ),
      checks: diffCounts(
        metricByLabel(before, checks, "outcome"),
        metricByLabel(after, checks, "outcome"),
      ),
      childProcesses: metricSum(after, children),
    };
    const { medianMs, p99Ms } = result.summary;
    log(
      `${label}: ${spec.calls} Inits, median ${medianMs} ms, p99 ${p99Ms} ms, ` +
        `${out.cpuMs.toFixed(2)} ms CPU/Init (service ${out.ownCpuMs.toFixed(2)}), ` +
        `starts ${JSON.stringify(out.startsByOutcome)}, checks ${JSON.stringify(out.checks)}, ` +
        `errors ${JSON.stringify(result.errors)}`,
    );
    return out;
  };

  const invalid = await measure("invalid", {
    ...init("cost-invalid", bad, { expect: rejected }),
    calls: invalidCalls,
  });
  const valid = await measure("valid", { ...init("cost-valid", good), calls: validCalls });
  const live = valid.childProcesses;

  const closeCpu0 = treeCpuMs(service.pid);
  await closeAll("cost-valid", validCalls);
  const closeCpuMs = (treeCpuMs(service.pid) - closeCpu0) / validCalls;
  log(`closing ${validCalls} valid sessions: ${closeCpuMs.toFixed(2)} ms CPU per session`);
  await service.stop();
  await api.stop();

  const cpuRatio = invalid.cpuMs / valid.cpuMs;
  const reduction = (1 - cpuRatio) * 100;
  const row = (name, m, extra) => ({
    name,
    medianMs: m.result.summary.medianMs,
    p99Ms: m.result.summary.p99Ms,
    callsPerSec: m.result.summary.callsPerSec,
    value: round(m.cpuMs),
    unit: "ms CPU/Init",
    ...extra,
    ...(Object.keys(m.result.errors).length > 0 ? { errors: m.result.errors } : {}),
  });
  const rows = [
    row("Init valid", valid),
    row("Init invalid", invalid, { baseline: "Init valid", ratio: cpuRatio }),
  ];
  const fmt = (counts) =>
    Object.entries(counts)
      .map(([key, n]) => `${key} ${n}`)
      .join(", ") || "none";
  const notes = [
    `Invalid credentials cost ${reduction.toFixed(1)}% less CPU than valid ones ` +
      `(${round(invalid.cpuMs)} versus ${round(valid.cpuMs)} ms per Init; ratio column: CPU per Init); ` +
      "the original claimed ~90%.",
    `Wall time: an invalid Init takes ${round(invalid.result.summary.medianMs)} ms median, ` +
      `${(invalid.result.summary.medianMs / valid.result.summary.medianMs).toFixed(3)}x the valid one's ` +
      `${round(valid.result.summary.medianMs)} ms.`,
    `CPU of a valid Init: ${round(valid.ownCpuMs)} ms in the service process, ` +
      `${round(valid.cpuMs - valid.ownCpuMs)} ms in its stdio server (node start-up and the MCP handshake); ` +
      `an invalid Init: ${round(invalid.ownCpuMs)} ms in the service.`,
    `Processes started (mcp_server_starts_total): valid ${valid.starts} for ${validCalls} Inits ` +
      `(${fmt(valid.startsByOutcome)}; child_processes gauge ${live} after), ` +
      `invalid ${invalid.starts} for ${invalidCalls} Inits.`,
    `Credential checks by outcome (credential_checks_total): valid ${fmt(valid.checks)}; invalid ${fmt(invalid.checks)}.`,
    `Closing a valid session and reaping its process costs another ${round(closeCpuMs)} ms CPU ` +
      "(not in the per-Init figure).",
    `${validCalls} valid and ${invalidCalls} invalid Inits, each with its own session_id, serial ` +
      `(concurrency ${concurrency}) after a warm-up of ${warmValid} valid and ${warmInvalid} invalid ones; valid sessions ` +
      "stay open until all are measured, then are closed with CloseSession.",
    "CPU is the service's process tree from /proc (utime+stime of the service, its live children " +
      "and, through cutime+cstime, the reaped ones), read before and after each batch, in " +
      `${1000 / clockTicks} ms ticks; the idle tree used ${round(idleCpuMs)} ms in ` +
      `${idleWindowMs} ms before the batches.`,
  ];
  return {
    rows,
    notes,
    target: {
      text: "an Init with invalid credentials costs at least 90% less CPU than a valid one and starts no process",
      met: cpuRatio <= 0.1 && invalid.starts === 0 && valid.starts === validCalls,
    },
  };
}

function round(x) {
  return Math.round(x * 100) / 100;
}
