import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { Agent, fetch as undiciFetch } from "undici";
import { createGuardedLookup, LookupBlockedError, type Resolver } from "./guarded-lookup.js";
import { blocked, type OutboundPolicy, type UrlVerdict } from "./outbound-policy.js";

/**
 * A `fetch` behind the outbound policy, for transports that take one (the
 * MCP SDK's Streamable HTTP client). The URL is judged before anything else
 * and connections go only to judged addresses; a refusal rejects with
 * OutboundError `blocked`. Redirects are returned, never followed (a caller
 * that follows one comes back through the guard). One connection pool per
 * address scope.
 */
export function createGuardedFetch(policy: OutboundPolicy, resolve?: Resolver): FetchLike {
  const agents = new Map<UrlVerdict["scope"], Agent>();
  const agentFor = (verdict: UrlVerdict): Agent => {
    let agent = agents.get(verdict.scope);
    if (agent === undefined) {
      agent = new Agent({ connect: { lookup: createGuardedLookup(policy, verdict, resolve) } });
      agents.set(verdict.scope, agent);
    }
    return agent;
  };
  return async (url, init) => {
    const target = new URL(url);
    const dispatcher = agentFor(policy.checkUrl(target));
    try {
      // Redirects come back to the caller: a followed one would skip checkUrl.
      const options = {
        ...(init as Parameters<typeof undiciFetch>[1]),
        redirect: "manual" as const,
        dispatcher,
      };
      return (await undiciFetch(target, options)) as unknown as Response;
    } catch (error) {
      if (isBlockedLookup(error)) throw blocked(error);
      throw error;
    }
  };
}

function isBlockedLookup(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof LookupBlockedError) return true;
  }
  return false;
}
