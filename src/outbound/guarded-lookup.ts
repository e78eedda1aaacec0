import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import type { OutboundPolicy, UrlVerdict } from "./outbound-policy.js";

/** Resolves a host name to every address it has, as `dns.lookup` with `all: true`. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** The system resolver. */
const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

/** A lookup that failed because the policy denies the name or one of its addresses. */
export class LookupBlockedError extends Error {
  override readonly name = "LookupBlockedError";
  readonly code = "EBLOCKED";
}

/**
 * A `lookup` for `net.connect` that resolves every address of a name and
 * fails unless the policy allows all of them; the connection then goes to an
 * address that was checked, so a second resolution (DNS rebinding) cannot
 * switch it. A name that does not resolve fails the same way.
 */
export function createGuardedLookup(
  policy: OutboundPolicy,
  verdict: UrlVerdict,
  resolve: Resolver = systemResolver,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (all) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const addresses = family ? all.filter((a) => a.family === family) : all;
        const allowed =
          all.length > 0 && all.every((a) => policy.allowsAddress(a.address, verdict));
        const first = addresses[0];
        if (!allowed || first === undefined) {
          callback(new LookupBlockedError("address not allowed"), "", 0);
        } else if (options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (cause: unknown) => callback(new LookupBlockedError("name not resolved", { cause }), "", 0),
    );
  };
}
