// Writes a benchmark run's results as bench/results/latest.{md,svg,json}: the markdown table per
// scenario, a hand-drawn SVG bar chart of each row's ratio to its baseline, and the raw JSON.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import { formatMs, formatRate, formatRatio, ratio } from "./stats.mjs";

/**
 * The machine a run is on: `{ os, cpuModel, cpuCount, node, totalMemGiB, date, commit, dirty }`.
 * `commit` is `git rev-parse HEAD` in `root` ("unknown" outside git); `dirty` whether the work
 * tree has changes.
 */
export function machineInfo(root) {
  const git = (...args) => {
    try {
      return execFileSync("git", args, {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return undefined;
    }
  };
  const list = cpus();
  return {
    os: `${platform()} ${release()}`,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cpuCount: list.length,
    node: process.version,
    totalMemGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    date: new Date().toISOString(),
    commit: git("rev-parse", "HEAD") ?? "unknown",
    dirty: (git("status", "--porcelain") ?? "") !== "",
  };
}

/**
 * Fills in each row's `ratio` (unless the scenario set one): the row's `medianMs` (or `value`)
 * over its `baseline` row's. Then judges each scenario's `target` (see targetMet). Returns new
 * result objects; the input is not changed.
 */
export function withRatios(results) {
  return results.map((result) => {
    const byName = new Map((result.rows ?? []).map((row) => [row.name, row]));
    const rows = (result.rows ?? []).map((row) => {
      if (row.ratio !== undefined || row.baseline === undefined) return row;
      const base = byName.get(row.baseline);
      const r = ratio(row.medianMs ?? row.value, base?.medianMs ?? base?.value);
      return { ...row, ratio: r };
    });
    const withRows = { ...result, rows };
    return { ...withRows, targetMet: targetMet(withRows) };
  });
}

/**
 * Whether a scenario met its target: `target.met` when the scenario decided itself, else every
 * ratio of `target.rows` (default: every row with a baseline) lies within
 * [`target.minRatio`, `target.maxRatio`]. Undefined when there is no target or nothing to judge.
 */
export function targetMet({ target, rows = [] }) {
  if (target === undefined) return undefined;
  if (typeof target.met === "boolean") return target.met;
  const judged = rows.filter((row) =>
    target.rows ? target.rows.includes(row.name) : row.baseline !== undefined,
  );
  if (judged.length === 0) return undefined;
  return judged.every(
    (row) =>
      Number.isFinite(row.ratio) &&
      (target.maxRatio === undefined || row.ratio <= target.maxRatio) &&
      (target.minRatio === undefined || row.ratio >= target.minRatio),
  );
}

/** Writes latest.md, latest.svg and latest.json to `dir`; returns their paths. */
export function writeReport(results, machine, dir) {
  const judged = withRatios(results);
  mkdirSync(dir, { recursive: true });
  const files = {
    md: join(dir, "latest.md"),
    svg: join(dir, "latest.svg"),
    json: join(dir, "latest.json"),
  };
  writeFileSync(files.md, markdown(judged, machine));
  writeFileSync(files.svg, svg(judged));
  writeFileSync(files.json, `${JSON.stringify({ machine, results: judged }, null, 2)}\n`);
  return files;
}

/** The markdown report. */
export function markdown(results, machine) {
  const lines = [
    "# Benchmark results",
    "",
    `- Date: ${machine.date}`,
    `- Commit: ${machine.commit}${machine.dirty ? " (with uncommitted changes)" : ""}`,
    `- Machine: ${machine.os}, ${machine.cpuCount} x ${machine.cpuModel}, ${machine.totalMemGiB} GiB`,
    `- Node: ${machine.node}`,
    "",
    "Wall-clock figures on a shared machine: compare the ratios within one run, not absolute",
    "numbers across runs. Percentiles are nearest-rank.",
    "",
    "![ratios to baseline](latest.svg)",
  ];
  for (const result of results) {
    lines.push("", `## ${result.title ?? result.scenario}`, "");
    if (result.error) lines.push(`**Crashed:** ${result.error}`, "");
    if (result.target) {
      const verdict = { true: "yes", false: "**no**", undefined: "not judged" }[
        String(result.targetMet)
      ];
      lines.push(`Target: ${describeTarget(result.target)}. Met: ${verdict}.`, "");
    }
    const rows = result.rows ?? [];
    if (rows.length > 0) lines.push(...table(rows));
    const notes = result.notes ?? [];
    if (notes.length > 0) {
      if (lines.at(-1) !== "") lines.push("");
      lines.push(...notes.map((note) => `- ${note}`));
    }
    if (result.elapsedMs !== undefined)
      lines.push("", `_Scenario time: ${(result.elapsedMs / 1000).toFixed(1)} s_`);
  }
  return `${lines.join("\n")}\n`;
}

function describeTarget(target) {
  if (target.text) return target.text;
  const parts = [];
  if (target.minRatio !== undefined) parts.push(`ratio >= ${target.minRatio}x`);
  if (target.maxRatio !== undefined) parts.push(`ratio <= ${target.maxRatio}x`);
  return parts.join(" and ") || "see notes";
}

function table(rows) {
  const has = (key) => rows.some((row) => row[key] !== undefined);
  const columns = [
    ["case", (row) => row.name],
    has("medianMs") && ["median", (row) => formatMs(row.medianMs)],
    has("p99Ms") && ["p99", (row) => formatMs(row.p99Ms)],
    has("callsPerSec") && ["calls/s", (row) => formatRate(row.callsPerSec)],
    has("value") && [
      "value",
      (row) => (row.value === undefined ? "-" : `${row.value} ${row.unit ?? ""}`.trim()),
    ],
    has("ratio") && [
      "ratio",
      (row) =>
        `${formatRatio(row.ratio)}${row.baseline && Number.isFinite(row.ratio) ? ` of ${row.baseline}` : ""}`,
    ],
    has("errors") && ["errors", (row) => formatErrors(row.errors)],
  ].filter(Boolean);
  return [
    `| ${columns.map(([header]) => header).join(" | ")} |`,
    `|${columns.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${columns.map(([, cell]) => cell(row)).join(" | ")} |`),
  ];
}

function formatErrors(errors) {
  const entries = Object.entries(errors ?? {});
  return entries.length === 0 ? "0" : entries.map(([reason, n]) => `${n} ${reason}`).join(", ");
}

/** A horizontal bar chart: one group per scenario, one bar per row with a ratio. */
export function svg(results) {
  const groups = results
    .map((result) => ({
      result,
      rows: (result.rows ?? []).filter((row) => Number.isFinite(row.ratio)),
    }))
    .filter((group) => group.rows.length > 0);
  const width = 760;
  const labelWidth = 300;
  const barArea = width - labelWidth - 70;
  const bar = 18;
  const gap = 6;
  const maxRatio = Math.max(
    1.5,
    ...groups.flatMap(({ result, rows }) => [
      ...rows.map((row) => row.ratio),
      result.target?.maxRatio ?? 0,
    ]),
  );
  const x = (r) => labelWidth + (r / maxRatio) * barArea;
  const parts = [];
  let y = 30;
  for (const { result, rows } of groups) {
    parts.push(
      `<text x="8" y="${y}" font-weight="bold">${escapeXml(result.title ?? result.scenario)}</text>`,
    );
    y += 10;
    const top = y;
    for (const row of rows) {
      const within =
        result.target === undefined ||
        ((result.target.maxRatio === undefined || row.ratio <= result.target.maxRatio) &&
          (result.target.minRatio === undefined || row.ratio >= result.target.minRatio));
      const fill = result.target === undefined ? "#8a94a6" : within ? "#3a9d5d" : "#d0473e";
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + bar - 5}" text-anchor="end">${escapeXml(row.name)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${(x(row.ratio) - labelWidth).toFixed(1)}" height="${bar}" fill="${fill}"/>`,
        `<text x="${(x(row.ratio) + 4).toFixed(1)}" y="${y + bar - 5}">${formatRatio(row.ratio)}</text>`,
      );
      y += bar + gap;
    }
    const line = (r, color, dash) =>
      `<line x1="${x(r).toFixed(1)}" x2="${x(r).toFixed(1)}" y1="${top - 4}" y2="${y - gap + 4}" stroke="${color}"${dash ? ' stroke-dasharray="4 3"' : ""}/>`;
    parts.push(line(1, "#333", false));
    if (result.target?.maxRatio !== undefined)
      parts.push(line(result.target.maxRatio, "#d0473e", true));
    if (result.target?.minRatio !== undefined)
      parts.push(line(result.target.minRatio, "#3a9d5d", true));
    y += 24;
  }
  if (groups.length === 0) parts.push(`<text x="8" y="${y}">No ratios in this run.</text>`);
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${labelWidth}" y="14" fill="#555">ratio to baseline (solid line: 1x; dashed: target)</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

function escapeXml(text) {
  return String(text).replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c],
  );
}
