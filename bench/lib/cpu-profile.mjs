// Reads a V8 .cpuprofile (node --cpu-prof) and sums its samples over one time window: busy CPU
// time, self time by package or by function, so two profiles of the same service under two loads
// can be compared per call. Timestamps in a profile are CLOCK_MONOTONIC microseconds, the clock
// of process.hrtime() in any process on the machine, so an orchestrator can set the window.
import { readFileSync } from "node:fs";

// Frames that are not JavaScript work of the process under load.
const idleFrames = new Set(["(idle)"]);

/**
 * Parses `path` and returns `{ samples, byFrame }` for the samples taken in
 * [`fromUs`, `toUs`] (monotonic microseconds): `samples` is `{ totalUs, idleUs, busyUs }`, and
 * `byFrame` maps each sampled node's id to `{ us, frame }`, where `frame` is
 * `{ functionName, url, lineNumber }` (self time only; a sample counts toward the function
 * running at that moment).
 */
export function readWindow(path, fromUs, toUs) {
  const profile = JSON.parse(readFileSync(path, "utf8"));
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFrame = new Map();
  let t = profile.startTime;
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's delta is the time since the previous one: charge it to this sample.
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < fromUs || t > toUs) continue;
    const id = profile.samples[i];
    const frame = frames.get(id);
    totalUs += delta;
    if (idleFrames.has(frame.functionName)) idleUs += delta;
    const entry = byFrame.get(id) ?? { us: 0, frame };
    entry.us += delta;
    byFrame.set(id, entry);
  }
  return { samples: { totalUs, idleUs, busyUs: totalUs - idleUs }, byFrame };
}

/**
 * Where a frame's code lives: `ours:<folder>` for the service's dist/src/<folder>, the package
 * name for node_modules, `node:<module>` for Node's internals, or the V8 pseudo-frame's name
 * ("(garbage collector)", "(program)", ...).
 */
export function groupOf(frame) {
  const { url, functionName } = frame;
  if (url === "") return functionName || "(native)";
  const inModules = url.lastIndexOf("/node_modules/");
  if (inModules !== -1) {
    const parts = url.slice(inModules + "/node_modules/".length).split("/");
    return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const ours = url.indexOf("/dist/src/");
  if (ours !== -1) {
    const rest = url.slice(ours + "/dist/src/".length).split("/");
    return `ours:${rest.length > 1 ? rest[0] : rest[0].replace(/\.js$/, "")}`;
  }
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/").slice(0, 2).join("/")}`;
  return url;
}

/** A frame as `name file:line`, with paths shortened to the package or to dist/src. */
export function frameLabel(frame) {
  const url = frame.url.includes("/node_modules/")
    ? frame.url.slice(frame.url.lastIndexOf("/node_modules/") + 14)
    : frame.url.includes("/dist/src/")
      ? frame.url.slice(frame.url.indexOf("/dist/src/") + 1)
      : frame.url;
  return `${frame.functionName || "(anonymous)"} ${url}:${frame.lineNumber + 1}`;
}

/** Sums `byFrame` by `keyOf(frame)`: a Map from key to microseconds, largest first. */
export function sumBy(byFrame, keyOf) {
  const sums = new Map();
  for (const { us, frame } of byFrame.values()) {
    const key = keyOf(frame);
    sums.set(key, (sums.get(key) ?? 0) + us);
  }
  return new Map([...sums].sort((a, b) => b[1] - a[1]));
}
