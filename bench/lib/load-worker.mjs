#!/usr/bin/env node
// The load generator process started by load.mjs. Reads one spec as JSON from stdin (or from
// argv[2]), opens the mode's target, runs `concurrency` lanes that each call mode.call(i, lane)
// back to back until `calls` have started or `durationMs` has passed, and prints one JSON result
// line on stdout (see load.mjs for both shapes). Exits 1, with the reason on stderr, when the
// spec is bad or the mode cannot open its target.
import { text } from "node:stream/consumers";

const maxSamples = 100_000;

const spec = JSON.parse(process.argv[2] ?? (await text(process.stdin)));
const { mode, target, concurrency = 1, calls, durationMs, warmup = 0 } = spec;
if (!/^[a-z0-9-]+$/.test(mode ?? "")) fail(`bad mode ${JSON.stringify(mode)}`);
if (!(concurrency >= 1)) fail("concurrency must be at least 1");
if ((calls === undefined) === (durationMs === undefined))
  fail("give exactly one of calls, durationMs");

const plugin = await import(`./modes/${mode}.mjs`);
const classify = plugin.classify ?? defaultClassify;
const session = await plugin.open(target);

let next = 0;
await phase({ limit: warmup, record: false });
const cpuStart = process.cpuUsage();
const measured = await phase({
  limit: calls === undefined ? Number.POSITIVE_INFINITY : next + calls,
  deadline: durationMs === undefined ? undefined : performance.now() + durationMs,
  record: true,
});
const cpu = process.cpuUsage(cpuStart);
await session.close();

const { latencies, errors, wallMs, started } = measured;
const out = {
  calls: started,
  ok: latencies.length,
  errors,
  wallMs,
  workerCpuMs: (cpu.user + cpu.system) / 1000,
};
if (latencies.length <= maxSamples)
  out.latenciesMs = latencies.map((ms) => Math.round(ms * 1000) / 1000);
else out.histogram = histogram(latencies);
process.stdout.write(`${JSON.stringify(out)}\n`);

/**
 * Runs lanes until `next` reaches `limit` or `deadline` passes. `i` is unique and increasing
 * across warm-up and measurement (warm-up takes the first indices), `lane` is 0..concurrency-1.
 */
async function phase({ limit, deadline, record }) {
  const latencies = [];
  const errors = {};
  let started = 0;
  const begin = performance.now();
  const lane = async (laneIndex) => {
    while (next < limit && (deadline === undefined || performance.now() < deadline)) {
      const i = next++;
      started++;
      const t0 = performance.now();
      try {
        await session.call(i, laneIndex);
        if (record) latencies.push(performance.now() - t0);
      } catch (error) {
        const reason = classify(error);
        errors[reason] = (errors[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, k) => lane(k)));
  return { latencies, errors, started, wallMs: performance.now() - begin };
}

function defaultClassify(error) {
  return String(error?.reason ?? error?.code ?? error?.name ?? "Error");
}

function histogram(latencies) {
  const counts = new Map();
  for (const ms of latencies) {
    const key = Number(ms.toPrecision(3));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => a[0] - b[0]);
}

function fail(message) {
  process.stderr.write(`load-worker: ${message}\n`);
  process.exit(1);
}
