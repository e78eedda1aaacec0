import { createGuardedLookup, LookupBlockedError, type Resolver } from "./guarded-lookup.js";
import { type OutboundClient, OutboundError } from "./http-client.js";
import { createNodeHttpClient } from "./node-http-client.js";
import { blocked, type OutboundPolicy } from "./outbound-policy.js";

/**
 * An OutboundClient behind the outbound policy: the URL is judged before
 * anything else, every address its host resolves to is judged, and the
 * connection goes to a judged address. Any refusal rejects with
 * OutboundError `blocked` and no connection is made; otherwise it behaves as
 * createNodeHttpClient (no redirects followed, capped bodies).
 */
export function createGuardedHttpClient(
  policy: OutboundPolicy,
  resolve?: Resolver,
): OutboundClient {
  return async (request) => {
    const verdict = policy.checkUrl(request.url);
    const send = createNodeHttpClient({ lookup: createGuardedLookup(policy, verdict, resolve) });
    try {
      return await send(request);
    } catch (error) {
      if (error instanceof OutboundError && error.cause instanceof LookupBlockedError) {
        throw blocked(error.cause);
      }
      throw error;
    }
  };
}
