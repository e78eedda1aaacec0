import ipaddr from "ipaddr.js";

/** Which addresses a connection may go to. */
export type AddressScope =
  /** Public unicast addresses only. */
  | "public"
  /** Public, loopback and private (RFC 1918, unique-local, CGNAT) addresses. */
  | "private"
  /** Any address but those in `alwaysDenied`: the origin was allowlisted by the operator. */
  | "allowlisted";

// Cloud metadata endpoints: reachable from inside a VM and full of credentials.
const metadataAddresses = new Set(["169.254.169.254", "fd00:ec2::254", "100.100.100.200"]);
// AWS's IPv6 instance services (metadata, time, DNS) live in fd00:ec2::/32.
const awsInstanceServices = ipaddr.parseCIDR("fd00:ec2::/32");
// Ranges no API can live at, allowlisted or not. Link-local holds the
// container and instance credential endpoints (169.254.170.2, ...).
const alwaysDenied = new Set(["unspecified", "broadcast", "multicast", "linkLocal"]);
const privateRanges = new Set(["loopback", "private", "uniqueLocal", "carrierGradeNat"]);

/**
 * Whether a connection to `address` (an IP literal, any spelling the URL
 * parser or the resolver produces) is allowed within `scope`. IPv4-mapped
 * IPv6 addresses are judged as the IPv4 address they carry, and the IPv4
 * address inside a NAT64 or 6to4 address is never a metadata, unspecified or
 * multicast one; anything that is not a valid address is denied.
 */
export function isAddressAllowed(address: string, scope: AddressScope): boolean {
  const literal = address.replace(/^\[(.*)\]$/, "$1");
  if (!ipaddr.isValid(literal)) return false;
  const ip = ipaddr.process(literal);
  const embedded = embeddedIPv4(ip);
  const names = [ip.toString(), ip.toNormalizedString(), embedded?.toString()];
  if (names.some((name) => name !== undefined && metadataAddresses.has(name))) return false;
  if (embedded && alwaysDenied.has(embedded.range())) return false;
  const range = ip.range();
  if (alwaysDenied.has(range)) return false;
  if (ip.kind() === "ipv6" && ip.match(awsInstanceServices)) return false;
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated) looks "unicast" but reaches IPv4.
  if (ip.kind() === "ipv6" && range === "unicast" && isIPv4Compatible(ip as ipaddr.IPv6)) {
    return false;
  }
  if (range === "unicast") return true;
  if (scope === "allowlisted") return true;
  return scope === "private" && privateRanges.has(range);
}

// NAT64 (64:ff9b::/96), SIIT (::ffff:0:a.b.c.d) and 6to4 (2002::/16) addresses carry an IPv4 address
// that a gateway may forward to; judge that one too.
function embeddedIPv4(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | undefined {
  if (ip.kind() !== "ipv6") return undefined;
  const parts = (ip as ipaddr.IPv6).parts;
  const range = ip.range();
  const [high, low] =
    range === "rfc6052" || range === "rfc6145"
      ? [parts[6], parts[7]]
      : range === "6to4"
        ? [parts[1], parts[2]]
        : [];
  if (high === undefined || low === undefined) return undefined;
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function isIPv4Compatible(ip: ipaddr.IPv6): boolean {
  return ip.parts.slice(0, 6).every((part) => part === 0);
}
