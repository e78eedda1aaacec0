import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { createGuardedFetch } from "../../src/outbound/guarded-fetch.js";
import type { Resolver } from "../../src/outbound/guarded-lookup.js";
import { OutboundError } from "../../src/outbound/http-client.js";
import { createOutboundPolicy } from "../../src/outbound/outbound-policy.js";
import { type HttpMcpFixture, startHttpMcpServer } from "../mcp/fixtures/http-mcp-server.js";
import { startLoopbackPair } from "../support/counting-listener.js";
import { tableResolver } from "../support/fake-resolver.js";
import { createLoopbackPool, type LoopbackServer } from "../support/loopback-server.js";

const { serve, closeAll } = createLoopbackPool();
const fixtures: HttpMcpFixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
  await closeAll();
});

/** The guarded fetch the MCP transport gets: only `origins` are reachable. */
function guardedFetch(origins: string[], resolve?: Resolver) {
  return createGuardedFetch(
    createOutboundPolicy({ profile: "production", allowedOrigins: origins }),
    resolve,
  );
}

async function blocked(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => expect.unreachable("expected a refusal"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  expect((error as OutboundError).kind).toBe("blocked");
}

const ok = (_req: unknown, res: { end(body: string): void }) => res.end("ok");

describe("createGuardedFetch", () => {
  let a: LoopbackServer;
  let b: LoopbackServer;

  async function twoServers(): Promise<void> {
    a = await serve(ok);
    b = await serve(ok);
  }

  it("fetches from the allowlisted origin", async () => {
    await twoServers();
    const fetch = guardedFetch([a.origin]);
    const response = await fetch(`${a.origin}/mcp`, { method: "POST", body: "{}" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok");
    expect(a.requests.map((r) => [r.method, r.path])).toEqual([["POST", "/mcp"]]);
  });

  it("refuses another port on the same address without connecting to it", async () => {
    await twoServers();
    const fetch = guardedFetch([a.origin]);
    await blocked(fetch(`${b.origin}/mcp`));
    await blocked(fetch(new URL(`http://2130706433:${b.port}/mcp`)));
    expect(b.connections()).toBe(0);
  });

  it("refuses the allowlisted port under another host name without connecting", async () => {
    await twoServers();
    const resolve = tableResolver({ localhost: ["127.0.0.1"] });
    const fetch = guardedFetch([a.origin], resolve);
    await blocked(fetch(`http://localhost:${a.port}/mcp`));
    await blocked(fetch(`http://[::ffff:127.0.0.1]:${a.port}/mcp`));
    expect(a.connections()).toBe(0);
    expect(resolve.calls).toEqual([]);
  });

  it("refuses a non-allowlisted scheme for the allowlisted address", async () => {
    await twoServers();
    const fetch = guardedFetch([a.origin]);
    await blocked(fetch(`https://127.0.0.1:${a.port}/mcp`));
    expect(a.connections()).toBe(0);
  });

  it("connects an allowlisted name only to the address it checked", async () => {
    // The good answer is 127.0.0.2 (the pair's upstream); every bad answer is 0.0.0.0 or [::]
    // (which land on the trap) or the allowed 127.0.0.2 before a denied address, so a guard that
    // connected anyway would be counted and never leave loopback.
    const pair = await startLoopbackPair();
    try {
      const origin = `http://mcp.test:${pair.port}`;
      const good = guardedFetch([origin], tableResolver({ "mcp.test": ["127.0.0.2"] }));
      expect((await good(`${origin}/mcp`)).status).toBe(200);
      expect(pair.upstream.heads()[0]).toMatch(
        new RegExp(`\r\nhost: mcp\\.test:${pair.port}\r\n`, "i"),
      );

      const badAnswers = [
        ["0.0.0.0"],
        ["::"],
        ["::ffff:0.0.0.0"],
        ["0.0.0.0", "127.0.0.2"],
        ["127.0.0.2", "169.254.169.254"],
        ["127.0.0.2", "fd00:ec2::254"],
        ["127.0.0.2", "100.100.100.200"],
        ["127.0.0.2", "64:ff9b::a9fe:a9fe"],
        ["127.0.0.2", "2002:a9fe:a9fe::"],
        ["127.0.0.2", "224.0.0.1"],
        ["127.0.0.2", "ff02::1"],
      ];
      for (const answers of badAnswers) {
        const bad = guardedFetch([origin], tableResolver({ "mcp.test": answers }));
        await blocked(bad(`${origin}/mcp`));
      }
      await blocked(guardedFetch([origin], tableResolver({}))(`${origin}/mcp`));
      expect(pair.upstream.connections()).toBe(1);
      expect(pair.trap.connections()).toBe(0);
    } finally {
      await pair.close();
    }
  });

  it.each([301, 302, 303, 307, 308])(
    "returns a %i from the allowlisted origin instead of following it to another origin",
    async (status) => {
      b = await serve(ok);
      a = await serve((_req, res) => {
        res.writeHead(status, { location: `${b.origin}/elsewhere` }).end();
      });
      const fetch = guardedFetch([a.origin]);
      // The fetch default is redirect: "follow"; the guard must hand the 3xx back instead.
      const response = await fetch(`${a.origin}/mcp`, { method: "POST", body: "{}" });
      expect(response.status).toBe(status);
      expect(response.headers.get("location")).toBe(`${b.origin}/elsewhere`);
      expect(a.requests.map((r) => [r.method, r.path])).toEqual([["POST", "/mcp"]]);
      expect(b.connections()).toBe(0);
    },
  );

  it("returns the 3xx even when the caller asks to follow redirects", async () => {
    b = await serve(ok);
    a = await serve((_req, res) => {
      res.writeHead(302, { location: `${b.origin}/elsewhere` }).end();
    });
    const fetch = guardedFetch([a.origin, b.origin]);
    // Even with B allowlisted too: a followed redirect would skip checkUrl.
    const response = await fetch(`${a.origin}/mcp`, { redirect: "follow" });
    expect(response.status).toBe(302);
    expect(b.connections()).toBe(0);
  });
});

describe("Streamable HTTP MCP transport through the guard", () => {
  async function connect(url: string, origins: string[]): Promise<Client> {
    const client = new Client({ name: "guard-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      fetch: guardedFetch(origins),
    });
    await client.connect(transport);
    return client;
  }

  it("lists and calls tools on the allowlisted server", async () => {
    const fixture = await startHttpMcpServer();
    fixtures.push(fixture);
    const client = await connect(fixture.url, [new URL(fixture.url).origin]);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
      const result = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
      expect(result.structuredContent).toEqual({ sum: 5 });
    } finally {
      await client.close();
    }
  });

  it("cannot reach a server on another port: connect fails and it sees no connection", async () => {
    const allowed = await startHttpMcpServer();
    const other = await serve(ok);
    fixtures.push(allowed);
    await expect(
      connect(`${other.origin}/mcp`, [new URL(allowed.url).origin]),
    ).rejects.toBeDefined();
    expect(other.connections()).toBe(0);
    expect(allowed.requests).toHaveLength(0);
  });

  it("does not follow the allowlisted server's redirect to another origin", async () => {
    const target = await startHttpMcpServer();
    fixtures.push(target);
    const redirecting = await serve((_req, res) => {
      res.writeHead(307, { location: target.url }).end();
    });
    await expect(connect(`${redirecting.origin}/mcp`, [redirecting.origin])).rejects.toBeDefined();
    expect(redirecting.requests.length).toBeGreaterThan(0);
    expect(target.requests).toHaveLength(0);
  });
});
