import { ServiceError } from "../errors.js";

/** An Init request as the domain sees it. */
export interface InitInput {
  readonly sessionId: string;
  readonly apiUrl: string;
  readonly jwtToken: string;
}

const sessionIdPattern = /^[A-Za-z0-9_.:@-]{1,128}$/;

/**
 * Step 1 of Init: every field present, and a bounded session_id.
 * `MISSING_PARAMETERS` names the empty fields in metadata `fields`.
 */
export function checkInitInput(input: InitInput): void {
  checkRequired({
    session_id: input.sessionId,
    api_url: input.apiUrl,
    jwt_token: input.jwtToken,
  });
  checkSessionId(input.sessionId);
}

/**
 * `MISSING_PARAMETERS` when any of the named fields is empty; the message
 * and metadata `fields` name every empty one, in order.
 */
export function checkRequired(fields: Readonly<Record<string, string>>): void {
  // Runs on every tool call: nothing is allocated unless a field is missing.
  for (const name in fields) {
    if (fields[name] === "") {
      throw missingParameters(Object.keys(fields).filter((key) => fields[key] === ""));
    }
  }
}

/** True for a session id of 1-128 characters of `A-Z a-z 0-9 _ - . : @`. */
export function isValidSessionId(sessionId: string): boolean {
  return sessionIdPattern.test(sessionId);
}

/**
 * `MISSING_PARAMETERS` (field `session_id`) when empty, else
 * `INVALID_SESSION_ID` unless 1-128 characters of `A-Z a-z 0-9 _ - . : @`.
 */
export function checkSessionId(sessionId: string): void {
  // Every call of a session runs this: no field record to build for the usual case.
  if (sessionId === "") throw missingParameters(["session_id"]);
  if (!isValidSessionId(sessionId)) {
    throw new ServiceError(
      "INVALID_SESSION_ID",
      "session_id must be 1-128 characters of A-Z, a-z, 0-9, '_', '-', '.', ':' or '@'.",
    );
  }
}

function missingParameters(names: readonly string[]): ServiceError {
  return new ServiceError(
    "MISSING_PARAMETERS",
    `Missing required parameters: ${names.join(", ")}.`,
    {
      metadata: { fields: names.join(",") },
    },
  );
}
