import { describe, expect, it } from "vitest";
import { OutboundError } from "../../src/outbound/http-client.js";
import {
  createOutboundPolicy,
  type OutboundPolicy,
  type OutboundPolicyConfig,
  parseOriginPattern,
  type UrlVerdict,
} from "../../src/outbound/outbound-policy.js";

function policy(config: Partial<OutboundPolicyConfig> = {}): OutboundPolicy {
  return createOutboundPolicy({ profile: "production", allowedOrigins: [], ...config });
}

/** checkUrl's verdict, or the refusal it threw (which must be OutboundError `blocked`). */
function judge(p: OutboundPolicy, url: string): UrlVerdict | "blocked" {
  try {
    return p.checkUrl(new URL(url));
  } catch (error) {
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe("blocked");
    return "blocked";
  }
}

function refusal(p: OutboundPolicy, url: string): OutboundError {
  try {
    p.checkUrl(new URL(url));
  } catch (error) {
    return error as OutboundError;
  }
  throw new Error(`expected ${url} to be refused`);
}

const matches = (pattern: string, url: string) => parseOriginPattern(pattern).matches(new URL(url));

describe("parseOriginPattern", () => {
  it("matches an exact host, case-insensitively, and nothing that merely contains it", () => {
    const p = "https://api.example.com";
    expect(matches(p, "https://api.example.com/v1/x?q=1")).toBe(true);
    expect(matches(p, "https://API.Example.COM")).toBe(true);
    expect(matches(p, "https://evil.example.com")).toBe(false);
    expect(matches(p, "https://xapi.example.com")).toBe(false);
    expect(matches(p, "https://api.example.com.evil.test")).toBe(false);
    expect(matches(p, "https://a.api.example.com")).toBe(false);
  });

  it("matches any depth of subdomain with *. but not the bare domain or a lookalike", () => {
    const p = "https://*.example.com";
    expect(matches(p, "https://a.example.com")).toBe(true);
    expect(matches(p, "https://a.b.example.com/x")).toBe(true);
    expect(matches(p, "https://example.com")).toBe(false);
    expect(matches(p, "https://evilexample.com")).toBe(false);
    expect(matches(p, "https://a.evilexample.com")).toBe(false);
    expect(matches(p, "https://a.example.com.evil.test")).toBe(false);
    expect(matches(p, "https://a.example.co")).toBe(false);
  });

  it("without a port matches only the scheme's default port", () => {
    expect(matches("https://api.example.com", "https://api.example.com:443")).toBe(true);
    expect(matches("https://api.example.com", "https://api.example.com:8443")).toBe(false);
    expect(matches("https://api.example.com", "https://api.example.com:80")).toBe(false);
    expect(matches("http://api.example.com", "http://api.example.com:80")).toBe(true);
    expect(matches("http://api.example.com", "http://api.example.com:443")).toBe(false);
    expect(matches("https://*.example.com", "https://a.example.com:8443")).toBe(false);
  });

  it("with a port matches only that port; the default port spelled out is the default", () => {
    expect(matches("https://api.example.com:8443", "https://api.example.com:8443/x")).toBe(true);
    expect(matches("https://api.example.com:8443", "https://api.example.com")).toBe(false);
    expect(matches("https://api.example.com:8443", "https://api.example.com:8444")).toBe(false);
    expect(matches("https://api.example.com:443", "https://api.example.com")).toBe(true);
    expect(matches("http://10.0.0.5:8080", "http://10.0.0.5:8080/api")).toBe(true);
    expect(matches("http://10.0.0.5:8080", "http://10.0.0.5")).toBe(false);
    expect(matches("https://*.example.com:8443", "https://a.b.example.com:8443")).toBe(true);
  });

  it("refuses a scheme mismatch either way", () => {
    expect(matches("https://api.example.com", "http://api.example.com")).toBe(false);
    expect(matches("http://api.example.com", "https://api.example.com")).toBe(false);
    expect(matches("http://api.example.com:443", "https://api.example.com")).toBe(false);
    expect(matches("https://api.example.com", "ftp://api.example.com")).toBe(false);
  });

  it("matches IPv6 literal origins in their normalized spelling", () => {
    expect(matches("http://[::1]:8080", "http://[::1]:8080/mcp")).toBe(true);
    expect(matches("http://[::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080")).toBe(true);
    expect(matches("http://[0:0::1]:8080", "http://[::1]:8080")).toBe(true);
    expect(matches("http://[::1]:8080", "http://127.0.0.1:8080")).toBe(false);
    expect(matches("http://[::1]:8080", "http://[::2]:8080")).toBe(false);
    expect(matches("http://[::1]:8080", "http://[::1]:8081")).toBe(false);
  });

  it.each([
    "",
    "api.example.com",
    "*.example.com",
    "//api.example.com",
    "https://",
    "https://api.example.com/",
    "https://api.example.com/v1",
    "https://api.example.com?x=1",
    "https://api.example.com#x",
    "https://user@api.example.com",
    "https://user:pw@api.example.com",
    "ftp://api.example.com",
    "file:///etc/passwd",
    "https://*",
    "https://*.",
    "https://*example.com",
    "https://a.*.example.com",
    "https://*.*.example.com",
    "https://api.example.com:",
    "https://api.example.com:123456",
    "https://api.example.com:port",
    "https://exa mple.com",
    "https://[::1",
    "https://[not-ipv6]",
    " https://api.example.com",
    // Ports: above 65535, zero, or with a leading zero.
    "https://api.example.com:65536",
    "https://api.example.com:99999",
    "http://10.0.0.5:70000",
    "https://api.example.com:0",
    "https://api.example.com:00",
    "https://api.example.com:0443",
    "http://api.example.com:080",
    "https://*.example.com:08443",
    // A wildcard before a bracketed IPv6 host.
    "https://*.[::1]",
    "http://*.[::1]:8080",
    "https://*.[fd00:ec2::254]",
  ])("throws on the invalid pattern %j", (pattern) => {
    expect(() => parseOriginPattern(pattern)).toThrow();
  });

  it("accepts the port range edges 1 and 65535", () => {
    expect(matches("https://api.example.com:1", "https://api.example.com:1/x")).toBe(true);
    expect(matches("https://api.example.com:65535", "https://api.example.com:65535")).toBe(true);
    expect(matches("https://api.example.com:65535", "https://api.example.com")).toBe(false);
    expect(matches("http://[::1]:65535", "http://[::1]:65535/mcp")).toBe(true);
  });
});

describe("createOutboundPolicy: production (the default)", () => {
  const p = policy();

  it("accepts https to public names and addresses with the public scope", () => {
    expect(judge(p, "https://api.example.com/v1")).toEqual({ scope: "public" });
    expect(judge(p, "https://api.example.com:8443/v1")).toEqual({ scope: "public" });
    expect(judge(p, "https://93.184.216.34/")).toEqual({ scope: "public" });
    expect(judge(p, "https://[2606:4700:4700::1111]/")).toEqual({ scope: "public" });
  });

  it.each([
    "http://api.example.com",
    "http://93.184.216.34",
    "ftp://api.example.com",
    "file:///etc/passwd",
    "gopher://api.example.com",
    "ws://api.example.com",
  ])("refuses the non-https URL %s", (url) => {
    expect(judge(p, url)).toBe("blocked");
  });

  // Every spelling the WHATWG parser turns into a private literal, checked over https so
  // the scheme rule cannot be what refuses them.
  const privateSpellings = [
    ["decimal", "https://2130706433/"],
    ["hex", "https://0x7f000001/"],
    ["octal", "https://0177.0.0.1/"],
    ["short", "https://127.1/"],
    ["mixed hex short", "https://0x7f.1/"],
    ["octal whole", "https://017700000001/"],
    ["percent-encoded", "https://%31%32%37.0.0.1/"],
    ["full-width digits", "https://\uff11\uff12\uff17.0.0.1/"],
    ["trailing dot", "https://127.0.0.1./"],
    ["IPv4-mapped", "https://[::ffff:127.0.0.1]/"],
    ["IPv4-mapped long", "https://[0:0:0:0:0:ffff:7f00:1]/"],
    ["IPv6 loopback", "https://[::1]/"],
    ["IPv6 loopback long", "https://[0:0:0:0:0:0:0:1]/"],
    ["unspecified v4", "https://0.0.0.0/"],
    ["unspecified v6", "https://[::]/"],
    ["zero", "https://0/"],
    ["RFC 1918 10/8", "https://10.0.0.1/"],
    ["RFC 1918 decimal", "https://167772161/"],
    ["RFC 1918 172.16/12", "https://172.16.5.4/"],
    ["RFC 1918 192.168/16", "https://0xc0a80001/"],
    ["link-local", "https://169.254.1.1/"],
    ["metadata v4", "https://169.254.169.254/latest/meta-data"],
    ["metadata v4 hex", "https://0xa9fea9fe/"],
    ["metadata v4 mapped", "https://[::ffff:a9fe:a9fe]/"],
    ["metadata v6", "https://[fd00:ec2::254]/"],
    ["metadata alibaba", "https://100.100.100.200/"],
    ["CGNAT", "https://100.64.0.1/"],
    ["unique-local", "https://[fc00::1]/"],
    ["link-local v6", "https://[fe80::1]/"],
    ["multicast v4", "https://224.0.0.1/"],
    ["multicast v6", "https://[ff02::1]/"],
    ["broadcast", "https://255.255.255.255/"],
    ["broadcast hex", "https://0xffffffff/"],
    ["NAT64 loopback", "https://[64:ff9b::7f00:1]/"],
    ["6to4 loopback", "https://[2002:7f00:1::]/"],
    ["NAT64 metadata", "https://[64:ff9b::a9fe:a9fe]/"],
    ["6to4 metadata", "https://[2002:a9fe:a9fe::]/"],
  ] as const;

  it.each(privateSpellings)("refuses the %s literal %s", (_, url) => {
    expect(judge(p, url)).toBe("blocked");
  });

  it.each([
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::1]/",
    "http://0.0.0.0/",
  ])("refuses %s over http too", (url) => {
    expect(judge(p, url)).toBe("blocked");
  });

  it("refuses every kind of URL with one and the same error message", () => {
    const urls = [
      "http://api.example.com",
      "https://127.1",
      "https://[::1]",
      "https://metadata.google.internal",
      "file:///etc/passwd",
    ];
    const messages = new Set(urls.map((url) => refusal(p, url).message));
    expect(messages.size).toBe(1);
  });

  it("passes the verdict's scope on to allowsAddress", () => {
    expect(p.allowsAddress("93.184.216.34", { scope: "public" })).toBe(true);
    expect(p.allowsAddress("10.0.0.1", { scope: "public" })).toBe(false);
    expect(p.allowsAddress("10.0.0.1", { scope: "private" })).toBe(true);
    expect(p.allowsAddress("169.254.169.254", { scope: "allowlisted" })).toBe(false);
  });
});

describe("createOutboundPolicy: metadata host names", () => {
  const names = [
    "metadata",
    "metadata.google.internal",
    "METADATA.Google.Internal",
    "metadata.google.internal.",
    "metadata.google.internal%2e",
    "metadata.goog",
    "metadata.azure.internal",
    "instance-data",
    "instance-data.ec2.internal",
  ];
  const profiles = {
    production: policy(),
    development: policy({ profile: "development" }),
    "allowlisting them": policy({
      allowedOrigins: names
        .filter((n) => /^[a-z.-]+[a-z]$/.test(n))
        .flatMap((n) => [`https://${n}`, `http://${n}`]),
    }),
  };

  for (const [profile, p] of Object.entries(profiles)) {
    it.each(names)(`${profile} refuses %s over http and https`, (name) => {
      expect(judge(p, `https://${name}/computeMetadata/v1`)).toBe("blocked");
      expect(judge(p, `http://${name}/computeMetadata/v1`)).toBe("blocked");
    });
  }

  it("does not refuse names that only contain a metadata name", () => {
    const p = policy();
    expect(judge(p, "https://metadata.example.com")).toEqual({ scope: "public" });
    expect(judge(p, "https://my-metadata.google.internal.example.com")).toEqual({
      scope: "public",
    });
  });
});

describe("createOutboundPolicy: development", () => {
  const p = policy({ profile: "development" });

  it.each([
    "http://127.0.0.1:8080/api",
    "http://localhost:8080",
    "http://[::1]:8080",
    "http://2130706433:8080",
    "http://10.0.0.1",
    "https://192.168.1.1",
    "http://100.64.0.1",
    "http://[fd12::1]",
    "http://api.example.com",
    "https://93.184.216.34",
  ])("allows %s with the private scope", (url) => {
    expect(judge(p, url)).toEqual({ scope: "private" });
  });

  it.each([
    "http://169.254.169.254/latest/meta-data",
    "https://169.254.169.254",
    "http://[::ffff:169.254.169.254]",
    "http://[fd00:ec2::254]",
    "https://[fd00:ec2::254]",
    "http://100.100.100.200",
    "http://169.254.1.1",
    "http://[fe80::1]",
    "http://0.0.0.0:8080",
    "http://[::]:8080",
    "http://224.0.0.1",
    "http://[ff02::1]",
    "http://255.255.255.255",
    "http://[64:ff9b::a9fe:a9fe]",
    "http://[2002:a9fe:a9fe::]",
    "http://[64:ff9b::]",
    "http://[64:ff9b::e000:1]",
    "http://[64:ff9b::808:808]",
    "ftp://127.0.0.1",
    "file:///etc/passwd",
  ])("still refuses %s", (url) => {
    expect(judge(p, url)).toBe("blocked");
  });
});

describe("createOutboundPolicy: allowlist", () => {
  const allowedOrigins = [
    "https://api.example.com",
    "https://*.corp.example.com",
    "http://10.0.0.5:8080",
    "http://[::1]:9000",
    "http://127.0.0.1:7000",
  ];

  for (const profile of ["production", "development"] as const) {
    describe(`in the ${profile} profile`, () => {
      const p = policy({ profile, allowedOrigins });

      it.each([
        "https://api.example.com/v1",
        "https://a.corp.example.com",
        "https://a.b.corp.example.com:443/x",
        "http://10.0.0.5:8080/api",
        "http://[::1]:9000/mcp",
        "http://127.0.0.1:7000",
      ])("allows the listed %s with the allowlisted scope", (url) => {
        expect(judge(p, url)).toEqual({ scope: "allowlisted" });
      });

      it.each([
        "https://evil.example.com",
        "https://api.example.com.evil.test",
        "https://corp.example.com",
        "http://api.example.com",
        "https://api.example.com:8443",
        "https://93.184.216.34",
        "http://10.0.0.5:8081",
        "http://10.0.0.6:8080",
        "https://10.0.0.5:8080",
        "http://[::1]:9001",
        "http://localhost:7000",
        "http://127.0.0.1:7001",
        "http://2130706433:7001",
      ])("refuses the unlisted %s", (url) => {
        expect(judge(p, url)).toBe("blocked");
      });
    });
  }

  it("still refuses metadata, unspecified and multicast addresses that are listed", () => {
    const listed = [
      "https://169.254.169.254",
      "http://[fd00:ec2::254]",
      "https://100.100.100.200",
      "http://0.0.0.0:8080",
      "http://[::]:8080",
      "https://224.0.0.1",
      "http://[ff02::1]:8080",
      "https://255.255.255.255",
    ];
    const p = policy({ allowedOrigins: listed });
    expect(listed.map((url) => [url, judge(p, url)])).toEqual(
      listed.map((url) => [url, "blocked"]),
    );
  });

  it("lets listed private and NAT64 literals through (no range check but the fixed ones)", () => {
    const listed = ["http://10.1.2.3", "http://[fc00::1]:8080", "http://[64:ff9b::a00:5]"];
    const p = policy({ allowedOrigins: listed });
    expect(listed.map((url) => judge(p, url))).toEqual(
      listed.map(() => ({ scope: "allowlisted" })),
    );
  });

  it("refuses listed link-local literals, where credential endpoints live", () => {
    const listed = ["http://169.254.170.2", "http://[fe80::1]:8080", "http://[fd00:ec2::23]"];
    const p = policy({ allowedOrigins: listed });
    expect(listed.map((url) => judge(p, url))).toEqual(listed.map(() => "blocked"));
  });

  it("throws when an allowlist entry is not an origin pattern", () => {
    expect(() => policy({ allowedOrigins: ["https://api.example.com/v1"] })).toThrow();
    expect(() => policy({ allowedOrigins: ["api.example.com"] })).toThrow();
    expect(() => policy({ allowedOrigins: ["https://api.example.com:0443"] })).toThrow();
    expect(() => policy({ allowedOrigins: ["https://api.example.com:65536"] })).toThrow();
    expect(() => policy({ allowedOrigins: ["https://*.[::1]"] })).toThrow();
  });

  it("judges the IPv4 address inside listed NAT64 and 6to4 literals", () => {
    const refused = [
      "https://[64:ff9b::a9fe:a9fe]",
      "https://[2002:a9fe:a9fe::]",
      "https://[64:ff9b::6464:64c8]",
      "http://[64:ff9b::]:8080",
      "http://[2002::]:8080",
      "https://[64:ff9b::e000:1]",
      "https://[2002:e000:1::]",
    ];
    const p = policy({ allowedOrigins: refused });
    expect(refused.map((url) => [url, judge(p, url)])).toEqual(
      refused.map((url) => [url, "blocked"]),
    );
  });

  it("allows a NAT64 literal of a public address only when it is allowlisted", () => {
    const url = "https://[64:ff9b::808:808]/api";
    expect(judge(policy({ allowedOrigins: ["https://[64:ff9b::808:808]"] }), url)).toEqual({
      scope: "allowlisted",
    });
    expect(judge(policy(), url)).toBe("blocked");
    expect(judge(policy({ profile: "development" }), url)).toBe("blocked");
    expect(judge(policy({ allowedOrigins: ["https://api.example.com"] }), url)).toBe("blocked");
  });
});
