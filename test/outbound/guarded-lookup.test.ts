import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { describe, expect, it } from "vitest";
import { createGuardedLookup, LookupBlockedError } from "../../src/outbound/guarded-lookup.js";
import { createOutboundPolicy, type UrlVerdict } from "../../src/outbound/outbound-policy.js";
import { rebindingResolver, tableResolver } from "../support/fake-resolver.js";

const production = createOutboundPolicy({ profile: "production", allowedOrigins: [] });
const publicScope: UrlVerdict = { scope: "public" };

type Answer =
  | { error: NodeJS.ErrnoException; address: unknown; family: unknown }
  | { error: null; address: string | LookupAddress[]; family: number | undefined };

/** Calls `lookup` as net.connect would and collects what it calls back with (once). */
function lookupOnce(
  lookup: LookupFunction,
  hostname: string,
  options: { family?: number; all?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    const callback = (error: NodeJS.ErrnoException | null, address: unknown, family?: number) => {
      calls++;
      if (calls > 1) reject(new Error("the lookup called back twice"));
      resolve({ error, address, family } as Answer);
    };
    lookup(hostname, options as Parameters<LookupFunction>[1], callback as never);
  });
}

const resolver = tableResolver({
  "public.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  "v4only.test": ["93.184.216.34"],
  "v6only.test": ["2606:4700:4700::1111"],
  "mixed.test": ["93.184.216.34", "10.0.0.1"],
  "mixed-v6.test": ["93.184.216.34", "::1"],
  "mapped.test": ["93.184.216.34", "::ffff:127.0.0.1"],
  "loopback.test": ["127.0.0.1"],
  "metadata.test": ["169.254.169.254"],
  "private.test": ["10.0.0.1", "192.168.1.1"],
  "zero.test": ["0.0.0.0"],
  "nat64-public.test": ["64:ff9b::808:808"],
  "nat64-metadata.test": ["93.184.216.34", "64:ff9b::a9fe:a9fe"],
  "6to4-metadata.test": ["93.184.216.34", "2002:a9fe:a9fe::"],
  "nat64-zero.test": ["93.184.216.34", "64:ff9b::"],
  "nat64-multicast.test": ["93.184.216.34", "64:ff9b::e000:1"],
});

function expectBlocked(answer: Answer): void {
  expect(answer.error).toBeInstanceOf(LookupBlockedError);
  expect(answer.error?.code).toBe("EBLOCKED");
}

describe("createGuardedLookup", () => {
  it("answers the first address when every address is allowed", async () => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    const answer = await lookupOnce(lookup, "public.test");
    expect(answer).toEqual({ error: null, address: "93.184.216.34", family: 4 });
  });

  it("asks the injected resolver for the host name it was given", async () => {
    const own = tableResolver({ "api.example.com": ["93.184.216.34"] });
    const lookup = createGuardedLookup(production, publicScope, own);
    await lookupOnce(lookup, "api.example.com");
    expect(own.calls).toEqual(["api.example.com"]);
  });

  it.each([
    ["one private among public", "mixed.test"],
    ["IPv6 loopback among public", "mixed-v6.test"],
    ["IPv4-mapped loopback among public", "mapped.test"],
    ["only loopback", "loopback.test"],
    ["only metadata", "metadata.test"],
    ["only RFC 1918", "private.test"],
    ["the unspecified address", "zero.test"],
  ])("refuses a name resolving to %s", async (_, name) => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    expectBlocked(await lookupOnce(lookup, name));
    expectBlocked(await lookupOnce(lookup, name, { all: true }));
  });

  it("refuses a name that does not resolve, with the same error as a denied address", async () => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    const missing = await lookupOnce(lookup, "nxdomain.test");
    const denied = await lookupOnce(lookup, "loopback.test");
    expectBlocked(missing);
    expect([missing.error?.name, missing.error?.code]).toEqual([
      denied.error?.name,
      denied.error?.code,
    ]);
  });

  it("refuses a resolver that answers with no address at all", async () => {
    const empty = async () => [];
    const lookup = createGuardedLookup(production, publicScope, empty);
    expectBlocked(await lookupOnce(lookup, "empty.test"));
  });

  it("judges addresses by the verdict's scope", async () => {
    const development = createOutboundPolicy({ profile: "development", allowedOrigins: [] });
    const privateLookup = createGuardedLookup(development, { scope: "private" }, resolver);
    expect(await lookupOnce(privateLookup, "mixed.test")).toEqual({
      error: null,
      address: "93.184.216.34",
      family: 4,
    });
    expectBlocked(await lookupOnce(privateLookup, "metadata.test"));
    expectBlocked(await lookupOnce(privateLookup, "zero.test"));
  });

  it("refuses NAT64 and 6to4 addresses carrying a denied IPv4 address, even when allowlisted", async () => {
    const allowlist = createOutboundPolicy({
      profile: "production",
      allowedOrigins: ["https://api.example.com"],
    });
    const lookup = createGuardedLookup(allowlist, { scope: "allowlisted" }, resolver);
    for (const name of [
      "nat64-metadata.test",
      "6to4-metadata.test",
      "nat64-zero.test",
      "nat64-multicast.test",
    ]) {
      expectBlocked(await lookupOnce(lookup, name));
      expectBlocked(await lookupOnce(lookup, name, { all: true }));
    }
  });

  it("answers a NAT64 address of a public host only in the allowlisted scope", async () => {
    const allowlist = createOutboundPolicy({
      profile: "production",
      allowedOrigins: ["https://api.example.com"],
    });
    const listed = createGuardedLookup(allowlist, { scope: "allowlisted" }, resolver);
    expect(await lookupOnce(listed, "nat64-public.test")).toEqual({
      error: null,
      address: "64:ff9b::808:808",
      family: 6,
    });
    expectBlocked(
      await lookupOnce(createGuardedLookup(production, publicScope, resolver), "nat64-public.test"),
    );
  });

  it("filters by the requested family", async () => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    expect(await lookupOnce(lookup, "public.test", { family: 4 })).toEqual({
      error: null,
      address: "93.184.216.34",
      family: 4,
    });
    expect(await lookupOnce(lookup, "public.test", { family: 6 })).toEqual({
      error: null,
      address: "2606:2800:220:1:248:1893:25c8:1946",
      family: 6,
    });
    expect(await lookupOnce(lookup, "v6only.test", { family: 0 })).toEqual({
      error: null,
      address: "2606:4700:4700::1111",
      family: 6,
    });
  });

  it("refuses when no address of the requested family exists", async () => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    expectBlocked(await lookupOnce(lookup, "v6only.test", { family: 4 }));
    expectBlocked(await lookupOnce(lookup, "v4only.test", { family: 6 }));
  });

  it("judges every address, not only those of the requested family", async () => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    // The private address is IPv6; asking for IPv4 must not hide it.
    expectBlocked(await lookupOnce(lookup, "mixed-v6.test", { family: 4 }));
    expectBlocked(await lookupOnce(lookup, "mixed-v6.test", { family: 4, all: true }));
  });

  it("calls back with every (family-filtered) address when asked for all", async () => {
    const lookup = createGuardedLookup(production, publicScope, resolver);
    const all = await lookupOnce(lookup, "public.test", { all: true });
    expect(all.error).toBeNull();
    expect(all.address).toEqual([
      { address: "93.184.216.34", family: 4 },
      { address: "2606:2800:220:1:248:1893:25c8:1946", family: 6 },
    ]);
    const v6 = await lookupOnce(lookup, "public.test", { all: true, family: 6 });
    expect(v6.address).toEqual([{ address: "2606:2800:220:1:248:1893:25c8:1946", family: 6 }]);
  });

  it("resolves once per lookup, so a rebinding answer only affects later connections", async () => {
    const rebinding = rebindingResolver(["93.184.216.34"], ["127.0.0.1"]);
    const lookup = createGuardedLookup(production, publicScope, rebinding);
    expect(await lookupOnce(lookup, "rebind.test")).toEqual({
      error: null,
      address: "93.184.216.34",
      family: 4,
    });
    expect(rebinding.calls).toEqual(["rebind.test"]);
    expectBlocked(await lookupOnce(lookup, "rebind.test"));
    expect(rebinding.calls).toHaveLength(2);
  });
});
