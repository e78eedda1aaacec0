// Cold start: what a user waits for before the first tool result of a NEW session -- Init
// (credential check against the user API, starting the session's MCP server) plus the first
// CallTool (which lists the server's tools first) -- for the built-in server (in process) and for
// the same server as a stdio child (`node dist/src/builtin/stdio-main.js`, which registers the
// same tools, `echo` included). Sessions are opened one after another, each with a new id, from a
// separate load process (mode "cold-start"); their CloseSession is not timed. The Init alone is
// measured on other new sessions, in load processes taking turns with the first case. Baseline:
// the built-in server's row.
import { stdioBuiltinServers } from "../lib/stdio-builtin.mjs";

const tool = "echo";
const toolArguments = { text: "cold" };

/** The scenario's title in the report. */
export const title = "Cold start: Init to first tool call";

/** Runs the cold-start scenario; see the file comment. */
export async function run({
  quick,
  root,
  startService,
  startUserApi,
  makeJwt,
  runLoad,
  stats,
  log,
}) {
  // Per load process: sessions timed (serial) after unrecorded warm-up sessions (client JIT,
  // first requests on the connection). Every case runs in `rounds` load processes, alternated
  // with the other cases, so that drift of a shared machine hits all of them alike.
  const rounds = quick ? 2 : 4;
  const perRound = {
    builtin: quick ? { calls: 20, warmup: 5 } : { calls: 75, warmup: 10 },
    stdio: quick ? { calls: 4, warmup: 1 } : { calls: 10, warmup: 2 },
  };
  const kinds = {
    builtin: { builtin: { type: "builtin" } },
    stdio: stdioBuiltinServers(root),
  };
  const cases = [
    { label: "Init + first CallTool", prefix: "cold", initOnly: false },
    { label: "Init", prefix: "init", initOnly: true },
  ];

  const api = await startUserApi();
  const jwt = makeJwt("cold-start");
  const services = {};
  for (const [kind, mcpServers] of Object.entries(kinds))
    services[kind] = await startService({ name: `cold-start-${kind}`, mcpServers });

  // "<kind> <label>" -> { latencies, errors }, filled round by round.
  const samples = new Map();
  for (let round = 0; round < rounds; round++) {
    const flip = (list) => (round % 2 === 0 ? list : [...list].reverse());
    for (const kind of flip(Object.keys(kinds))) {
      for (const { label, prefix, initOnly } of flip(cases)) {
        const result = await runLoad({
          mode: "cold-start",
          target: {
            url: services[kind].url,
            apiUrl: api.apiUrl,
            jwt,
            sessionPrefix: `${prefix}-r${round}`,
            tool,
            arguments: toolArguments,
            initOnly,
          },
          concurrency: 1,
          ...perRound[kind],
        });
        const name = `${kind} ${label}`;
        const entry = samples.get(name) ?? { latencies: [], errors: {} };
        entry.latencies.push(...result.latenciesMs);
        for (const [reason, n] of Object.entries(result.errors))
          entry.errors[reason] = (entry.errors[reason] ?? 0) + n;
        samples.set(name, entry);
      }
    }
  }

  const rows = [];
  for (const { label } of cases) {
    for (const kind of Object.keys(kinds)) {
      const name = `${kind} ${label}`;
      const { latencies, errors } = samples.get(name);
      const medianMs = stats.median(latencies);
      const p99Ms = stats.p99(latencies);
      log(`${name}: median ${medianMs} ms, p99 ${p99Ms} ms over ${latencies.length} sessions`);
      rows.push({
        name,
        medianMs,
        p99Ms,
        ...(kind === "builtin" ? {} : { baseline: `builtin ${label}` }),
        ...(Object.keys(errors).length > 0 ? { errors } : {}),
      });
    }
  }
  await Promise.all(Object.values(services).map((service) => service.stop()));
  await api.stop();

  const median = (name) => rows.find((row) => row.name === name)?.medianMs ?? Number.NaN;
  const firstCall = Object.keys(kinds)
    .map((kind) => {
      const ms = median(`${kind} Init + first CallTool`) - median(`${kind} Init`);
      return `${kind} ${Number.isFinite(ms) ? ms.toFixed(2) : "-"} ms`;
    })
    .join(", ");
  return {
    rows,
    notes: [
      `${rounds * perRound.builtin.calls} built-in and ${rounds * perRound.stdio.calls} stdio ` +
        `sessions per case, one at a time, each with a new session id, in ${rounds} load processes ` +
        "per case taking turns with the other cases (each after its own warm-up sessions, " +
        `${perRound.builtin.warmup} built-in / ${perRound.stdio.warmup} stdio); gRPC over h2c on ` +
        "one HTTP/2 connection per load process.",
      "Timed: from sending Init to receiving the first tool result (or the Init response alone). " +
        "A stdio Init includes starting a node process and the MCP initialize handshake.",
      `First tool: the built-in \`${tool}\` (no call to the user API); the first CallTool of a ` +
        "session lists the server's tools before calling.",
      "Sessions stay open until their load process ends and are then closed, untimed.",
      `What the first CallTool adds, as the difference of the two cases' medians: ${firstCall} ` +
        "(different sessions: a small or negative figure is within the noise).",
      `With fewer than 100 sessions the p99 is the slowest session (nearest rank).`,
    ],
  };
}
