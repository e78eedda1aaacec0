import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcs-outbound-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Loads a YAML config whose `outbound.allowedOrigins` is `origins`. */
async function loadOrigins(origins: readonly string[]) {
  const file = join(dir, `config-${++counter}.yaml`);
  const list = origins.map((o) => `    - ${JSON.stringify(o)}`).join("\n");
  await writeFile(file, `outbound:\n  profile: production\n  allowedOrigins:\n${list}\n`);
  return loadConfig({ file, env: {} });
}

async function problems(origins: readonly string[]): Promise<readonly string[]> {
  const error = await loadOrigins(origins).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).problems;
}

describe("config outbound.allowedOrigins", () => {
  it.each([
    ["a port above 65535", "https://api.example.com:65536"],
    ["a five-digit port above 65535", "https://api.example.com:99999"],
    ["port 0", "https://api.example.com:0"],
    ["a port with a leading zero", "https://api.example.com:0443"],
    ["a wildcard before a bracketed IPv6 host", "https://*.[::1]"],
    ["a wildcard before a bracketed IPv6 host with a port", "http://*.[::1]:8080"],
  ])("names outbound.allowedOrigins[0] for %s", async (_, origin) => {
    const found = await problems([origin]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^outbound\.allowedOrigins\[0\]: /);
  });

  it("names the index of the bad entry among good ones", async () => {
    const found = await problems(["https://api.example.com", "https://api.example.com:0443"]);
    expect(found.map((p) => p.split(": ")[0])).toEqual(["outbound.allowedOrigins[1]"]);
  });

  it("accepts the port range edges and bracketed IPv6 hosts without a wildcard", async () => {
    const origins = [
      "https://api.example.com:1",
      "https://api.example.com:65535",
      "https://*.example.com:8443",
      "http://[::1]:9000",
    ];
    const config = await loadOrigins(origins);
    expect(config.outbound).toEqual({ profile: "production", allowedOrigins: origins });
  });
});
