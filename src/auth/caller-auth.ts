import { createHash, timingSafeEqual } from "node:crypto";
import { ServiceError } from "../errors.js";

/** One accepted API key: a name for logs and limits, and the key's SHA-256. */
export interface ApiKeyEntry {
  readonly name: string;
  /** Lower-case hex SHA-256 of the key; the config never holds the key itself. */
  readonly sha256: string;
  /** `operator` keys may call the session admin service too. Default `client`. */
  readonly role?: "client" | "operator";
}

/** How callers of the service prove who they are. */
export interface CallerAuthConfig {
  /** When not empty, every call needs `x-api-key` with one of these keys. */
  readonly apiKeys: readonly ApiKeyEntry[];
  /** Whether every call needs a TLS client certificate the configured CA signed. */
  readonly requireClientCertificate: boolean;
  /** Certificate subjects whose callers are operators. */
  readonly operatorCertificates?: readonly string[];
}

/** What a request shows about its caller. */
export interface CallerCredentials {
  readonly apiKey?: string | undefined;
  /** The verified TLS client certificate's subject, when one was presented and verified. */
  readonly certificateSubject?: string | undefined;
  readonly remoteAddress?: string | undefined;
}

/** Who is calling, for limits and audit lines. Never holds a secret. */
export interface Caller {
  /** `key:<name>`, `cert:<subject>`, or `addr:<remote address>` when no auth is configured. */
  readonly id: string;
  /** Authenticated by an operator key or certificate: may use the session admin service. */
  readonly operator: boolean;
}

/** The header callers put their API key in; apart from `authorization`, which carries the session's JWT. */
export const apiKeyHeader = "x-api-key";

/**
 * Creates the caller check. With API keys configured, a missing key is
 * UNAUTHENTICATED `API_KEY_REQUIRED` and an unknown one `API_KEY_INVALID`
 * (compared in constant time against every configured hash); with client
 * certificates required, a missing or unverified one is
 * `CLIENT_CERTIFICATE_REQUIRED`. Both configured: both are needed.
 */
export function createCallerAuth(
  config: CallerAuthConfig,
): (credentials: CallerCredentials) => Caller {
  const hashes = config.apiKeys.map((k) => ({
    name: k.name,
    digest: Buffer.from(k.sha256, "hex"),
    operator: k.role === "operator",
  }));
  const operatorSubjects = new Set(config.operatorCertificates ?? []);
  return (credentials) => {
    let id = anonymousCallerId(credentials);
    let operator = false;
    if (config.requireClientCertificate) {
      if (credentials.certificateSubject === undefined) {
        throw new ServiceError(
          "CLIENT_CERTIFICATE_REQUIRED",
          "This server requires a TLS client certificate signed by its client CA.",
        );
      }
      id = `cert:${credentials.certificateSubject}`;
      operator = operatorSubjects.has(credentials.certificateSubject);
    }
    if (hashes.length > 0) {
      const key = credentials.apiKey;
      if (key === undefined || key === "") {
        throw new ServiceError(
          "API_KEY_REQUIRED",
          `This server requires an API key in '${apiKeyHeader}'.`,
        );
      }
      const digest = createHash("sha256").update(key, "utf8").digest();
      // Every entry is compared, so the time taken does not tell which one matched.
      let match: (typeof hashes)[number] | undefined;
      for (const entry of hashes) {
        const equal =
          entry.digest.length === digest.length && timingSafeEqual(entry.digest, digest);
        if (equal && match === undefined) match = entry;
      }
      if (match === undefined) {
        throw new ServiceError(
          "API_KEY_INVALID",
          `The API key in '${apiKeyHeader}' is not accepted.`,
        );
      }
      id = `key:${match.name}`;
      operator ||= match.operator;
    }
    return { id, operator };
  };
}

/** The id of a caller known only by its connection: `addr:<remote address>`. */
export function anonymousCallerId(credentials: Pick<CallerCredentials, "remoteAddress">): string {
  return `addr:${credentials.remoteAddress ?? "unknown"}`;
}
