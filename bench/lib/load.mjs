// Runs one load spec in a separate node process (load-worker.mjs), so that the service is never
// measured while sharing a CPU scheduler slot with the event loop that drives it, and the
// orchestrator's own work (user API, reporting) stays out of the measured path.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { summarize } from "./stats.mjs";

const workerPath = fileURLToPath(new URL("./load-worker.mjs", import.meta.url));

/**
 * Runs `spec` in a new `node bench/lib/load-worker.mjs` process and resolves with its result:
 *
 *   spec:   { mode, target, concurrency = 1, calls | durationMs, warmup = 0, timeoutMs? }
 *           `mode` names bench/lib/modes/<mode>.mjs; `target` is handed to its open() as is;
 *           `calls` is the total over all lanes; `durationMs` stops starting calls after that
 *           long; `warmup` calls run first (same concurrency) and are not recorded.
 *   result: { calls, ok, errors: { reason: count }, wallMs, latenciesMs?: number[],
 *             histogram?: [ms, count][], workerCpuMs, summary }
 *           latencies are of successful calls only; past 100 000 of them the worker sends a
 *           `histogram` (3 significant digits) instead of `latenciesMs`. `summary` is stats'
 *           summarize(): { n, medianMs, p99Ms, meanMs, minMs, maxMs, callsPerSec }.
 *
 * Failed calls never reject: they are counted in `errors`. Rejects when the worker crashes
 * (mode not found, open() failed, ...) or runs past `timeoutMs` (default: durationMs or
 * 10 min, plus 60 s), naming the worker's stderr.
 */
export function runLoad(spec) {
  const timeoutMs = spec.timeoutMs ?? (spec.durationMs ?? 600_000) + 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [workerPath], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr = (stderr + chunk).slice(-16_384);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0) {
        const how =
          signal === "SIGKILL"
            ? `was killed after ${timeoutMs} ms`
            : `exited with ${code ?? signal}`;
        return reject(new Error(`load worker (${spec.mode}) ${how}: ${stderr.trim()}`));
      }
      try {
        const result = JSON.parse(last);
        resolve({
          ...result,
          summary: summarize(result.latenciesMs ?? result.histogram, result.wallMs),
        });
      } catch {
        reject(new Error(`load worker (${spec.mode}) printed no result: ${stderr.trim()}`));
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

/**
 * Opens `count` sessions on the service at `url` with Inits from a load process, `concurrency`
 * at a time, for `jwt` and `apiUrl`: the session ids are `sessionId` with "{i}" replaced by 0 to
 * count - 1 (a fixed id opens one session). Resolves with the load result; rejects when an Init
 * failed. `timeoutMs` is each Init's deadline (default 30 s).
 */
export async function initSessions({
  url,
  apiUrl,
  jwt,
  sessionId,
  count = 1,
  concurrency = 1,
  timeoutMs,
}) {
  const request = { session_id: sessionId, api_url: apiUrl, jwt_token: jwt };
  const target = { url, rpc: "Init", request, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  const result = await runLoad({ mode: "grpc", target, concurrency, calls: count });
  if (result.ok !== count) throw new Error(`Init failed: ${JSON.stringify(result.errors)}`);
  return result;
}
