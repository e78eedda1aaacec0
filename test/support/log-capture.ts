import type { CreateLoggerOptions, Logger } from "../../src/log/logger.js";
import { createLogger } from "../../src/log/logger.js";

/** A service logger whose JSON lines are kept in memory instead of going to stdout. */
export interface LogCapture {
  readonly logger: Logger;
  /** Every line written so far, raw, in order. */
  readonly lines: readonly string[];
  /** The lines parsed as JSON objects. */
  entries(): Record<string, unknown>[];
  /** All lines as one text, to check what the log must never contain. */
  text(): string;
}

/** createLogger at `level` (default trace) with a capturing destination. */
export function captureLogs(level: CreateLoggerOptions["level"] = "trace"): LogCapture {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line) => void lines.push(line) } });
  return {
    logger,
    lines,
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    text: () => lines.join(""),
  };
}
