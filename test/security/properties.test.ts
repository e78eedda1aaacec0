import { isIP } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";
import { loadConfig } from "../../src/config/load-config.js";
import { parseApiUrl } from "../../src/credentials/api-url.js";
import { checkJwtFormat } from "../../src/credentials/jwt-format.js";
import { ServiceError } from "../../src/errors.js";
import { isAddressAllowed } from "../../src/outbound/address-policy.js";
import { createGuardedHttpClient } from "../../src/outbound/guarded-http-client.js";
import type { Resolver } from "../../src/outbound/guarded-lookup.js";
import { OutboundError } from "../../src/outbound/http-client.js";
import {
  createOutboundPolicy,
  type OutboundPolicy,
  type UrlVerdict,
} from "../../src/outbound/outbound-policy.js";
import { createCountingApp } from "../support/counting-app.js";
import { type LoopbackPair, startLoopbackPair } from "../support/counting-listener.js";
import { lookupAddress } from "../support/fake-resolver.js";
import { base64url, hs256Header, jwtFrom } from "../support/jwt.js";

// Fixed seeds keep runs reproducible; a failure prints its counterexample.
const seed = 20240603;

const policies = {
  production: createOutboundPolicy({ profile: "production", allowedOrigins: [] }),
  development: createOutboundPolicy({ profile: "development", allowedOrigins: [] }),
  allowlist: createOutboundPolicy({
    profile: "production",
    allowedOrigins: [
      "https://api.example.com",
      "https://*.example.org:8443",
      "http://10.0.0.5:8080",
    ],
  }),
};

// ---------------------------------------------------------------- arbitraries

const octet = fc.integer({ min: 0, max: 255 });
const v4 = (a: fc.Arbitrary<number>, b: fc.Arbitrary<number>) =>
  fc.tuple(a, b, octet, octet).map((parts) => parts.join("."));

/** IPv4 addresses the public scope must refuse: loopback, private, link-local, CGNAT, ... */
const privateV4 = fc.oneof(
  v4(fc.constant(127), octet),
  v4(fc.constant(10), octet),
  v4(fc.constant(172), fc.integer({ min: 16, max: 31 })),
  v4(fc.constant(192), fc.constant(168)),
  v4(fc.constant(169), fc.constant(254)),
  v4(fc.constant(100), fc.integer({ min: 64, max: 127 })),
  v4(fc.constant(0), octet),
  v4(fc.integer({ min: 224, max: 255 }), octet),
);

/** Addresses the public scope must refuse, IPv4 and IPv6. */
const privateAddress = fc.oneof(
  privateV4,
  fc.constantFrom(
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "fd00:ec2::254",
    "fe80::1",
    "fc00::5",
    "fd12:3456::1",
    "ff02::1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "100.100.100.200",
    "255.255.255.255",
  ),
);

/** `address` (dotted IPv4) spelled as `spelling`, which the URL parser folds back into it. */
function spell(address: string, spelling: string): string {
  const parts = address.split(".").map(Number);
  const n = parts.reduce((acc, p) => acc * 256 + p, 0);
  switch (spelling) {
    case "decimal":
      return String(n);
    case "hex":
      return `0x${n.toString(16)}`;
    case "mapped":
      return `[::ffff:${address}]`;
    case "octal":
      return parts.map((p) => `0${p.toString(8)}`).join(".");
    default:
      return address;
  }
}

/** A private IPv4 address in one of the spellings the URL parser folds into it. */
const privateV4Spelling = fc
  .tuple(privateV4, fc.constantFrom("dotted", "decimal", "hex", "mapped", "octal"))
  .map(([address, spelling]) => spell(address, spelling));

const hostish = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6().map((h) => `[${h}]`),
  privateV4Spelling,
  privateAddress.map((a) => (a.includes(":") ? `[${a}]` : a)),
  fc.constantFrom("localhost", "metadata.google.internal", "METADATA.", "[::1", "a b", ""),
  fc.constantFrom(
    "api.example.com",
    "API.example.com",
    "a.example.org",
    "a.b.example.org",
    "10.0.0.5",
  ),
);

/** URL-looking strings over `host`: random schemes, separators, userinfo, ports, paths, queries, fragments. */
const urlishOver = (host: fc.Arbitrary<string>) =>
  fc
    .record({
      scheme: fc.constantFrom(
        "http",
        "https",
        "HTTPS",
        "hTtP",
        "ftp",
        "file",
        "gopher",
        "javascript",
        "ws",
        "data",
        "",
      ),
      separator: fc.constantFrom("://", ":", ":/", ":\\\\", ":///", "://\t"),
      userinfo: fc.constantFrom("", "", "", "user@", "user:pass@", ":@", "@", "api.example.com@"),
      host,
      port: fc.option(
        fc.integer({ min: 0, max: 70000 }).map((p) => `:${p}`),
        { nil: "" },
      ),
      path: fc.webPath(),
      query: fc.option(
        fc.webQueryParameters().map((q) => `?${q}`),
        { nil: "" },
      ),
      fragment: fc.option(
        fc.webFragments().map((f) => `#${f}`),
        { nil: "" },
      ),
    })
    .map(
      (p) =>
        `${p.scheme}${p.separator}${p.userinfo}${p.host}${p.port}${p.path}${p.query}${p.fragment}`,
    );

/** Well-formed http(s) URLs (no userinfo, no fragment) over `host` and a few ports. */
const wellFormedOver = (host: fc.Arbitrary<string>) =>
  fc
    .record({
      scheme: fc.constantFrom("http", "https", "HTTPS"),
      host,
      port: fc.constantFrom("", ":443", ":8443", ":8080", ":1"),
      path: fc.webPath(),
    })
    .map((p) => `${p.scheme}://${p.host}${p.port}${p.path}`);

const urlish = urlishOver(hostish);
const wellFormed = wellFormedOver(hostish);

const webUrls = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.webUrl({
    validSchemes: ["http", "https", "ftp", "file"],
    authoritySettings: {
      withIPv4: true,
      withIPv6: true,
      withIPv4Extended: true,
      withUserInfo: true,
      withPort: true,
    },
  }),
);

const anyApiUrl = fc.oneof(fc.string({ unit: "binary", maxLength: 120 }), urlish, webUrls);

// ---------------------------------------------------------------- parseApiUrl + checkUrl

type UrlOutcome = { url: URL; verdicts: Record<string, UrlVerdict | "blocked"> } | "invalid";

/** parseApiUrl then checkUrl under each policy; throws anything that is not an expected refusal. */
function judgeApiUrl(raw: string): UrlOutcome {
  let url: URL;
  try {
    url = parseApiUrl(raw);
  } catch (error) {
    if (error instanceof ServiceError && error.reason === "INVALID_API_URL") return "invalid";
    throw error;
  }
  const verdicts: Record<string, UrlVerdict | "blocked"> = {};
  for (const [name, policy] of Object.entries(policies)) {
    try {
      verdicts[name] = policy.checkUrl(url);
    } catch (error) {
      if (error instanceof OutboundError && error.kind === "blocked") verdicts[name] = "blocked";
      else throw error;
    }
  }
  return { url, verdicts };
}

const literalOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1");

describe("parseApiUrl + checkUrl on arbitrary input", () => {
  it("only return, throw ServiceError INVALID_API_URL, or throw OutboundError blocked", () => {
    fc.assert(
      fc.property(anyApiUrl, (raw) => {
        judgeApiUrl(raw);
      }),
      { numRuns: 3000, seed },
    );
  });

  it("accept in production only https URLs whose literal host is a public address", () => {
    const accepted = { names: 0, literals: 0 };
    fc.assert(
      fc.property(fc.oneof(urlish, wellFormed, webUrls), (raw) => {
        const outcome = judgeApiUrl(raw);
        if (outcome === "invalid" || outcome.verdicts.production === "blocked") return;
        expect(outcome.url.protocol).toBe("https:");
        expect(outcome.verdicts.production).toEqual({ scope: "public" });
        const literal = literalOf(outcome.url);
        if (isIP(literal) === 0) {
          accepted.names++;
        } else {
          accepted.literals++;
          expect(isAddressAllowed(literal, "public")).toBe(true);
        }
      }),
      { numRuns: 3000, seed },
    );
    // The property saw both kinds of accepted URL, so it was not vacuous.
    expect(accepted.names).toBeGreaterThan(50);
    expect(accepted.literals).toBeGreaterThan(20);
  });

  it("refuse every private literal spelling in production", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          privateV4Spelling,
          privateAddress.map((a) => (a.includes(":") ? `[${a}]` : a)),
        ),
        (host) => {
          const outcome = judgeApiUrl(`https://${host}/api`);
          if (outcome === "invalid") return;
          expect(outcome.verdicts.production).toBe("blocked");
        },
      ),
      { numRuns: 1000, seed },
    );
  });

  it("accept with an allowlist only URLs matching an entry", () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(urlish, wellFormed, webUrls), (raw) => {
        const outcome = judgeApiUrl(raw);
        if (outcome === "invalid" || outcome.verdicts.allowlist === "blocked") return;
        const { protocol, hostname, port } = outcome.url;
        const ok =
          (protocol === "https:" && hostname === "api.example.com" && port === "") ||
          (protocol === "https:" && hostname.endsWith(".example.org") && port === "8443") ||
          (protocol === "http:" && hostname === "10.0.0.5" && port === "8080");
        expect(ok).toBe(true);
        accepted++;
      }),
      { numRuns: 2000, seed },
    );
    expect(accepted).toBeGreaterThan(10);
  });
});

// ---------------------------------------------------------------- checkJwtFormat

const b64 = (s: string) => base64url(s);
const jwtSegment = fc.oneof(
  fc.json().map(b64),
  fc.jsonValue().map((v) => b64(JSON.stringify(v))),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.base64String({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }).map(b64),
  fc.constant(""),
);
const header = fc.record(
  {
    alg: fc.oneof(fc.constantFrom("HS256", "none", "NONE", "", "RS256"), fc.jsonValue()),
    typ: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const payload = fc.record(
  {
    exp: fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(0, -1, 1e308, Number.MAX_SAFE_INTEGER, Math.floor(Date.now() / 1000) + 60),
      fc.jsonValue(),
    ),
    sub: fc.string(),
  },
  { requiredKeys: [] },
);
const jwtish = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.array(jwtSegment, { minLength: 0, maxLength: 5 }).map((s) => s.join(".")),
  fc.tuple(header, payload).map(([h, p]) => jwtFrom(h, p)),
  fc.tuple(header, payload, jwtSegment).map(([h, p, s]) => jwtFrom(h, p, s)),
  fc.constant(jwtFrom(hs256Header, { pad: "x".repeat(9000) })),
);

describe("checkJwtFormat on arbitrary input", () => {
  it("returns a future expiry or none, or throws ServiceError INVALID_JWT_FORMAT / TOKEN_EXPIRED", () => {
    const now = Date.now();
    fc.assert(
      fc.property(jwtish, (token) => {
        let result: { expiresAtMs?: number };
        try {
          result = checkJwtFormat(token, now);
        } catch (error) {
          expect(error).toBeInstanceOf(ServiceError);
          expect(["INVALID_JWT_FORMAT", "TOKEN_EXPIRED"]).toContain((error as ServiceError).reason);
          // The message never quotes the token.
          if (token.length >= 12) expect((error as ServiceError).message).not.toContain(token);
          return;
        }
        expect(token.split(".")).toHaveLength(3);
        if (result.expiresAtMs !== undefined) expect(result.expiresAtMs).toBeGreaterThan(now);
      }),
      { numRuns: 3000, seed },
    );
  });
});

// ---------------------------------------------------------------- no connections

// From here on the guard is driven to sockets, so nothing may point off the machine, not even if
// the guard were broken: literal hosts are loopback or 0.0.0.0 spellings, names are under the
// reserved .test TLD and resolve (through the injected resolver) only to loopback, 0.0.0.0 and
// [::], which all land on the pair's trap (127.0.0.1, [::1]) or upstream (127.0.0.2).

let pair: LoopbackPair;
beforeAll(async () => {
  pair = await startLoopbackPair();
});
afterAll(() => pair.close());

/** Connections the trap and the upstream saw so far. */
const seen = () => pair.trap.connections() + pair.upstream.connections();

/** A resolver answering `answers` for every name, recording how often it was asked. */
function fixedResolver(answers: readonly string[]): Resolver & { calls: number } {
  const resolve = async () => {
    resolve.calls++;
    return answers.map(lookupAddress);
  };
  resolve.calls = 0;
  return resolve;
}

/** Loopback and unspecified IPv4 addresses, in the spellings the URL parser folds. */
const loopbackV4Spelling = fc
  .tuple(
    fc.constantFrom("127.0.0.1", "127.0.0.2", "0.0.0.0"),
    fc.constantFrom("dotted", "decimal", "hex", "mapped", "octal"),
  )
  .map(([address, spelling]) => spell(address, spelling));

/** Literal hosts that reach loopback whatever a guard decides. */
const loopbackLiteral = fc.oneof(
  loopbackV4Spelling,
  fc.constantFrom("[::1]", "[::]", "[::ffff:127.0.0.1]", "[0:0:0:0:0:0:0:1]", "[::ffff:0.0.0.0]"),
);

/** Host names that only the injected resolver answers. */
const testName = fc.oneof(
  { arbitrary: fc.domain().map((d) => `${d}.test`), weight: 4 },
  fc.constantFrom("localhost", "api.example.test", "metadata.google.internal"),
);

/** Answers production must refuse, every one of them loopback or unspecified. */
const loopbackAnswer = fc.constantFrom(
  "127.0.0.1",
  "127.0.0.2",
  "::1",
  "::ffff:127.0.0.1",
  "::ffff:7f00:2",
  "0.0.0.0",
  "::",
  "::ffff:0.0.0.0",
);

/** Answers every profile refuses that still land on loopback. */
const unspecifiedAnswer = fc.constantFrom("0.0.0.0", "::", "::ffff:0.0.0.0");

/** Whether `address` is loopback, 0.0.0.0 or [::]: where a connection stays on this machine. */
function staysOnMachine(address: string): boolean {
  const ip = ipaddr.process(address);
  return ip.range() === "loopback" || ["0.0.0.0", "::"].includes(ip.toString());
}

/**
 * Whether anything `raw` could make a broken guard dial is on this machine:
 * it is no URL at all, or its host is a name (answered by the injected
 * resolver) or a loopback or unspecified literal.
 */
function pointsAtMachine(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return true;
  }
  const host = literalOf(url);
  return isIP(host) === 0 || staysOnMachine(host);
}

async function sendThrough(policy: OutboundPolicy, resolve: Resolver, url: URL): Promise<unknown> {
  return createGuardedHttpClient(
    policy,
    resolve,
  )({
    url,
    method: "POST",
    body: "{}",
    timeoutMs: 1000,
    maxResponseBytes: 1024,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("the guarded client with hostile DNS", () => {
  it("makes zero connections in production across 200 runs of loopback answers and literals", async () => {
    const before = seen();
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("http", "https"),
        fc.oneof(testName, loopbackLiteral),
        fc.webPath(),
        fc.array(loopbackAnswer, { minLength: 1, maxLength: 3 }),
        async (scheme, host, path, answers) => {
          const resolve = fixedResolver(answers);
          const url = new URL(`${scheme}://${host}:${pair.port}${path}`);
          expect(pointsAtMachine(url.href)).toBe(true);
          const error = await sendThrough(policies.production, resolve, url);
          expect(error).toBeInstanceOf(OutboundError);
          expect((error as OutboundError).kind).toBe("blocked");
          refused++;
          // A literal host is judged without asking DNS; a name is asked once.
          expect(resolve.calls).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200, seed },
    );
    expect(refused).toBeGreaterThanOrEqual(200);
    expect(seen() - before).toBe(0);
  });

  it("makes zero connections in development when any answer, first or not, is refused", async () => {
    const before = seen();
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.domain().map((d) => `${d}.test`),
          fc.constant("localhost"),
        ),
        fc.webPath(),
        fc.array(unspecifiedAnswer, { minLength: 1, maxLength: 2 }),
        fc.array(fc.constant("127.0.0.2"), { maxLength: 2 }),
        fc.boolean(),
        async (host, path, denied, allowed, allowedFirst) => {
          // 127.0.0.2 alone would be allowed: only the unspecified answers make this a refusal.
          const answers = allowedFirst ? [...allowed, ...denied] : [...denied, ...allowed];
          const resolve = fixedResolver(answers);
          const url = new URL(`http://${host}:${pair.port}${path}`);
          const error = await sendThrough(policies.development, resolve, url);
          expect(error).toBeInstanceOf(OutboundError);
          expect((error as OutboundError).kind).toBe("blocked");
          expect(resolve.calls).toBe(1);
          refused++;
        },
      ),
      { numRuns: 200, seed },
    );
    expect(refused).toBeGreaterThanOrEqual(200);
    expect(seen() - before).toBe(0);
  });

  it("Init with arbitrary api_urls and loopback-only DNS refuses them all with zero connections", async () => {
    const defaults = await loadConfig({ env: {} });
    const resolve = fixedResolver(["127.0.0.1", "::1", "0.0.0.0"]);
    // Hundreds of Inits from one caller: the rate limits must not be what refuses them.
    const unlimited = { burst: 1_000_000, perSecond: 1_000_000 };
    const app = createCountingApp(
      {
        ...defaults,
        limits: { ...defaults.limits, initPerCaller: unlimited, initPerSession: unlimited },
      },
      resolve,
    );
    const token = jwtFrom(hs256Header, { sub: "prop", exp: Math.floor(Date.now() / 1000) + 3600 });
    const before = seen();
    const seenReasons = new Set<string>();
    const host = fc.oneof(
      { arbitrary: testName, weight: 3 },
      loopbackLiteral,
      fc.constantFrom("[::1", "a b", "", "METADATA."),
    );
    const pointed = fc
      .tuple(
        fc.constantFrom("http", "https", "HTTPS", "ftp", "gopher"),
        fc.constantFrom("", "user:pw@"),
        host,
        fc.webPath(),
      )
      .map(([s, u, h, p]) => `${s}://${u}${h}:${pair.port}${p}`);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { arbitrary: pointed, weight: 3 },
            wellFormedOver(host),
            fc.string({ unit: "binary", maxLength: 80 }),
            urlishOver(host),
          ),
          async (apiUrl) => {
            // Whatever the guard does, nothing here may point off this machine.
            fc.pre(pointsAtMachine(apiUrl));
            fc.pre(apiUrl !== "");
            const error = await app.client
              .init({ sessionId: "prop", apiUrl, jwtToken: token })
              .then(
                () => expect.unreachable(`Init accepted ${JSON.stringify(apiUrl)}`),
                (e: unknown) => ConnectError.from(e),
              );
            expect(error.code).toBe(Code.Unauthenticated);
            const reasons = error.findDetails(ErrorInfoSchema).map((i) => i.reason);
            expect(reasons).toHaveLength(1);
            expect(["INVALID_API_URL", "API_URL_NOT_ALLOWED"]).toContain(reasons[0]);
            seenReasons.add(reasons[0] ?? "");
          },
        ),
        { numRuns: 300, seed },
      );
      expect(seen() - before).toBe(0);
      expect(app.starts()).toBe(0);
      expect(seenReasons).toEqual(new Set(["INVALID_API_URL", "API_URL_NOT_ALLOWED"]));
      expect(resolve.calls).toBeGreaterThan(20);
    } finally {
      await app.app.close();
    }
  });
});
