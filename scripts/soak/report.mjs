// The soak's printed report: outcome counts, crash spread, the start/end/delta table and
// leftover processes. Everything goes to stdout.

/** Bytes as MiB with one decimal, e.g. "24.8". */
export function mib(bytes) {
  return (bytes / 2 ** 20).toFixed(1);
}

/** `text` (default: `n`) with a leading "+" when `n` is positive. */
export function signed(n, text = String(n)) {
  return n > 0 ? `+${text}` : text;
}

/** A markdown table of two {@link measure} results (from proc.mjs) and their deltas. */
export function printTable(start, end) {
  const rows = [
    ["fds", start.fds.total, end.fds.total],
    ["  sockets", start.fds.socket, end.fds.socket],
    ["  pipes", start.fds.pipe, end.fds.pipe],
    ["  other", start.fds.other, end.fds.other],
    ["child processes", start.children.length, end.children.length],
    ["zombies", start.zombies.length, end.zombies.length],
    ["guardian", start.guardian.length, end.guardian.length],
  ].map(([name, a, b]) => [name, a, b, signed(b - a)]);
  for (const [name, key] of [
    ["heap used MiB", "heap"],
    ["rss MiB", "rss"],
  ]) {
    rows.push([
      name,
      mib(start[key]),
      mib(end[key]),
      signed(end[key] - start[key], mib(end[key] - start[key])),
    ]);
  }
  console.log("\n| metric | start | end | delta |\n|---|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
}

/** One line per RPC outcome key (label, code, reason) with its count, sorted by key. */
export function printOutcomes(phase, outcomes) {
  console.log(`outcomes (${phase}):`);
  for (const [key, count] of Object.entries(outcomes).sort()) {
    console.log(`  ${String(count).padStart(6)}  ${key}`);
  }
}

/** How the crash cycles spread over session ids, with the three most crashed. */
export function printCrashSpread(crashCycles) {
  const counts = Object.entries(crashCycles).sort(([, a], [, b]) => b - a);
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  const top = counts.slice(0, 3).map(([id, n]) => `${id} ${n}`);
  console.log(`crash cycles: ${total} on ${counts.length} session ids; most: ${top.join(", ")}`);
}

/** One line per child process or zombie still present in a measurement. */
export function printLeftovers(end) {
  for (const p of [...end.children, ...end.zombies]) {
    console.log(`leftover pid ${p.pid} state ${p.state}: ${p.cmdline || "(no cmdline)"}`);
  }
}
