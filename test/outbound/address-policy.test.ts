import { describe, expect, it } from "vitest";
import { type AddressScope, isAddressAllowed } from "../../src/outbound/address-policy.js";

type Verdicts = Readonly<Record<AddressScope, boolean>>;

// public / private / allowlisted
const denied: Verdicts = { public: false, private: false, allowlisted: false };
const privateOnly: Verdicts = { public: false, private: true, allowlisted: true };
const allowlistedOnly: Verdicts = { public: false, private: false, allowlisted: true };
const everywhere: Verdicts = { public: true, private: true, allowlisted: true };

const table: Record<string, readonly [string, Verdicts][]> = {
  "loopback v4": [
    ["127.0.0.1", privateOnly],
    ["127.255.255.254", privateOnly],
  ],
  "loopback v6": [
    ["::1", privateOnly],
    ["0:0:0:0:0:0:0:1", privateOnly],
    ["[::1]", privateOnly],
  ],
  "RFC 1918": [
    ["10.0.0.1", privateOnly],
    ["10.255.255.255", privateOnly],
    ["172.16.0.1", privateOnly],
    ["172.31.255.254", privateOnly],
    ["192.168.0.1", privateOnly],
    ["192.168.255.254", privateOnly],
  ],
  "link-local v4 (container and instance credential endpoints)": [
    ["169.254.0.1", denied],
    ["169.254.170.2", denied],
    ["169.254.255.254", denied],
  ],
  "cloud metadata": [
    ["169.254.169.254", denied],
    ["::ffff:169.254.169.254", denied],
    ["fd00:ec2::254", denied],
    ["fd00:ec2:0:0:0:0:0:254", denied],
    ["[fd00:ec2::254]", denied],
    ["100.100.100.200", denied],
  ],
  "CGNAT 100.64/10": [
    ["100.64.0.1", privateOnly],
    ["100.127.255.254", privateOnly],
  ],
  "unique-local fc00::/7": [
    ["fc00::1", privateOnly],
    ["fd12:3456:789a::1", privateOnly],
  ],
  "link-local fe80::/10": [
    ["fe80::1", denied],
    ["febf:ffff::1", denied],
  ],
  "AWS instance services fd00:ec2::/32": [
    ["fd00:ec2::23", denied],
    ["fd00:ec2:ffff::1", denied],
  ],
  multicast: [
    ["224.0.0.1", denied],
    ["239.255.255.250", denied],
    ["ff02::1", denied],
    ["ff0e::fb", denied],
    ["::ffff:224.0.0.1", denied],
  ],
  "unspecified and broadcast": [
    ["0.0.0.0", denied],
    ["0.1.2.3", denied],
    ["::", denied],
    ["::ffff:0.0.0.0", denied],
    ["255.255.255.255", denied],
  ],
  "IPv4-mapped IPv6 (judged as the IPv4 address)": [
    ["::ffff:127.0.0.1", privateOnly],
    ["::ffff:7f00:1", privateOnly],
    ["::ffff:10.0.0.1", privateOnly],
    ["::ffff:93.184.216.34", everywhere],
  ],
  "translation prefixes (NAT64, 6to4)": [
    ["64:ff9b::7f00:1", allowlistedOnly],
    ["2002:7f00:1::", allowlistedOnly],
    ["64:ff9b::a00:1", allowlistedOnly],
  ],
  // The IPv4 address a NAT64 or 6to4 gateway would forward to is judged as well.
  "translation prefixes carrying metadata": [
    ["64:ff9b::a9fe:a9fe", denied],
    ["64:ff9b:0:0:0:0:a9fe:a9fe", denied],
    ["64:ff9b::169.254.169.254", denied],
    ["[64:ff9b::a9fe:a9fe]", denied],
    ["64:ff9b::6464:64c8", denied],
    ["2002:a9fe:a9fe::", denied],
    ["2002:a9fe:a9fe:1::5", denied],
    ["2002:6464:64c8::", denied],
  ],
  "translation prefixes carrying unspecified, multicast or broadcast": [
    ["64:ff9b::", denied],
    ["64:ff9b::0.0.0.0", denied],
    ["2002::", denied],
    ["64:ff9b::e000:1", denied],
    ["64:ff9b::224.0.0.1", denied],
    ["2002:e000:1::", denied],
    ["64:ff9b::ffff:ffff", denied],
    ["2002:ffff:ffff::", denied],
  ],
  "translation prefixes carrying a public address (allowed only when allowlisted)": [
    ["64:ff9b::808:808", allowlistedOnly],
    ["64:ff9b::8.8.8.8", allowlistedOnly],
    ["2002:808:808::", allowlistedOnly],
  ],
  "IPv4-compatible and SIIT-translated IPv6, which reach the IPv4 address inside": [
    ["::a9fe:a9fe", denied],
    ["::7f00:1", denied],
    ["::808:808", denied],
    ["::ffff:0:a9fe:a9fe", denied],
  ],
  "IPv4 spellings a resolver could hand back": [
    ["2130706433", privateOnly],
    ["0x7f000001", privateOnly],
    ["0177.0.0.1", privateOnly],
    ["127.1", privateOnly],
  ],
  "public v4": [
    ["93.184.216.34", everywhere],
    ["8.8.8.8", everywhere],
    ["172.32.0.1", everywhere],
    ["100.128.0.1", everywhere],
    ["169.255.0.1", everywhere],
  ],
  "public v6": [
    ["2606:4700:4700::1111", everywhere],
    ["2a00:1450:4001:80b::200e", everywhere],
    ["[2606:4700:4700::1111]", everywhere],
  ],
  "not an address": [
    ["", denied],
    ["localhost", denied],
    ["example.com", denied],
    ["127.0.0.1.", denied],
    ["1.2.3.4.5", denied],
    ["256.1.1.1", denied],
    ["127.0.0.1:80", denied],
    [" 127.0.0.1", denied],
    ["::g", denied],
    ["[::1", denied],
    ["[[::1]]", denied],
    ["1:2:3:4:5:6:7:8:9", denied],
  ],
};

const scopes: AddressScope[] = ["public", "private", "allowlisted"];

describe("isAddressAllowed", () => {
  for (const [group, rows] of Object.entries(table)) {
    describe(group, () => {
      it.each(rows.flatMap(([address, verdicts]) => scopes.map((s) => [address, s, verdicts[s]])))(
        "%j in scope %s -> %s",
        (address, scope, allowed) => {
          expect(isAddressAllowed(address as string, scope as AddressScope)).toBe(allowed);
        },
      );
    });
  }

  it("allows exactly public unicast in the public scope among mixed neighbours", () => {
    // Range edges: one address either side of 10/8, 172.16/12, 192.168/16 and 100.64/10.
    const edges: [string, boolean][] = [
      ["9.255.255.255", true],
      ["11.0.0.0", true],
      ["172.15.255.255", true],
      ["172.32.0.0", true],
      ["192.167.255.255", true],
      ["192.169.0.0", true],
      ["100.63.255.255", true],
      ["100.128.0.0", true],
      ["10.0.0.0", false],
      ["172.16.0.0", false],
      ["192.168.0.0", false],
      ["100.64.0.0", false],
    ];
    expect(edges.map(([a]) => [a, isAddressAllowed(a, "public")])).toEqual(edges);
  });
});
