import { type AddressScope, isAddressAllowed } from "./address-policy.js";
import { OutboundError } from "./http-client.js";

/** The operator's outbound rules (config key `outbound`). */
export interface OutboundPolicyConfig {
  /**
   * `production`: https only, public addresses only. `development`: http
   * too, and loopback and private addresses. Origins in `allowedOrigins`
   * follow their own entry instead.
   */
  readonly profile: "production" | "development";
  /**
   * When not empty, the only origins that may be called: `scheme://host` or
   * `scheme://host:port`, where host may start with `*.` to match any
   * subdomain. Without a port only the scheme's default port matches.
   */
  readonly allowedOrigins: readonly string[];
}

/** What the policy decided about a URL, for judging the addresses it resolves to. */
export interface UrlVerdict {
  readonly scope: AddressScope;
}

/** One guard for every outbound call. */
export interface OutboundPolicy {
  /**
   * Judges a URL before any connection: scheme, allowlist, metadata host
   * names and literal IP addresses. Throws OutboundError `blocked`.
   */
  checkUrl(url: URL): UrlVerdict;
  /** Whether a resolved address may be connected to for a URL with this verdict. */
  allowsAddress(address: string, verdict: UrlVerdict): boolean;
}

// Names that lead to cloud metadata services whatever they resolve to here.
const metadataHosts = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "metadata.azure.internal",
  "instance-data",
  "instance-data.ec2.internal",
]);

/** The error for every refusal, alike so that refusals do not tell which rule applied. */
export function blocked(cause?: unknown): OutboundError {
  return new OutboundError("blocked", "the URL is not allowed by the outbound policy", { cause });
}

/** Builds the policy. Throws on an allowlist entry that is not an origin pattern. */
export function createOutboundPolicy(config: OutboundPolicyConfig): OutboundPolicy {
  const allowlist = config.allowedOrigins.map(parseOriginPattern);
  const development = config.profile === "development";
  return {
    checkUrl(url) {
      const host = url.hostname.toLowerCase().replace(/\.$/, "");
      if (metadataHosts.has(host)) throw blocked();
      let verdict: UrlVerdict;
      if (allowlist.length > 0) {
        if (!allowlist.some((pattern) => pattern.matches(url))) throw blocked();
        verdict = { scope: "allowlisted" };
      } else if (url.protocol === "https:" || (development && url.protocol === "http:")) {
        verdict = { scope: development ? "private" : "public" };
      } else {
        throw blocked();
      }
      const literal = host.replace(/^\[(.*)\]$/, "$1");
      if (isIpLiteral(literal) && !isAddressAllowed(literal, verdict.scope)) throw blocked();
      return verdict;
    },
    allowsAddress(address, verdict) {
      return isAddressAllowed(address, verdict.scope);
    },
  };
}

interface OriginPattern {
  matches(url: URL): boolean;
}

/** Parses `scheme://host[:port]` with an optional `*.` host prefix. */
export function parseOriginPattern(pattern: string): OriginPattern {
  const match = /^(https?):\/\/(\*\.)?([^/:*?#@[\]]+|\[[0-9a-fA-F:.]+\])(?::([1-9]\d{0,4}))?$/.exec(
    pattern,
  );
  const [, scheme, wildcard, rawHost = "", port] = match ?? [];
  const validPort = port === undefined || Number(port) <= 65535;
  if (!match || !validPort || (wildcard && rawHost.startsWith("["))) {
    throw new Error(`"${pattern}" is not an origin such as https://api.example.com`);
  }
  const host = new URL(`${scheme}://${rawHost}`).hostname;
  const defaultPort = scheme === "https" ? "443" : "80";
  return {
    matches(url) {
      if (url.protocol !== `${scheme}:`) return false;
      if ((url.port || defaultPort) !== (port ?? defaultPort)) return false;
      const candidate = url.hostname.toLowerCase();
      return wildcard ? candidate.endsWith(`.${host}`) : candidate === host;
    },
  };
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
