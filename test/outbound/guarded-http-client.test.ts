import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGuardedHttpClient } from "../../src/outbound/guarded-http-client.js";
import { OutboundError, type OutboundRequest } from "../../src/outbound/http-client.js";
import { createOutboundPolicy } from "../../src/outbound/outbound-policy.js";
import { type LoopbackPair, startLoopbackPair } from "../support/counting-listener.js";
import { rebindingResolver, tableResolver } from "../support/fake-resolver.js";

// Every address handed out here is loopback or 0.0.0.0, or the allowed 127.0.0.2 before a denied
// one: a guard that connected anyway would reach the trap (127.0.0.1, [::1]) or the upstream
// (127.0.0.2), both on `pair.port`, and never leave the machine.
let pair: LoopbackPair;
beforeEach(async () => {
  pair = await startLoopbackPair();
});
afterEach(() => pair.close());

const production = createOutboundPolicy({ profile: "production", allowedOrigins: [] });
const development = createOutboundPolicy({ profile: "development", allowedOrigins: [] });

function post(url: string): OutboundRequest {
  return { url: new URL(url), method: "POST", body: "{}", timeoutMs: 2000, maxResponseBytes: 1024 };
}

async function refusal(promise: Promise<unknown>): Promise<OutboundError> {
  const error = await promise.then(
    () => expect.unreachable("expected a refusal"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  expect((error as OutboundError).kind).toBe("blocked");
  return error as OutboundError;
}

/** Connections the trap and the upstream saw. */
const seen = () => ({ trap: pair.trap.connections(), upstream: pair.upstream.connections() });

describe("createGuardedHttpClient", () => {
  it("connects to the address the guard checked, keeping the host name", async () => {
    const resolve = tableResolver({ "api.test": ["127.0.0.2"] });
    const send = createGuardedHttpClient(development, resolve);
    const response = await send(post(`http://api.test:${pair.port}/x`));
    expect(response.status).toBe(200);
    expect(seen()).toEqual({ trap: 0, upstream: 1 });
    expect(pair.upstream.heads()[0]).toMatch(
      new RegExp(`\r\nhost: api\\.test:${pair.port}\r\n`, "i"),
    );
    expect(resolve.calls).toEqual(["api.test"]);
  });

  it.each([
    ["resolves to loopback", { "evil.test": ["127.0.0.1"] }],
    ["resolves to 127.0.0.2", { "evil.test": ["127.0.0.2"] }],
    ["resolves to IPv4-mapped loopback", { "evil.test": ["::ffff:127.0.0.1"] }],
    ["resolves to 0.0.0.0", { "evil.test": ["0.0.0.0"] }],
    ["does not resolve", {}],
  ])("in production refuses a name that %s, without connecting", async (_, table) => {
    const send = createGuardedHttpClient(production, tableResolver(table));
    await refusal(send(post(`https://evil.test:${pair.port}/x`)));
    expect(seen()).toEqual({ trap: 0, upstream: 0 });
  });

  // Development allows 127.0.0.2, so only the address after (or before) it refuses these.
  it.each([
    ["an allowed and the unspecified address", ["127.0.0.2", "0.0.0.0"]],
    ["the unspecified and an allowed address", ["0.0.0.0", "127.0.0.2"]],
    ["an allowed and the IPv6 unspecified address", ["127.0.0.2", "::"]],
    ["an allowed and a metadata address", ["127.0.0.2", "169.254.169.254"]],
    ["an allowed and the IPv6 metadata address", ["127.0.0.2", "fd00:ec2::254"]],
    ["an allowed and a NAT64 metadata address", ["127.0.0.2", "64:ff9b::a9fe:a9fe"]],
    ["an allowed and a 6to4 metadata address", ["127.0.0.2", "2002:a9fe:a9fe::"]],
    ["an allowed and a multicast address", ["127.0.0.2", "224.0.0.1"]],
  ])("in development refuses a name resolving to %s, without connecting", async (_, answers) => {
    const send = createGuardedHttpClient(development, tableResolver({ "evil.test": answers }));
    await refusal(send(post(`http://evil.test:${pair.port}/x`)));
    expect(seen()).toEqual({ trap: 0, upstream: 0 });
  });

  it("refuses a literal private address before resolving anything", async () => {
    const resolve = tableResolver({});
    const send = createGuardedHttpClient(production, resolve);
    await refusal(send(post(`https://127.0.0.1:${pair.port}/x`)));
    await refusal(send(post(`https://[::ffff:127.0.0.1]:${pair.port}/x`)));
    expect(resolve.calls).toEqual([]);
    expect(seen()).toEqual({ trap: 0, upstream: 0 });
  });

  it("refuses with one message whatever the rule", async () => {
    const send = createGuardedHttpClient(
      production,
      tableResolver({ "private.test": ["127.0.0.2"] }),
    );
    const errors = await Promise.all([
      refusal(send(post(`http://api.example.test:${pair.port}/x`))),
      refusal(send(post(`https://127.1:${pair.port}/x`))),
      refusal(send(post(`https://private.test:${pair.port}/x`))),
      refusal(send(post(`https://nxdomain.test:${pair.port}/x`))),
    ]);
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    expect(seen()).toEqual({ trap: 0, upstream: 0 });
  });

  it("resolves once per request: a rebinding second answer never reaches the trap", async () => {
    const resolve = rebindingResolver(["127.0.0.2"], ["0.0.0.0"]);
    const send = createGuardedHttpClient(development, resolve);
    expect((await send(post(`http://rebind.test:${pair.port}/x`))).status).toBe(200);
    expect(resolve.calls).toHaveLength(1);
    await refusal(send(post(`http://rebind.test:${pair.port}/x`)));
    expect(resolve.calls).toHaveLength(2);
    expect(seen()).toEqual({ trap: 0, upstream: 1 });
  });
});
