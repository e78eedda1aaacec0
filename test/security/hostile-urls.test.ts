import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Config } from "../../src/config/types.js";
import type { Reason } from "../../src/errors.js";
import type { Resolver } from "../../src/outbound/guarded-lookup.js";
import { type CountingApp, createCountingApp } from "../support/counting-app.js";
import { type LoopbackPair, startLoopbackPair } from "../support/counting-listener.js";
import { rebindingResolver, tableResolver } from "../support/fake-resolver.js";
import { hs256Header, jwtFrom } from "../support/jwt.js";
import { createLoopbackPool, type LoopbackServer } from "../support/loopback-server.js";

// Every hostile api_url goes through the real Init path and must be refused
// with its code and reason, start no MCP server, and make no connection to
// the trap: a counting listener on 127.0.0.1 (and [::1]) that the URLs point
// at. Nothing here may reach a non-loopback address, not even through a
// broken guard: every literal host is loopback or 0.0.0.0 (which lands on the
// trap), except three cloud-metadata literals that checkUrl refuses before any
// socket; every resolver answer is loopback or 0.0.0.0, or an allowed
// 127.0.0.2 first and a denied address after it, so that a guard that connects
// anyway reaches the counting upstream on 127.0.0.2 and stops there.

/** Where the hostile URLs point. */
interface Targets {
  /** The port of the trap (127.0.0.1) and of the upstream (127.0.0.2). */
  readonly port: number;
  /** The trap's [::1] port (the 127.0.0.1 one when the host has no IPv6 loopback). */
  readonly port6: number;
  /** An upstream on loopback that answers every request with a 302 to the trap. */
  readonly redirector: string;
}

/**
 * Which config the app gets: the default `production` profile, production
 * with an allowlist, or the `development` profile (which allows loopback, so
 * 127.0.0.2 is the allowed address there).
 */
type Setup = "production" | "allowlist" | "development";

interface Hostile {
  readonly name: string;
  readonly apiUrl: (t: Targets) => string;
  readonly setup: Setup;
  /** The injected resolver (default `dns`), or "system" for the real one (only for localhost). */
  readonly resolve?: Resolver | "system";
  readonly code: Code;
  readonly reasons: readonly Reason[];
  /** Connections the upstream on 127.0.0.2 must see (default 0). */
  readonly upstreamConnections?: number;
}

// Names under the reserved .test TLD, so that not even a guard that lost the
// injected resolver could send them to a real host.
const allowedOrigins = (port: number) => [
  "https://api.example.test",
  `https://*.corp.example.test:${port}`,
];

// Hostile DNS: only loopback and 0.0.0.0, or the allowed 127.0.0.2 first and
// a denied address after it. A name missing here does not resolve.
const allowedFirst = (denied: string) => ["127.0.0.2", denied];
const dns = tableResolver({
  "loopback.attacker.test": ["127.0.0.1"],
  "loopback2.attacker.test": ["127.0.0.2"],
  "loopback6.attacker.test": ["::1"],
  "mapped.attacker.test": ["::ffff:127.0.0.1"],
  "zero.attacker.test": ["0.0.0.0"],
  "zero6.attacker.test": ["::"],
  "mapped-zero.attacker.test": ["::ffff:0.0.0.0"],
  "private.attacker.test": ["127.0.0.2"],
  "metadata.attacker.test": allowedFirst("169.254.169.254"),
  "metadata6.attacker.test": allowedFirst("fd00:ec2::254"),
  "alibaba.attacker.test": allowedFirst("100.100.100.200"),
  "nat64-metadata.attacker.test": allowedFirst("64:ff9b::a9fe:a9fe"),
  "6to4-metadata.attacker.test": allowedFirst("2002:a9fe:a9fe::"),
  "link-local.attacker.test": allowedFirst("169.254.1.1"),
  "multicast.attacker.test": allowedFirst("224.0.0.1"),
  "multicast6.attacker.test": allowedFirst("ff02::1"),
  "broadcast.attacker.test": allowedFirst("255.255.255.255"),
  "then-zero.attacker.test": allowedFirst("0.0.0.0"),
  "zero-first.attacker.test": ["0.0.0.0", "127.0.0.2"],
  "internal.corp.example.test": allowedFirst("169.254.169.254"),
  "v6metadata.corp.example.test": allowedFirst("fd00:ec2::254"),
  "nat64.corp.example.test": allowedFirst("64:ff9b::a9fe:a9fe"),
  "6to4.corp.example.test": allowedFirst("2002:a9fe:a9fe::"),
  "nat64-zero.corp.example.test": allowedFirst("64:ff9b::"),
  "zero.corp.example.test": ["0.0.0.0"],
});

// The allowed 127.0.0.2 on the first call (the address the guard checks and
// connects to), 0.0.0.0 on every later one: a guard that resolved again
// before connecting would land on the trap.
const rebinding = rebindingResolver(["127.0.0.2"], ["0.0.0.0"]);

const notAllowed = { code: Code.Unauthenticated, reasons: ["API_URL_NOT_ALLOWED"] } as const;
const invalid = { code: Code.Unauthenticated, reasons: ["INVALID_API_URL"] } as const;
const prod = { setup: "production" } as const;
const dev = { setup: "development" } as const;
const listed = { setup: "allowlist" } as const;

const hostile: Hostile[] = [
  // Literal loopback spellings the URL parser normalizes, each at the trap.
  {
    name: "decimal over http",
    apiUrl: (t) => `http://2130706433:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  { name: "decimal", apiUrl: (t) => `https://2130706433:${t.port}/api`, ...prod, ...notAllowed },
  { name: "hex", apiUrl: (t) => `https://0x7f000001:${t.port}/api`, ...prod, ...notAllowed },
  { name: "octal", apiUrl: (t) => `https://0177.0.0.1:${t.port}/api`, ...prod, ...notAllowed },
  { name: "short", apiUrl: (t) => `https://127.1:${t.port}/api`, ...prod, ...notAllowed },
  { name: "mixed hex short", apiUrl: (t) => `https://0x7f.1:${t.port}/`, ...prod, ...notAllowed },
  { name: "octal whole", apiUrl: (t) => `https://017700000001:${t.port}/`, ...prod, ...notAllowed },
  {
    name: "percent-encoded",
    apiUrl: (t) => `https://%31%32%37.0.0.1:${t.port}/`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "full-width digits",
    apiUrl: (t) => `https://\uff11\uff12\uff17.0.0.1:${t.port}/`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "dotted loopback",
    apiUrl: (t) => `https://127.0.0.1:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "dotted loopback over http",
    apiUrl: (t) => `http://127.0.0.1:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "upper-case scheme",
    apiUrl: (t) => `HTTPS://127.0.0.1:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "IPv4-mapped IPv6",
    apiUrl: (t) => `https://[::ffff:127.0.0.1]:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "IPv4-mapped IPv6, long",
    apiUrl: (t) => `https://[0:0:0:0:0:ffff:7f00:1]:${t.port}/`,
    ...prod,
    ...notAllowed,
  },
  { name: "IPv6 loopback", apiUrl: (t) => `https://[::1]:${t.port6}/api`, ...prod, ...notAllowed },
  {
    name: "IPv6 loopback over http",
    apiUrl: (t) => `http://[::1]:${t.port6}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "unspecified v4",
    apiUrl: (t) => `https://0.0.0.0:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  { name: "unspecified v6", apiUrl: (t) => `https://[::]:${t.port6}/api`, ...prod, ...notAllowed },
  { name: "zero", apiUrl: (t) => `https://0:${t.port}/api`, ...prod, ...notAllowed },
  {
    name: "IPv4-mapped unspecified",
    apiUrl: (t) => `https://[::ffff:0.0.0.0]:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  // Cloud metadata literals: refused by checkUrl before any socket.
  {
    name: "AWS/GCP metadata",
    apiUrl: () => "https://169.254.169.254/latest/meta-data",
    ...prod,
    ...notAllowed,
  },
  {
    name: "AWS IPv6 metadata",
    apiUrl: () => "https://[fd00:ec2::254]/latest/meta-data",
    ...prod,
    ...notAllowed,
  },
  {
    name: "Alibaba metadata",
    apiUrl: () => "https://100.100.100.200/latest/meta-data",
    ...prod,
    ...notAllowed,
  },
  // Metadata names: refused by name, and `dns` does not resolve them.
  {
    name: "GCP metadata name",
    apiUrl: () => "https://metadata.google.internal/computeMetadata/v1",
    ...prod,
    ...notAllowed,
  },
  {
    name: "GCP metadata name, trailing dot",
    apiUrl: () => "https://metadata.google.internal./computeMetadata/v1",
    ...prod,
    ...notAllowed,
  },
  {
    name: "bare metadata name",
    apiUrl: () => "https://metadata/computeMetadata/v1",
    ...prod,
    ...notAllowed,
  },
  // localhost through the real system resolver (/etc/hosts: loopback).
  {
    name: "localhost over http",
    apiUrl: (t) => `http://localhost:${t.port}/api`,
    ...prod,
    resolve: "system",
    ...notAllowed,
  },
  {
    name: "localhost",
    apiUrl: (t) => `https://localhost:${t.port}/api`,
    ...prod,
    resolve: "system",
    ...notAllowed,
  },
  // Hostile DNS through the injected resolver; production denies loopback.
  {
    name: "name resolving to 127.0.0.1",
    apiUrl: (t) => `https://loopback.attacker.test:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "name resolving to 127.0.0.2",
    apiUrl: (t) => `https://loopback2.attacker.test:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "name resolving to ::1",
    apiUrl: (t) => `https://loopback6.attacker.test:${t.port6}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "name resolving to ::ffff:127.0.0.1",
    apiUrl: (t) => `https://mapped.attacker.test:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "name resolving to 127.0.0.2 and 169.254.169.254",
    apiUrl: (t) => `https://metadata.attacker.test:${t.port}/latest/meta-data`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "name resolving to 0.0.0.0",
    apiUrl: (t) => `https://zero.attacker.test:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "name that does not resolve",
    apiUrl: (t) => `https://nxdomain.attacker.test:${t.port}/api`,
    ...prod,
    ...notAllowed,
  },
  {
    name: "backslash parser confusion",
    apiUrl: (t) => `https://nxdomain.attacker.test\\@127.0.0.1:${t.port}/`,
    ...prod,
    ...notAllowed,
  },
  // DNS rebinding: the first answer is the allowed 127.0.0.2, whose upstream answers 503; every
  // later answer is 0.0.0.0. The guard connects to the address it checked, so the trap is never
  // reached.
  {
    name: "rebinding resolver, first (allowed) answer",
    apiUrl: (t) => `http://rebind.attacker.test:${t.port}/api`,
    ...dev,
    resolve: rebinding,
    code: Code.Internal,
    reasons: ["UPSTREAM_ERROR"],
    upstreamConnections: 1,
  },
  {
    name: "rebinding resolver, second (0.0.0.0) answer",
    apiUrl: (t) => `http://rebind.attacker.test:${t.port}/api`,
    ...dev,
    resolve: rebinding,
    ...notAllowed,
  },
  {
    name: "rebinding resolver, third (0.0.0.0) answer",
    apiUrl: (t) => `http://rebind.attacker.test:${t.port}/api`,
    ...dev,
    resolve: rebinding,
    ...notAllowed,
  },
  // Syntactically hostile: refused before any policy.
  { name: "userinfo", apiUrl: () => "https://user:pass@example.test/api", ...prod, ...invalid },
  {
    name: "userinfo at loopback",
    apiUrl: (t) => `https://user@127.0.0.1:${t.port}/api`,
    ...prod,
    ...invalid,
  },
  {
    name: "host-looking userinfo",
    apiUrl: (t) => `https://api.example.test@127.0.0.1:${t.port}/`,
    ...listed,
    ...invalid,
  },
  { name: "fragment", apiUrl: () => "https://api.example.test/api#frag", ...listed, ...invalid },
  {
    name: "fragment hiding a host",
    apiUrl: (t) => `https://127.0.0.1:${t.port}#@api.example.test`,
    ...listed,
    ...invalid,
  },
  { name: "file:", apiUrl: () => "file:///etc/passwd", ...prod, ...invalid },
  { name: "gopher:", apiUrl: (t) => `gopher://127.0.0.1:${t.port}/_POST%20/`, ...prod, ...invalid },
  { name: "javascript:", apiUrl: () => "javascript:alert(1)", ...prod, ...invalid },
  { name: "ftp:", apiUrl: (t) => `ftp://127.0.0.1:${t.port}/`, ...prod, ...invalid },
  { name: "dict:", apiUrl: (t) => `dict://127.0.0.1:${t.port}/info`, ...prod, ...invalid },
  { name: "ws:", apiUrl: (t) => `ws://127.0.0.1:${t.port}/`, ...dev, ...invalid },
  { name: "data:", apiUrl: () => "data:text/plain,hello", ...prod, ...invalid },
  { name: "one slash", apiUrl: (t) => `http:/127.0.0.1:${t.port}/api`, ...dev, ...invalid },
  { name: "backslashes", apiUrl: (t) => `http:\\\\127.0.0.1:${t.port}/api`, ...dev, ...invalid },
  {
    name: "tab inside the host",
    apiUrl: (t) => `http://127.0.0.\t1:${t.port}/api`,
    ...dev,
    ...invalid,
  },
  {
    // The WHATWG parser has no zone ids: this never becomes a URL, let alone a socket.
    name: "IPv6 zone id",
    apiUrl: (t) => `https://[fe80::1%25lo]:${t.port6}/`,
    ...prod,
    ...invalid,
  },
  // An operator allowlist: everything else is refused, and listed names are still not metadata.
  {
    name: "allowlist: another subdomain",
    apiUrl: () => "https://evil.example.test/api",
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: suffix lookalike",
    apiUrl: () => "https://api.example.test.attacker.test/api",
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed host over http",
    apiUrl: () => "http://api.example.test/api",
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed host, other port",
    apiUrl: (t) => `https://api.example.test:${t.port}/api`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard, other port",
    apiUrl: () => "https://loopback.corp.example.test/api",
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: loopback literal",
    apiUrl: (t) => `https://127.0.0.1:${t.port}/api`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard resolving to 127.0.0.2 and metadata",
    apiUrl: (t) => `https://internal.corp.example.test:${t.port}/latest/meta-data`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard resolving to 127.0.0.2 and IPv6 metadata",
    apiUrl: (t) => `https://v6metadata.corp.example.test:${t.port}/`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard resolving to 127.0.0.2 and NAT64 metadata",
    apiUrl: (t) => `https://nat64.corp.example.test:${t.port}/`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard resolving to 127.0.0.2 and 6to4 metadata",
    apiUrl: (t) => `https://6to4.corp.example.test:${t.port}/`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard resolving to 127.0.0.2 and NAT64 0.0.0.0",
    apiUrl: (t) => `https://nat64-zero.corp.example.test:${t.port}/`,
    ...listed,
    ...notAllowed,
  },
  {
    name: "allowlist: listed wildcard resolving to 0.0.0.0",
    apiUrl: (t) => `https://zero.corp.example.test:${t.port}/api`,
    ...listed,
    ...notAllowed,
  },
  // The development profile allows http and loopback (127.0.0.2 is the allowed answer here),
  // never metadata, link-local, unspecified, multicast or broadcast addresses.
  {
    name: "development: metadata name",
    apiUrl: () => "http://metadata.google.internal/computeMetadata/v1",
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and metadata",
    apiUrl: (t) => `http://metadata.attacker.test:${t.port}/latest/meta-data`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and IPv6 metadata",
    apiUrl: (t) => `http://metadata6.attacker.test:${t.port}/latest/meta-data`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and Alibaba metadata",
    apiUrl: (t) => `http://alibaba.attacker.test:${t.port}/latest/meta-data`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and NAT64 metadata",
    apiUrl: (t) => `http://nat64-metadata.attacker.test:${t.port}/latest/meta-data`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and 6to4 metadata",
    apiUrl: (t) => `http://6to4-metadata.attacker.test:${t.port}/latest/meta-data`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and link-local",
    apiUrl: (t) => `http://link-local.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and multicast",
    apiUrl: (t) => `http://multicast.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and IPv6 multicast",
    apiUrl: (t) => `http://multicast6.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2 and broadcast",
    apiUrl: (t) => `http://broadcast.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 127.0.0.2, then 0.0.0.0",
    apiUrl: (t) => `http://then-zero.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 0.0.0.0, then 127.0.0.2",
    apiUrl: (t) => `http://zero-first.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: unspecified v4",
    apiUrl: (t) => `http://0.0.0.0:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: unspecified v6",
    apiUrl: (t) => `http://[::]:${t.port6}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to 0.0.0.0",
    apiUrl: (t) => `http://zero.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to ::",
    apiUrl: (t) => `http://zero6.attacker.test:${t.port6}/api`,
    ...dev,
    ...notAllowed,
  },
  {
    name: "development: name resolving to ::ffff:0.0.0.0",
    apiUrl: (t) => `http://mapped-zero.attacker.test:${t.port}/api`,
    ...dev,
    ...notAllowed,
  },
  // A loopback upstream (allowed in development) redirecting to the trap.
  {
    name: "development: redirect to the trap",
    apiUrl: (t) => t.redirector,
    ...dev,
    code: Code.Internal,
    reasons: ["UPSTREAM_ERROR"],
  },
];

/** What the run saw, for the closing figure. */
const tally = {
  tried: 0,
  connections: 0,
  upstreamConnections: 0,
  starts: 0,
  notAllowedMessages: new Set<string>(),
};

let pair: LoopbackPair;
let targets: Targets;
let redirector: LoopbackServer;
const pool = createLoopbackPool();
const configs = {} as Record<Setup, Config>;

beforeAll(async () => {
  // The upstream on 127.0.0.2 answers 503: only the rebinding case's first answer reaches it.
  pair = await startLoopbackPair(503);
  const port = pair.port;
  redirector = await pool.serve((_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${port}/settings/validate` }).end();
  });
  targets = { port, port6: pair.trap.port6 ?? port, redirector: `${redirector.origin}/api` };
  const defaults = await loadConfig({ env: {} });
  expect(defaults.outbound).toEqual({ profile: "production", allowedOrigins: [] });
  const base = { ...defaults, credentialCheck: { ...defaults.credentialCheck, timeoutMs: 1500 } };
  configs.production = base;
  configs.allowlist = {
    ...base,
    outbound: { profile: "production", allowedOrigins: allowedOrigins(port) },
  };
  configs.development = { ...base, outbound: { profile: "development", allowedOrigins: [] } };
});

afterAll(async () => {
  await pool.closeAll();
  await pair.close();
});

function token(): string {
  return jwtFrom(hs256Header, { sub: "hostile", exp: Math.floor(Date.now() / 1000) + 3600 });
}

/** Inits with `apiUrl` and returns the failure; fails the test if Init succeeds. */
async function initFailure(app: CountingApp, apiUrl: string) {
  const error = await app.client.init({ sessionId: "victim", apiUrl, jwtToken: token() }).then(
    () => expect.unreachable(`Init accepted ${JSON.stringify(apiUrl)}`),
    (e: unknown) => ConnectError.from(e),
  );
  const infos = error.findDetails(ErrorInfoSchema);
  return {
    code: error.code,
    reason: infos[0]?.reason,
    reasons: infos.map((i) => i.reason),
    message: error.rawMessage,
    metadata: { ...infos[0]?.metadata },
  };
}

async function settle(): Promise<void> {
  // A connect that slipped through would be accepted within a few event-loop turns.
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("hostile api_urls through Init", () => {
  it.each(hostile.map((h) => [h.name, h] as const))("%s", async (_, h) => {
    const before = pair.trap.connections();
    const upstreamBefore = pair.upstream.connections();
    const resolve = h.resolve === "system" ? undefined : (h.resolve ?? dns);
    const app = createCountingApp(configs[h.setup], resolve);
    try {
      const apiUrl = h.apiUrl(targets);
      const calls = h.resolve === rebinding ? rebinding.calls.length : 0;
      const failure = await initFailure(app, apiUrl);
      await settle();
      const connections = pair.trap.connections() - before;
      const upstreamConnections = pair.upstream.connections() - upstreamBefore;
      tally.tried++;
      tally.connections += connections;
      tally.upstreamConnections += upstreamConnections;
      tally.starts += app.starts();

      expect(failure.code).toBe(h.code);
      expect(failure.reasons).toHaveLength(1);
      expect(h.reasons).toContain(failure.reason);
      expect(connections).toBe(0);
      expect(upstreamConnections).toBe(h.upstreamConnections ?? 0);
      expect(app.starts()).toBe(0);
      if (failure.reason === "API_URL_NOT_ALLOWED") tally.notAllowedMessages.add(failure.message);
      // The guard resolves once per connection and connects to what that answer held.
      if (h.resolve === rebinding) expect(rebinding.calls.length - calls).toBe(1);
    } finally {
      await app.app.close();
    }
  });

  it("gives one code, reason, message and metadata for not allowed, not resolving and private", async () => {
    const production = createCountingApp(configs.production, dns);
    const allowlist = createCountingApp(configs.allowlist, dns);
    const { port } = targets;
    try {
      const outcomes = {
        "not allowed (scheme)": await initFailure(production, "http://api.example.test/api"),
        "not allowed (allowlist)": await initFailure(allowlist, "https://evil.example.test/api"),
        "not allowed (metadata name)": await initFailure(production, "https://metadata/x"),
        "private literal": await initFailure(production, `https://127.0.0.1:${port}/`),
        "does not resolve": await initFailure(
          production,
          `https://nxdomain.attacker.test:${port}/api`,
        ),
        "private address": await initFailure(
          production,
          `https://private.attacker.test:${port}/api`,
        ),
      };
      const first = outcomes["not allowed (scheme)"];
      expect(first).toMatchObject({ code: Code.Unauthenticated, reason: "API_URL_NOT_ALLOWED" });
      for (const [what, outcome] of Object.entries(outcomes)) {
        expect({ what, ...outcome }).toEqual({ what, ...first });
      }
      expect(production.starts() + allowlist.starts()).toBe(0);
    } finally {
      await production.app.close();
      await allowlist.app.close();
    }
  });

  it("sees the redirector answer the credential check (so the redirect case is real)", () => {
    expect(redirector.requests.map((r) => [r.method, r.path])).toContainEqual([
      "POST",
      "/api/settings/validate",
    ]);
  });

  it(`tries ${hostile.length} hostile api_urls and they cause 0 connections`, () => {
    expect(tally.tried).toBe(hostile.length);
    expect(tally.tried).toBeGreaterThanOrEqual(30);
    expect(tally.connections).toBe(0);
    expect(pair.trap.connections()).toBe(0);
    // Only the rebinding case's first, allowed answer reached the upstream on 127.0.0.2.
    expect(tally.upstreamConnections).toBe(1);
    expect(tally.starts).toBe(0);
    expect(tally.notAllowedMessages.size).toBe(1);
  });
});
