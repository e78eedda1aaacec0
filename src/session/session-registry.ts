/**
 * What the service remembers about a session, apart from its live MCP
 * clients. Records hold digests, never the token, so that a registry can
 * move to a shared store (Redis) without putting credentials there.
 */
export interface SessionRecord {
  readonly sessionId: string;
  /** SHA-256 of `api_url` and token together: equal digests mean the same credentials. */
  readonly credentialDigest: string;
  /** SHA-256 of the token alone, compared in constant time against a caller's bearer. */
  readonly tokenDigest: string;
  /** `inactive` once a server went away; the next Init re-creates the session. */
  readonly state: "active" | "inactive";
  readonly servers: readonly string[];
  readonly createdAtMs: number;
  /** As of the last write of the record; the live session keeps the current value. */
  readonly lastUsedAtMs: number;
  /** When the JWT's `exp` claim ends the session, if it has one. */
  readonly expiresAtMs?: number;
}

/**
 * Stores session records. Async so that a networked store fits the same
 * seam; the in-memory registry is the embedded default.
 */
export interface SessionRegistry {
  get(sessionId: string): Promise<SessionRecord | undefined>;
  put(record: SessionRecord): Promise<void>;
  /** Returns whether a record was removed. */
  delete(sessionId: string): Promise<boolean>;
  list(): Promise<SessionRecord[]>;
}

/** A registry in process memory: lookups are O(1). */
export function createMemorySessionRegistry(): SessionRegistry {
  const records = new Map<string, SessionRecord>();
  return {
    async get(sessionId) {
      return records.get(sessionId);
    },
    async put(record) {
      records.set(record.sessionId, record);
    },
    async delete(sessionId) {
      return records.delete(sessionId);
    },
    async list() {
      return [...records.values()];
    },
  };
}
