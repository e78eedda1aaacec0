#!/usr/bin/env node
// CPU profile of the service under one RPC's load, per call (`npm run bench:profile`, which
// builds first). For each RPC it starts a fresh service with `node --cpu-prof`, opens the session
// the floor scenario uses, runs warm-up calls, then the measured calls from a separate load
// process, and reads only the samples taken while the measured calls ran. It prints busy CPU per
// call, self time per call by package, the difference between the first two RPCs, and the
// functions with the most self time. The .cpuprofile files are kept for Chrome DevTools.
//
// Usage: node bench/profile.mjs [--rpc CallTool,HealthCheck] [--calls 4000] [--concurrency 1]
//                               [--top 15] [--interval 500]
//   --rpc          RPCs to profile, each in its own service: CallTool (built-in `echo`) and
//                  HealthCheck (grpc.health.v1.Health/Check)
//   --calls        measured calls per RPC, after 1000 warm-up calls
//   --concurrency  lanes of the load process
//   --top          functions listed per RPC
//   --interval     sampling interval in microseconds (node --cpu-prof-interval)
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { frameLabel, groupOf, readWindow, sumBy } from "./lib/cpu-profile.mjs";
import { initSessions, runLoad } from "./lib/load.mjs";
import { makeJwt, startService, startUserApi, stopAllServices } from "./lib/service.mjs";

const warmup = 1_000;
let options;
try {
  ({ values: options } = parseArgs({
    options: {
      rpc: { type: "string", default: "CallTool,HealthCheck" },
      calls: { type: "string", default: "4000" },
      concurrency: { type: "string", default: "1" },
      top: { type: "string", default: "15" },
      interval: { type: "string", default: "500" },
    },
  }));
} catch (error) {
  process.stderr.write(`bench:profile: ${error.message}\n`);
  process.exit(2);
}
const rpcs = options.rpc.split(",").filter(Boolean);
const calls = Number(options.calls);
const concurrency = Number(options.concurrency);
const unknown = rpcs.filter((rpc) => rpc !== "CallTool" && rpc !== "HealthCheck");
if (unknown.length > 0 || !(calls > 0) || !(concurrency > 0)) {
  process.stderr.write(
    "bench:profile: --rpc takes CallTool and HealthCheck; --calls and --concurrency are positive\n",
  );
  process.exit(2);
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const perCall = (us) => (us / calls).toFixed(1);

async function profile(rpc) {
  const dir = mkdtempSync(join(tmpdir(), `mcs-profile-${rpc}-`));
  const api = await startUserApi();
  const service = await startService({
    name: `profile-${rpc}`,
    nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${options.interval}`],
  });
  const jwt = makeJwt("profile");
  await initSessions({
    url: service.url,
    apiUrl: api.apiUrl,
    jwt,
    sessionId: "profile-{i}",
    count: concurrency,
  });
  const target =
    rpc === "CallTool"
      ? {
          url: service.url,
          rpc,
          request: { session_id: "profile-{lane}", name: "echo", arguments: { text: "floor" } },
          headers: { authorization: `Bearer ${jwt}` },
        }
      : { url: service.url, rpc, request: { service: "" } };
  await runLoad({ mode: "grpc", target, concurrency, calls: warmup });
  const fromUs = monotonicUs();
  const result = await runLoad({ mode: "grpc", target, concurrency, calls });
  const toUs = monotonicUs();
  // The profile is written when the service exits.
  await service.stop();
  await api.stop();
  const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no profile in ${dir}: ${service.stderr()}`);
  const failed = Object.values(result.errors).reduce((sum, n) => sum + n, 0);
  if (failed > 0) throw new Error(`${failed} calls failed: ${JSON.stringify(result.errors)}`);
  return { rpc, path: join(dir, file), result, ...readWindow(join(dir, file), fromUs, toUs) };
}

const profiles = [];
try {
  for (const rpc of rpcs) profiles.push(await profile(rpc));
} finally {
  await stopAllServices();
}

console.log(
  `${calls} measured calls per RPC at concurrency ${concurrency}, after ${warmup} warm-up calls; sampled every ${options.interval} µs.\n`,
);
for (const p of profiles) {
  const { medianMs } = p.result.summary;
  console.log(
    `${p.rpc}: busy CPU ${perCall(p.samples.busyUs)} µs per call, median latency ${medianMs} ms; ${p.path}`,
  );
}
if (profiles.length >= 2) {
  const [a, b] = profiles;
  console.log(
    `\nBusy CPU per call, ${a.rpc} over ${b.rpc}: ${(a.samples.busyUs / b.samples.busyUs).toFixed(2)}x`,
  );
}

// Self time per call by package, side by side, sorted by the first RPC's difference to the
// second (or by its own time); packages under 0.5 µs per call everywhere are summed as "(rest)".
const groups = profiles.map((p) => sumBy(p.byFrame, groupOf));
const two = profiles.length >= 2;
const usOf = (i, key) => groups[i]?.get(key) ?? 0;
const diff = (key) => usOf(0, key) - usOf(1, key);
const keys = [...new Set(groups.flatMap((g) => [...g.keys()]))].filter((k) => k !== "(idle)");
keys.sort((x, y) => (two ? diff(y) - diff(x) : usOf(0, y) - usOf(0, x)));
const shown = keys.filter((key) => groups.some((_, i) => usOf(i, key) / calls >= 0.5));
const rest = keys.filter((key) => !shown.includes(key));
const header = [
  "self time, µs per call",
  ...profiles.map((p) => p.rpc),
  ...(two ? ["difference"] : []),
];
const row = (label, values) => {
  const cells = values.map(perCall);
  if (two) cells.push(`${values[0] >= values[1] ? "+" : ""}${perCall(values[0] - values[1])}`);
  console.log(`| ${label} | ${cells.join(" | ")} |`);
};
console.log(`\n| ${header.join(" | ")} |\n|${header.map(() => "---").join("|")}|`);
for (const key of shown)
  row(
    key,
    profiles.map((_, i) => usOf(i, key)),
  );
row(
  "(rest)",
  profiles.map((_, i) => rest.reduce((sum, key) => sum + usOf(i, key), 0)),
);
row(
  "**busy**",
  profiles.map((p) => p.samples.busyUs),
);

for (const p of profiles) {
  console.log(`\nTop functions by self time, ${p.rpc} (µs per call):`);
  const top = [...sumBy(p.byFrame, frameLabel)].filter(([label]) => !label.startsWith("(idle)"));
  for (const [label, us] of top.slice(0, Number(options.top))) {
    console.log(`  ${perCall(us).padStart(6)}  ${label}`);
  }
}
