import { type OutboundPolicyConfig, parseOriginPattern } from "../outbound/outbound-policy.js";

/** The built-in server's settings when it runs as its own process. */
export interface BuiltinEnv {
  readonly apiUrl: URL;
  readonly jwtToken: string;
  readonly requestTimeoutMs: number;
  readonly maxResponseBytes: number;
  /** The outbound policy its requests go through, as the service's `outbound` config. */
  readonly outbound: OutboundPolicyConfig;
}

/** `API_REQUEST_TIMEOUT_MS` when unset. */
export const defaultRequestTimeoutMs = 30_000;
/** `API_MAX_RESPONSE_BYTES` when unset: 1 MiB. */
export const defaultMaxResponseBytes = 1_048_576;

// setTimeout fires at once for delays past a signed 32-bit int.
const maxTimeoutMs = 2_147_483_647;

/**
 * Reads `API_BASE_URL` (required, http or https, no user info or
 * fragment), `API_TOKEN` (required, no whitespace), `API_REQUEST_TIMEOUT_MS`
 * (default 30000), `API_MAX_RESPONSE_BYTES` (default 1 MiB),
 * `API_OUTBOUND_PROFILE` (`production`, the default, or `development`) and
 * `API_ALLOWED_ORIGINS` (comma-separated origin patterns, default none).
 * Throws an Error naming the first bad variable; the message never quotes a
 * value.
 */
export function readBuiltinEnv(env: Readonly<Record<string, string | undefined>>): BuiltinEnv {
  return {
    apiUrl: readUrl(env, "API_BASE_URL"),
    jwtToken: readToken(env, "API_TOKEN"),
    requestTimeoutMs: readInt(env, "API_REQUEST_TIMEOUT_MS", defaultRequestTimeoutMs, maxTimeoutMs),
    maxResponseBytes: readInt(
      env,
      "API_MAX_RESPONSE_BYTES",
      defaultMaxResponseBytes,
      Number.MAX_SAFE_INTEGER,
    ),
    outbound: readOutbound(env),
  };
}

function readOutbound(env: Readonly<Record<string, string | undefined>>): OutboundPolicyConfig {
  const profile = env.API_OUTBOUND_PROFILE || "production";
  if (profile !== "production" && profile !== "development") {
    throw new Error("API_OUTBOUND_PROFILE must be production or development");
  }
  const allowedOrigins = (env.API_ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  for (const origin of allowedOrigins) {
    try {
      parseOriginPattern(origin);
    } catch {
      throw new Error("API_ALLOWED_ORIGINS must be a comma-separated list of origins");
    }
  }
  return { profile, allowedOrigins };
}

function readUrl(env: Readonly<Record<string, string | undefined>>, name: string): URL {
  const value = env[name];
  if (value === undefined || value === "") throw new Error(`${name} is required`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${name} must be an http or https URL`);
  }
  // Credentials belong in API_TOKEN, where they are kept out of logs.
  if (url.username !== "" || url.password !== "" || url.hash !== "") {
    throw new Error(`${name} must not hold user info or a fragment`);
  }
  return url;
}

function readToken(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (value === undefined || value === "") throw new Error(`${name} is required`);
  // A header value with whitespace or control characters could split the request.
  if (/[\s\p{Cc}]/u.test(value)) throw new Error(`${name} must not contain whitespace`);
  return value;
}

function readInt(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  max: number,
): number {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= 1 && parsed <= max)) {
    throw new Error(`${name} must be an integer from 1 to ${max}`);
  }
  return parsed;
}
