import type { Interceptor } from "@connectrpc/connect";
import { apiKeyHeader, type Caller, type CallerCredentials } from "../auth/caller-auth.js";
import { kCaller, kCallerCredentials } from "./caller-context.js";

/**
 * Authenticates every RPC's caller from its `x-api-key` header and its
 * connection (kCallerCredentials), and stores the result as kCaller.
 * Rejects with the authenticator's ServiceError before the handler runs.
 */
export function createAuthInterceptor(
  authenticate: (credentials: CallerCredentials) => Caller,
): Interceptor {
  return (next) => async (req) => {
    const connection = req.contextValues.get(kCallerCredentials);
    const apiKey = req.header.get(apiKeyHeader) ?? undefined;
    req.contextValues.set(kCaller, authenticate({ ...connection, apiKey }));
    return next(req);
  };
}
