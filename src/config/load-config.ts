import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { configSchema, hostSchema, logLevelSchema, portSchema } from "./schema.js";
import type { Config } from "./types.js";

/**
 * The configuration cannot be used. `problems` holds one line per problem,
 * `<dotted.key.path>: <problem>` (an env variable or CLI flag takes the
 * place of the path for overrides); the message lists them all and names
 * `file` when there is one.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  readonly file: string | undefined;

  constructor(problems: readonly string[], file?: string) {
    const where = file === undefined ? "invalid configuration" : `invalid config file ${file}`;
    super(`${where}:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.problems = problems;
    this.file = file;
  }
}

/** Where loadConfig reads from. */
export interface LoadConfigOptions {
  /** A YAML or JSON file; absent means every default. */
  readonly file?: string;
  /** Defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Command-line values; they beat env, which beats the file. */
  readonly overrides?: { readonly host?: string; readonly port?: number };
}

/**
 * Reads, validates and merges the configuration. Env overrides are
 * `MCP_CLIENT_SERVER_HOST`, `MCP_CLIENT_SERVER_PORT` and
 * `MCP_CLIENT_SERVER_LOG_LEVEL` (an empty value counts as unset). Rejects
 * with ConfigError listing every problem found, including an unreadable
 * file or a YAML/JSON syntax error.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const { file, env = process.env, overrides = {} } = options;
  const raw = file === undefined ? {} : await readConfigFile(file);
  const problems: string[] = [];
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap(describeIssue));

  const pick = <T>(name: string, schema: z.ZodType<T>, value: unknown): T | undefined => {
    if (value === undefined) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    problems.push(...result.error.issues.map((issue) => `${name}: ${issue.message}`));
    return undefined;
  };
  const fromEnv = (name: string) => (env[name] === "" ? undefined : env[name]);
  const host =
    pick("--host", hostSchema, overrides.host) ??
    pick("MCP_CLIENT_SERVER_HOST", hostSchema, fromEnv("MCP_CLIENT_SERVER_HOST"));
  const port =
    pick("--port", portSchema, overrides.port) ??
    pick("MCP_CLIENT_SERVER_PORT", portSchema, portFromText(fromEnv("MCP_CLIENT_SERVER_PORT")));
  const level = pick(
    "MCP_CLIENT_SERVER_LOG_LEVEL",
    logLevelSchema,
    fromEnv("MCP_CLIENT_SERVER_LOG_LEVEL"),
  );

  if (!parsed.success || problems.length > 0) throw new ConfigError(problems, file);
  const config = parsed.data;
  return {
    ...config,
    server: {
      ...config.server,
      host: host ?? config.server.host,
      port: port ?? config.server.port,
    },
    log: { ...config.log, level: level ?? config.log.level },
  };
}

// Digits only: Number() would also accept " 8080", "0x1F90" and "1e3".
function portFromText(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError([`cannot read file: ${describeReadError(error)}`], file);
  }
  // JSON is YAML 1.2, so one parser serves both whatever the file is called.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => `syntax error: ${error.message.split("\n")[0]}`),
      file,
    );
  }
  try {
    return doc.toJS();
  } catch (error) {
    // toJS throws on alias bombs (maxAliasCount) and similar abuse.
    throw new ConfigError([`cannot read file: ${(error as Error).message}`], file);
  }
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return error instanceof Error ? error.message : String(error);
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`);
  }
  if (issue.code === "invalid_key") {
    return issue.issues.map((inner) => `${formatPath(issue.path)}: ${inner.message}`);
  }
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

/** `["mcpServers", "gh", "args", 1]` -> `mcpServers.gh.args[1]`; odd keys are quoted. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[\w-]+$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === "" ? "(root)" : out;
}
