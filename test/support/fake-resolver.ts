import type { LookupAddress } from "node:dns";
import type { Resolver } from "../../src/outbound/guarded-lookup.js";

/** An address as a resolver reports it, its family taken from its spelling. */
export function lookupAddress(address: string): LookupAddress {
  return { address, family: address.includes(":") ? 6 : 4 };
}

/** A `dns.lookup`-style failure for a name that does not exist. */
export function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: "ENOTFOUND",
    hostname,
  });
}

/** A Resolver that also records the names it was asked for, in order. */
export type RecordingResolver = Resolver & { readonly calls: string[] };

/**
 * A Resolver answering from `table` (name -> addresses); a name not in the
 * table, or mapped to an empty list, fails with ENOTFOUND.
 */
export function tableResolver(
  table: Readonly<Record<string, readonly string[]>>,
): RecordingResolver {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const addresses = Object.hasOwn(table, hostname) ? table[hostname] : undefined;
    if (addresses === undefined || addresses.length === 0) throw notFound(hostname);
    return addresses.map(lookupAddress);
  };
  return Object.assign(resolve, { calls });
}

/**
 * A DNS-rebinding Resolver: the first answer is `first`, every later answer
 * is `later`, whatever the name.
 */
export function rebindingResolver(
  first: readonly string[],
  later: readonly string[],
): RecordingResolver {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    return (calls.length === 1 ? first : later).map(lookupAddress);
  };
  return Object.assign(resolve, { calls });
}
