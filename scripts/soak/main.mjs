#!/usr/bin/env node
// Session lifecycle soak: proves that Init/CallTool/CloseSession cycles leak
// no file descriptors, child processes, zombies or heap. Runs the service
// in-process from dist/ (so its heap is this thread's heap) with a built-in
// and a stdio MCP server (test/mcp/fixtures/stdio-server.mjs), and drives it
// over gRPC (h2c) from a worker thread, which also runs the stand-in user API
// on 127.0.0.1. One cycle is Init -> K CallTools alternating
// `builtin__validate_settings` and `fixture__info` -> CloseSession; every 25th
// cycle also calls `fixture__crash` (expected: UNAVAILABLE MCP_SERVER_EXITED)
// and one more `fixture__info` (any outcome, counted). Every RPC outcome is
// counted by code and ErrorInfo reason; besides those two, only Init refusals
// by the crash budget (UNAVAILABLE MCP_SERVER_BACKOFF / MCP_SERVER_CRASH_LOOP)
// are expected. Measures after a warm-up and again after the last cycle, and
// prints a start/end/delta table and a verdict: PASS (exit 0) when fds grew by
// at most 10, no zombies, no child process left besides the guardian
// (`mcp-client-server-guardian`), heap grew by less than 20 MiB and no RPC
// failed unexpectedly; otherwise FAIL (exit 1). Bad flags exit 2.
//
// Files: main.mjs (this entry: flags, service, phases, verdict), load.mjs (the worker),
// proc.mjs (the /proc measurements), report.mjs (printing), plan.mjs (shared constants).
//
// Usage: npm run soak -- [flags]   (or: node --expose-gc scripts/soak/main.mjs [flags])
//   --cycles N        cycles to measure, after the warm-up (default 2000)
//   --sessions M      distinct session ids, reused round-robin (default 50, at least C)
//   --concurrency C   cycles running at once (default 8)
//   --calls K         CallTools per cycle (default 3)
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { crashEvery, warmupCycles } from "./plan.mjs";
import { measure, processesGone, sampleChildren } from "./proc.mjs";
import {
  mib,
  printCrashSpread,
  printLeftovers,
  printOutcomes,
  printTable,
  signed,
} from "./report.mjs";

await main();

async function main() {
  const options = parseFlags(process.argv.slice(2));
  if (typeof global.gc !== "function") fail("run with node --expose-gc (npm run soak does)");
  const { createApp } = await import("../../dist/src/app.js");
  const { startServer } = await import("../../dist/src/server/server.js");
  const { loadConfig } = await import("../../dist/src/config/load-config.js");
  const { createLogger } = await import("../../dist/src/log/logger.js");

  const defaults = await loadConfig({ env: {} });
  const stdioServer = fileURLToPath(
    new URL("../../test/mcp/fixtures/stdio-server.mjs", import.meta.url),
  );
  const config = {
    ...defaults,
    server: { ...defaults.server, host: "127.0.0.1", port: 0 },
    outbound: { ...defaults.outbound, profile: "development" },
    limits: {
      ...defaults.limits,
      initPerCaller: { burst: 1_000_000, perSecond: 1_000_000 },
      initPerSession: { burst: 1_000_000, perSecond: 1_000_000 },
      maxSessions: Math.max(defaults.limits.maxSessions, options.sessions * 4),
      maxChildProcesses: Math.max(defaults.limits.maxChildProcesses ?? 0, options.sessions * 4),
    },
    // Each crash cycle logs expected warnings with stacks; errors still show.
    log: { level: "error" },
    mcpServers: {
      builtin: { type: "builtin" },
      fixture: { type: "stdio", command: process.execPath, args: [stdioServer], env: {} },
    },
  };
  const logger = createLogger({ level: config.log.level });
  const app = createApp(config, logger);
  const server = await startServer(app, config.server, logger);
  console.log(
    `soak: node ${process.version}, pid ${process.pid}, service ${server.url}, ` +
      `${options.cycles} cycles (+${warmupCycles} warm-up), ${options.sessions} sessions, ` +
      `concurrency ${options.concurrency}, ${options.calls} calls/cycle, crash every ${crashEvery}`,
  );

  const worker = new Worker(new URL("./load.mjs", import.meta.url), {
    workerData: { url: server.url, ...options },
  });
  const inbox = messages(worker);
  const peak = sampleChildren();

  const listed = await inbox.next("tools");
  console.log(`tools: ${listed.names.join(", ")}`);
  if (listed.missing.length > 0) fail(`ListTools lacks ${listed.missing.join(", ")}`);

  worker.postMessage({ type: "run", cycles: warmupCycles });
  const warm = await inbox.next("done");
  const start = await measure();

  worker.postMessage({ type: "run", cycles: options.cycles });
  const run = await inbox.next("done");
  const end = await measure();
  peak.stop();

  worker.postMessage({ type: "stop" });
  await inbox.next("stopped");
  await worker.terminate();
  await server.shutdown();
  const after = await processesGone(3_000);

  const seconds = run.elapsedMs / 1000;
  console.log(
    `\nelapsed ${seconds.toFixed(1)} s, ${run.cycles} cycles, ` +
      `${(run.cycles / seconds).toFixed(1)} cycles/s, peak children ${peak.max()}`,
  );
  printOutcomes("warm-up", warm.outcomes);
  printOutcomes("measured", run.outcomes);
  printCrashSpread(run.crashCycles);
  printTable(start, end);
  console.log(
    `after shutdown (${after.waitedMs} ms): children ${after.children.length}, ` +
      `zombies ${after.zombies.length}, guardian ${after.guardian.length}`,
  );
  printLeftovers(end);

  const fdGrowth = end.fds.total - start.fds.total;
  const heapGrowth = end.heap - start.heap;
  const checks = [
    [`fds ${signed(fdGrowth)} <= +10`, fdGrowth <= 10],
    [`zombies ${end.zombies.length} = 0`, end.zombies.length === 0],
    [`children ${end.children.length} = 0`, end.children.length === 0],
    [`heap ${signed(heapGrowth, mib(heapGrowth))} MiB < 20`, heapGrowth < 20 * 2 ** 20],
    [`unexpected failures ${run.unexpected} = 0`, run.unexpected === 0],
  ];
  const failed = checks.filter(([, ok]) => !ok).map(([what]) => what);
  const verdict = failed.length === 0 ? "PASS" : "FAIL";
  console.log(
    `\n${verdict}: ${(failed.length === 0 ? checks.map(([w]) => w) : failed).join("; ")}`,
  );
  process.exit(failed.length === 0 ? 0 : 1);
}

function parseFlags(argv) {
  const options = { cycles: 2000, sessions: 50, concurrency: 8, calls: 3 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    const name = flag.replace(/^--/, "");
    if (!flag.startsWith("--") || !(name in options)) fail(`unknown argument ${argv[i]}`);
    const value = Number(inline ?? argv[++i]);
    if (!Number.isInteger(value) || value < 1) fail(`${flag} needs a positive integer`);
    options[name] = value;
  }
  if (options.sessions < options.concurrency) fail("--sessions must be at least --concurrency");
  return options;
}

function fail(message) {
  console.error(`soak: ${message}`);
  process.exit(2);
}

// Waits for named messages from the worker; a worker error or exit ends the run.
function messages(worker) {
  const queue = [];
  let waiting;
  worker.on("message", (message) => {
    queue.push(message);
    waiting?.();
  });
  worker.on("error", (error) => {
    console.error("soak: worker failed:", error);
    process.exit(1);
  });
  return {
    async next(type) {
      for (;;) {
        const index = queue.findIndex((m) => m.type === type || m.type === "progress");
        if (index >= 0) {
          const [message] = queue.splice(index, 1);
          if (message.type === type) return message;
          console.log(
            `  ${message.done}/${message.total} cycles, ${message.unexpected} unexpected`,
          );
          continue;
        }
        await new Promise((resolve) => {
          waiting = resolve;
        });
      }
    },
  };
}
