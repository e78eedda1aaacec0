import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../log/logger.js";

// A collector that is down fails every batch: one line a minute says so.
const logIntervalMs = 60_000;

/**
 * Wraps `exporter` so that failed exports are logged at warn, at most once
 * a minute with the count of failures since the last line. Without it the
 * SDK reports them only to the OpenTelemetry diag logger, which is silent.
 */
export function logExportFailures(exporter: SpanExporter, logger: Logger): SpanExporter {
  let lastLoggedAt = Number.NEGATIVE_INFINITY;
  let failures = 0;
  return {
    export(spans, resultCallback) {
      exporter.export(spans, (result: ExportResult) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          failures++;
          const now = performance.now();
          if (now - lastLoggedAt >= logIntervalMs) {
            logger.warn({ err: result.error, failures }, "trace export failed; spans dropped");
            lastLoggedAt = now;
            failures = 0;
          }
        }
        resultCallback(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
