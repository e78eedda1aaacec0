#!/usr/bin/env node
// The benchmark suite (`npm run bench`, which builds first). Runs the scenario modules in
// bench/scenarios/ in a fixed order, prints progress and a summary, and writes
// bench/results/latest.{md,svg,json}. The whole run is meant to fit in 10 minutes on 2 cores.
//
// A scenario module exports `title` (string) and `async run(ctx)` returning
// `{ rows, notes?, target? }` (row and target shapes: lib/report.mjs). ctx is
// `{ quick, startService, startUserApi, makeJwt, runLoad, initSessions, stats, log(msg), root,
// budgetMs }`.
// Services and user APIs a scenario leaves running are stopped after it.
//
// Usage: node bench/run.mjs [--only floor,scale] [--quick]
//   --only a,b   run only these scenarios (file names without .mjs)
//   --quick      fewer calls: a smoke run that proves the scenarios work, not a measurement
// Exits 0 when every scenario ran (missed targets included), 1 when one crashed, 2 on bad flags.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { initSessions, runLoad } from "./lib/load.mjs";
import { machineInfo, withRatios, writeReport } from "./lib/report.mjs";
import {
  makeJwt,
  root,
  startService,
  startUserApi as startUserApiProcess,
  stopAllServices,
} from "./lib/service.mjs";
import * as stats from "./lib/stats.mjs";

/** The scenarios in run order; other files in bench/scenarios run after these, by name. */
const order = ["floor", "stdio-overhead", "peer-gateway", "init-cost", "scale", "cold-start"];
const budgetMs = 10 * 60_000;

let options;
try {
  ({ values: options } = parseArgs({
    options: { only: { type: "string" }, quick: { type: "boolean", default: false } },
  }));
} catch (error) {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exit(2);
}

const dir = join(root, "bench/scenarios");
const present = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".mjs"))
      .map((f) => f.slice(0, -4))
  : [];
const all = [...order, ...present.filter((name) => !order.includes(name)).sort()];
const only = options.only
  ?.split(",")
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = (only ?? []).filter((name) => !all.includes(name));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown scenario(s) ${unknown.join(", ")}; known: ${all.join(", ")}\n`,
  );
  process.exit(2);
}
const selected = all.filter((name) => only === undefined || only.includes(name));
const perScenarioMs = Math.floor(budgetMs / Math.max(1, selected.length));

const machine = machineInfo(root);
console.log(
  `bench: ${machine.cpuCount} x ${machine.cpuModel}, node ${machine.node}, commit ${machine.commit.slice(0, 12)}` +
    `${machine.dirty ? "+dirty" : ""}${options.quick ? ", QUICK (smoke run, not a measurement)" : ""}`,
);

const results = [];
let crashed = false;
const runStart = performance.now();
for (const scenario of selected) {
  const file = join(dir, `${scenario}.mjs`);
  if (!existsSync(file)) {
    console.log(`\n[${scenario}] skipped: bench/scenarios/${scenario}.mjs does not exist`);
    results.push({
      scenario,
      title: scenario,
      rows: [],
      notes: ["Skipped: no scenario file yet."],
    });
    continue;
  }
  const mod = await import(file);
  const title = mod.title ?? scenario;
  console.log(`\n[${scenario}] ${title}`);
  const apis = [];
  const ctx = {
    quick: options.quick,
    root,
    budgetMs: perScenarioMs,
    startService,
    startUserApi: async (opts) => {
      const api = await startUserApiProcess(opts);
      apis.push(api);
      return api;
    },
    makeJwt,
    runLoad,
    initSessions,
    stats,
    log: (msg) => console.log(`[${scenario}] ${msg}`),
  };
  const start = performance.now();
  let result;
  try {
    const out = await mod.run(ctx);
    result = {
      scenario,
      title,
      rows: out?.rows ?? [],
      notes: out?.notes ?? [],
      target: out?.target,
    };
  } catch (error) {
    crashed = true;
    console.error(`[${scenario}] CRASHED: ${error?.stack ?? error}`);
    result = { scenario, title, rows: [], notes: [], error: String(error?.message ?? error) };
  } finally {
    await stopAllServices();
    await Promise.all(apis.map((api) => api.stop()));
  }
  result.elapsedMs = performance.now() - start;
  results.push(result);
  const over =
    result.elapsedMs > perScenarioMs
      ? ` (over its ${(perScenarioMs / 1000).toFixed(0)} s share of the budget)`
      : "";
  console.log(`[${scenario}] done in ${(result.elapsedMs / 1000).toFixed(1)} s${over}`);
}
const totalMs = performance.now() - runStart;

const files = writeReport(results, machine, join(root, "bench/results"));
console.log("\nSummary");
for (const result of withRatios(results)) {
  const verdict =
    result.error !== undefined
      ? "CRASHED"
      : result.targetMet === undefined
        ? result.rows.length === 0
          ? "skipped"
          : "no target"
        : result.targetMet
          ? "target met"
          : "target MISSED";
  console.log(`  ${result.scenario.padEnd(16)} ${verdict}`);
  for (const row of result.rows) {
    const parts = [
      row.medianMs !== undefined && `median ${stats.formatMs(row.medianMs)}`,
      row.p99Ms !== undefined && `p99 ${stats.formatMs(row.p99Ms)}`,
      row.callsPerSec !== undefined && stats.formatRate(row.callsPerSec),
      row.value !== undefined && `${row.value} ${row.unit ?? ""}`.trim(),
      Number.isFinite(row.ratio) &&
        `${stats.formatRatio(row.ratio)}${row.baseline ? ` of ${row.baseline}` : ""}`,
    ].filter(Boolean);
    console.log(`    ${row.name.padEnd(34)} ${parts.join(", ")}`);
  }
}
const overall = totalMs > budgetMs ? ` -- OVER the ${budgetMs / 60_000} min budget` : "";
console.log(
  `\nTotal ${(totalMs / 1000).toFixed(1)} s${overall}. Report: ${files.md}, ${files.svg}, ${files.json}`,
);
process.exit(crashed ? 1 : 0);
