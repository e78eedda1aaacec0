import { ServiceError } from "../errors.js";

/** The bearer is missing or is not the session's JWT. */
export function credentialsMismatch(): ServiceError {
  return new ServiceError(
    "SESSION_CREDENTIALS_MISMATCH",
    "The request must carry the session's JWT as 'authorization: Bearer <token>'.",
  );
}

/** No session has the id. */
export function sessionNotFound(): ServiceError {
  return new ServiceError("SESSION_NOT_FOUND", "No session has this id; call Init first.");
}

/** A server of the session went away; the session waits for a new Init. */
export function sessionServerExited(): ServiceError {
  return new ServiceError(
    "MCP_SERVER_EXITED",
    "An MCP server of this session exited; call Init again to restart the session.",
  );
}

/** The session's JWT has expired since Init. */
export function sessionTokenExpired(): ServiceError {
  return new ServiceError(
    "TOKEN_EXPIRED",
    "The session's JWT has expired; call Init with a new one.",
  );
}

/** The error for work refused or ended because the server is shutting down. */
export function shuttingDown(): ServiceError {
  return new ServiceError(
    "SERVER_SHUTTING_DOWN",
    "The server is shutting down; retry on another instance.",
  );
}
