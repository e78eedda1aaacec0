// Scale: what each concurrent session costs in resident memory, and whether CallTool latency
// stays flat as the number of sessions grows (the session lookup should be O(1)).
//
// Built-in server: one service grows to 100, 1,000 and 10,000 sessions ("scale-{i}", Init at
// concurrency 32). At each size: the service's RSS (VmRSS) minus its RSS after start-up and
// warm-up, per session; and CallTool `echo` on sessions picked at random among all of them.
// Stdio server: a second service whose one server is the built-in one as a stdio child grows to
// 10 and 100 sessions; its memory is the service's RSS plus that of all its descendants.

import {
  metricSum,
  rssBytes,
  scrapeMetrics,
  treeMemory,
  waitForMetric,
} from "../lib/proc-stats.mjs";
import { stdioBuiltinServers } from "../lib/stdio-builtin.mjs";

/** The scenario's title in the report. */
export const title = "Scale: memory per session and CallTool p99";

const activeSessions = "mcp_client_server_active_sessions";
const heapUsed = "nodejs_heap_size_used_bytes";
const KiB = 1024;
const MiB = 1024 * 1024;
// 10,000 sessions are skipped when the 1,000-session step's Init rate says they would take longer.
const maxProjectedInitMs = 90_000;

/** Runs the scale scenario; see the file comment. */
export async function run(ctx) {
  const { quick, log } = ctx;
  const sizes = quick ? [100, 1_000] : [100, 1_000, 10_000];
  const stdioSizes = quick ? [10] : [10, 100];
  const api = await ctx.startUserApi();
  const jwt = ctx.makeJwt("scale");
  const builtin = await builtinSessions(ctx, api, jwt, sizes);
  const stdio = await stdioSessions(ctx, api, jwt, stdioSizes);
  await api.stop();

  const [first] = builtin.rows;
  const rows = [...builtin.rows, ...stdio.rows];
  const grown = builtin.rows.slice(1).map((row) => row.name);
  log(`done: ${rows.map((row) => `${row.name} ${row.value} ${row.unit}`).join("; ")}`);
  return {
    rows,
    notes: [...builtin.notes, ...stdio.notes],
    target: {
      text: `CallTool p99 at every larger size within 1.5x of at ${first.name} (ratio column: p99)`,
      rows: grown,
      maxRatio: 1.5,
    },
  };
}

async function builtinSessions({ quick, startService, runLoad, log }, api, jwt, sizes) {
  const initLanes = 32;
  const callLanes = 8;
  // A p99 is the 100th slowest of 10,000 calls: fewer make it one scheduling hiccup away.
  const calls = quick ? 1_000 : 10_000;
  const warmupCalls = quick ? 200 : 1_000;
  const warmSessions = 32;
  const service = await startService({ name: "scale" });
  const initTarget = (prefix, offset) => ({
    url: service.url,
    rpc: "Init",
    request: { session_id: `${prefix}-{i}`, api_url: api.apiUrl, jwt_token: jwt },
    offset,
  });
  const callTarget = (prefix, pick) => ({
    url: service.url,
    rpc: "CallTool",
    request: { session_id: `${prefix}-{i}`, name: "echo", arguments: { text: "scale" } },
    headers: { authorization: `Bearer ${jwt}` },
    pick,
  });
  const grow = async (prefix, offset, count) => {
    const result = await runLoad({
      mode: "grpc-sessions",
      target: initTarget(prefix, offset),
      concurrency: initLanes,
      calls: count,
    });
    if (result.ok !== count) throw new Error(`Init failed: ${JSON.stringify(result.errors)}`);
    return result;
  };

  // Warm-up: sessions that stay (they are part of the baseline), and calls on them for the JIT.
  await grow("warm", 0, warmSessions);
  await runLoad({
    mode: "grpc-sessions",
    target: callTarget("warm", warmSessions),
    concurrency: callLanes,
    calls: 2 * warmupCalls,
  });
  const baseRss = rssBytes(service.pid);
  const baseHeap = metricSum(await scrapeMetrics(service.url), heapUsed);
  log(`baseline after warm-up: RSS ${(baseRss / MiB).toFixed(1)} MiB`);

  const rows = [];
  const notes = [];
  let have = 0;
  let initRate;
  for (const size of sizes) {
    const label = `${size.toLocaleString("en-US")} sessions`;
    const projectedMs = initRate === undefined ? 0 : ((size - have) / initRate) * 1000;
    if (projectedMs > maxProjectedInitMs) {
      notes.push(
        `${label} skipped: at the ${have.toLocaleString("en-US")}-session step's Init rate ` +
          `(${Math.round(initRate)}/s) the ${size - have} more Inits would take ` +
          `${(projectedMs / 1000).toFixed(0)} s, over the ${maxProjectedInitMs / 1000} s this scenario allows them.`,
      );
      continue;
    }
    const added = size - have;
    const growth = await grow("scale", have, added);
    initRate = (added * 1000) / growth.wallMs;
    const growSeconds = growth.wallMs / 1000;
    have = size;
    // Memory is read before the calls: their garbage, not yet collected, is no session's cost.
    const rss = rssBytes(service.pid);
    const heap = metricSum(await scrapeMetrics(service.url), heapUsed);
    const perSession = (rss - baseRss) / size;
    const heapPerSession = (heap - baseHeap) / size;
    const result = await runLoad({
      mode: "grpc-sessions",
      target: callTarget("scale", size),
      concurrency: callLanes,
      calls,
      warmup: warmupCalls,
    });
    const active = metricSum(await scrapeMetrics(service.url), activeSessions);
    const { medianMs, p99Ms, callsPerSec } = result.summary;
    log(
      `${label}: grew in ${growSeconds.toFixed(1)} s (${Math.round(initRate)} Inits/s), ` +
        `RSS ${(rss / MiB).toFixed(1)} MiB = ${(perSession / KiB).toFixed(1)} KiB/session ` +
        `(heap ${(heapPerSession / KiB).toFixed(1)} KiB/session), active ${active}, ` +
        `CallTool median ${medianMs} ms, p99 ${p99Ms} ms, errors ${JSON.stringify(result.errors)}`,
    );
    if (active !== size + warmSessions)
      notes.push(`${label}: active_sessions read ${active}, expected ${size + warmSessions}.`);
    const base = rows[0];
    rows.push({
      name: label,
      medianMs,
      p99Ms,
      callsPerSec,
      value: Math.round(perSession / KiB),
      unit: "KiB RSS/session",
      ...(base === undefined ? {} : { baseline: base.name, ratio: p99Ms / base.p99Ms }),
      ...(Object.keys(result.errors).length > 0 ? { errors: result.errors } : {}),
    });
    notes.push(
      `${label}: service RSS ${(rss / MiB).toFixed(0)} MiB (baseline ${(baseRss / MiB).toFixed(0)} MiB), ` +
        `V8 heap used ${(heapPerSession / KiB).toFixed(1)} KiB/session; ` +
        `its ${added.toLocaleString("en-US")} new Inits ran at ${Math.round(initRate)}/s (${growSeconds.toFixed(1)} s).`,
    );
  }
  notes.push(
    `Built-in server: sessions grown by Init at concurrency ${initLanes}; at each size ${calls} CallTool ` +
      `\`echo\` calls (after ${warmupCalls} warm-up) at concurrency ${callLanes}, each on a session picked at ` +
      `random among all of them. Baseline RSS after start-up and ${warmSessions} warm-up sessions (which stay ` +
      "open); RSS and heap are read once the sessions are open and before the calls, without forcing a GC, " +
      "so garbage of the Inits still counts: the 100-session figure is mostly noise.",
  );
  await service.stop();
  return { rows, notes };
}

async function stdioSessions({ root, startService, runLoad, log }, api, jwt, sizes) {
  const initLanes = 4;
  const service = await startService({
    name: "scale-stdio",
    mcpServers: stdioBuiltinServers(root),
  });
  const init = async (prefix, offset, count) => {
    const result = await runLoad({
      mode: "grpc-sessions",
      target: {
        url: service.url,
        rpc: "Init",
        request: { session_id: `${prefix}-{i}`, api_url: api.apiUrl, jwt_token: jwt },
        offset,
      },
      concurrency: initLanes,
      calls: count,
    });
    if (result.ok !== count) throw new Error(`Init failed: ${JSON.stringify(result.errors)}`);
    return result;
  };

  // Warm-up: one session opened, used and closed, which also starts the guardian process.
  await init("stdio-warm", 0, 1);
  await runLoad({
    mode: "grpc",
    target: {
      url: service.url,
      rpc: "CloseSession",
      request: { session_id: "stdio-warm-0" },
      headers: { authorization: `Bearer ${jwt}` },
    },
    calls: 1,
  });
  await waitForMetric(service.url, "mcp_client_server_child_processes", (n) => n === 0);
  const base = treeMemory(service.pid);
  const baseTotal = base.rssBytes + base.childRssBytes;

  const rows = [];
  const notes = [];
  let have = 0;
  for (const size of sizes) {
    const growth = await init("stdio", have, size - have);
    have = size;
    const now = treeMemory(service.pid);
    const perSession = (now.rssBytes + now.childRssBytes - baseTotal) / size;
    const pssPerSession = (now.childPssBytes - base.childPssBytes) / size;
    const servicePerSession = (now.rssBytes - base.rssBytes) / size;
    log(
      `stdio ${size} sessions: grew in ${(growth.wallMs / 1000).toFixed(1)} s, ${now.children} descendants, ` +
        `${(perSession / MiB).toFixed(1)} MiB RSS/session (service ${(servicePerSession / MiB).toFixed(2)}), ` +
        `children PSS ${(pssPerSession / MiB).toFixed(1)} MiB/session`,
    );
    rows.push({
      name: `stdio ${size} sessions`,
      value: Math.round((perSession / MiB) * 10) / 10,
      unit: "MiB RSS/session",
    });
    notes.push(
      `stdio ${size} sessions: ${now.children} processes under the service (one server per session ` +
        `and the guardian); per session ${(perSession / MiB).toFixed(1)} MiB RSS, of which ` +
        `${(servicePerSession / MiB).toFixed(2)} MiB in the service; by PSS (shared pages such as ` +
        `node's code split between the processes that map them) the servers take ${(pssPerSession / MiB).toFixed(1)} MiB each.`,
    );
  }
  notes.push(
    `Stdio server: the built-in server as \`node dist/src/builtin/stdio-main.js\`, sessions grown by Init ` +
      `at concurrency ${initLanes}; memory is the service's VmRSS plus the VmRSS of every descendant ` +
      "(walked through /proc), minus the same after start-up and one warm-up session.",
  );
  await service.stop();
  return { rows, notes };
}
