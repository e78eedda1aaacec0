import type { Interceptor } from "@connectrpc/connect";
import {
  anonymousCallerId,
  apiKeyHeader,
  type Caller,
  type CallerCredentials,
} from "../auth/caller-auth.js";
import { kCaller, kCallerCredentials } from "./caller-context.js";

/**
 * Authenticates every RPC's caller from its `x-api-key` header and its
 * connection (kCallerCredentials), and stores the result as kCaller.
 * Rejects with the authenticator's ServiceError before the handler runs.
 * Services `isAnonymous` names (by full name, such as `grpc.health.v1.Health`)
 * skip authentication: their caller is anonymous.
 */
export function createAuthInterceptor(
  authenticate: (credentials: CallerCredentials) => Caller,
  isAnonymous: (serviceTypeName: string) => boolean = () => false,
): Interceptor {
  return (next) => async (req) => {
    const connection = req.contextValues.get(kCallerCredentials);
    if (isAnonymous(req.service.typeName)) {
      req.contextValues.set(kCaller, { id: anonymousCallerId(connection), operator: false });
      return next(req);
    }
    const apiKey = req.header.get(apiKeyHeader) ?? undefined;
    req.contextValues.set(kCaller, authenticate({ ...connection, apiKey }));
    return next(req);
  };
}
