// What a service process costs, read from Linux's /proc and from its GET /metrics: CPU time and
// resident memory of the service and of its whole process tree (stdio MCP servers, the
// guardian), and Prometheus counters. Linux only; every reader returns 0 or undefined for a
// process that has gone rather than throwing, since children come and go while we read.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 when unknown). */
export const clockTicks = (() => {
  const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const ticks = Number.parseInt(out.stdout ?? "", 10);
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

/**
 * `{ ppid, cpuMs, childCpuMs }` of one process from /proc/<pid>/stat: `cpuMs` is its own
 * utime+stime, `childCpuMs` the cutime+cstime of the children it has reaped. Undefined when the
 * process is gone.
 */
export function readStat(pid) {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // comm (field 2) may hold spaces and parentheses: the fields we want follow the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n) => Number(fields[n - 3]);
  const toMs = (ticks) => (ticks * 1000) / clockTicks;
  return {
    ppid: field(4),
    cpuMs: toMs(field(14) + field(15)),
    childCpuMs: toMs(field(16) + field(17)),
  };
}

/** The pids of every live descendant of `pid` (children, grandchildren, ...), in no order. */
export function descendants(pid) {
  const children = new Map();
  for (const name of safeReaddir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(name);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(name));
    children.set(stat.ppid, list);
  }
  const out = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift();
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

/**
 * CPU milliseconds the process tree under `pid` has used so far: for `pid` and each live
 * descendant, its own time plus that of the children it reaped. A process that exited and was
 * reaped is thus counted in its parent; one reaped while we walk may be missed or counted
 * twice, so read when the tree is quiet.
 */
export function treeCpuMs(pid) {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) {
    const stat = readStat(p);
    if (stat !== undefined) total += stat.cpuMs + stat.childCpuMs;
  }
  return total;
}

/** Resident set size of one process in bytes (VmRSS), 0 when it is gone. */
export function rssBytes(pid) {
  return statusKiB(pid, "VmRSS") * 1024;
}

/**
 * Memory of the tree under `pid`: `{ rssBytes, childRssBytes, childPssBytes, children }` where
 * `rssBytes` is the process's own VmRSS, `childRssBytes` the sum of its descendants' VmRSS (which
 * counts shared pages, such as the node binary, once per process) and `childPssBytes` the sum of
 * their proportional set sizes (shared pages split between the processes that map them; NaN when
 * smaps_rollup cannot be read).
 */
export function treeMemory(pid) {
  const kids = descendants(pid);
  let childRss = 0;
  let childPss = 0;
  for (const kid of kids) {
    childRss += statusKiB(kid, "VmRSS") * 1024;
    const rollup = readText(`/proc/${kid}/smaps_rollup`);
    const match = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
    childPss += match === null ? Number.NaN : Number(match[1]) * 1024;
  }
  return {
    rssBytes: rssBytes(pid),
    childRssBytes: childRss,
    childPssBytes: childPss,
    children: kids.length,
  };
}

/**
 * Scrapes `GET <url>/metrics` (Prometheus text) into a Map from series (`name{labels}` exactly
 * as written, or `name`) to its value. Rejects on a non-200 answer.
 */
export async function scrapeMetrics(url) {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET ${url}/metrics answered ${response.status}`);
  const series = new Map();
  for (const line of (await response.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/**
 * The sum of the series of metric `name` whose labels include every `labels` pair (all of them
 * when `labels` is empty); 0 when none.
 */
export function metricSum(series, name, labels = {}) {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let sum = 0;
  for (const [key, value] of series) {
    const brace = key.indexOf("{");
    if ((brace === -1 ? key : key.slice(0, brace)) !== name) continue;
    if (wanted.every((pair) => key.includes(pair))) sum += value;
  }
  return sum;
}

/**
 * The values of metric `name` by the value of its label `label`, e.g. credential checks by
 * outcome: `{ ok: 40, CREDENTIALS_REJECTED: 400 }`.
 */
export function metricByLabel(series, name, label) {
  const out = {};
  const pattern = new RegExp(`[{,]${label}="([^"]*)"`);
  for (const [key, value] of series) {
    if (!key.startsWith(`${name}{`)) continue;
    const match = pattern.exec(key);
    if (match !== null) out[match[1]] = (out[match[1]] ?? 0) + value;
  }
  return out;
}

/** `after - before` per key of two metricByLabel results, keeping non-zero differences only. */
export function diffCounts(before, after) {
  const out = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const delta = (after[key] ?? 0) - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

function statusKiB(pid, key) {
  const text = readText(`/proc/${pid}/status`);
  const match = text === undefined ? null : new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
  return match === null ? 0 : Number(match[1]);
}

function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function safeReaddir(path) {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/**
 * Polls `GET <url>/metrics` every 50 ms until metric `name` (summed over its series) satisfies
 * `test`; resolves with that value, rejects after `timeoutMs` (default 20 s) naming the last one.
 */
export async function waitForMetric(url, name, test, timeoutMs = 20_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = metricSum(await scrapeMetrics(url), name);
    if (test(value)) return value;
    if (performance.now() > deadline)
      throw new Error(`${name} still ${value} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
