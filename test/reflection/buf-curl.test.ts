import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAuthConfig } from "../integration/auth-harness.js";
import { type Service, startService } from "../integration/harness.js";
import { sha256hex } from "../support/api-key.js";
import { repoPath } from "../support/repo-paths.js";

const buf = repoPath("node_modules/.bin/buf");

/** What one `buf curl` run printed and its exit code (a gRPC code shifted left by 3 on RPC failure). */
interface BufResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `buf curl --protocol grpc --http2-prior-knowledge ...args` with no
 * local schema: everything it knows comes from server reflection. Async,
 * because the server runs in this very process.
 */
function bufCurl(args: string[]): Promise<BufResult> {
  return new Promise((resolve) => {
    execFile(
      buf,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? Number(error.code ?? -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

describe("buf curl over gRPC, schema from reflection only", () => {
  let service: Service;
  let base: string;

  beforeAll(async () => {
    service = await startService();
    base = `http://127.0.0.1:${service.server.port}`;
  });

  afterAll(async () => {
    await service.server.shutdown();
  });

  it("lists services", async () => {
    const result = await bufCurl(["--list-services", base]);
    expect(result).toMatchObject({ code: 0 });
    expect(lines(result.stdout)).toEqual(
      expect.arrayContaining([
        "mcpclient.v1.SessionService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it.each([["grpc-v1"], ["grpc-v1alpha"]])(
    "lists methods with reflection protocol %s",
    async (protocol) => {
      const result = await bufCurl(["--reflect-protocol", protocol, "--list-methods", base]);
      expect(result).toMatchObject({ code: 0 });
      expect(lines(result.stdout)).toEqual(
        expect.arrayContaining([
          "mcpclient.v1.SessionService/Init",
          "mcpclient.v1.SessionService/ListTools",
          "mcpclient.v1.SessionService/CallTool",
          "mcpclient.v1.SessionService/CloseSession",
        ]),
      );
    },
  );

  it("calls a method it only knows from reflection", async () => {
    const result = await bufCurl([
      "-H",
      "authorization: Bearer a.b.c",
      "-d",
      '{"sessionId":"reflection-unknown"}',
      `${base}/mcpclient.v1.SessionService/CloseSession`,
    ]);
    expect(result).toMatchObject({ code: 0 });
    expect(JSON.parse(result.stdout)).toEqual({});
  });

  it("fails for a method the server does not describe", async () => {
    const result = await bufCurl(["-d", "{}", `${base}/mcpclient.v1.SessionService/NoSuchMethod`]);
    expect(result.code).not.toBe(0);
  });
});

describe("buf curl with API keys", () => {
  const key = "buf-curl-reflection-key";
  const apiKeys = [{ name: "backend", sha256: sha256hex(key) }];
  const started: Service[] = [];

  afterAll(async () => {
    await Promise.all(started.map((s) => s.server.shutdown()));
  });

  async function baseUrl(auth: Record<string, unknown>): Promise<string> {
    const service = await startService(makeAuthConfig({ auth }));
    started.push(service);
    return `http://127.0.0.1:${service.server.port}`;
  }

  it("needs the key for reflection, sent with --reflect-header", async () => {
    const base = await baseUrl({ apiKeys });
    const refused = await bufCurl(["--list-services", base]);
    // A refused reflection stream is a setup failure for buf curl (exit 1), and
    // it words UNAUTHENTICATED as a Buf registry login problem.
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not authenticated/);
    const allowed = await bufCurl([
      "--reflect-header",
      `x-api-key: ${key}`,
      "--list-services",
      base,
    ]);
    expect(allowed).toMatchObject({ code: 0 });
    expect(lines(allowed.stdout)).toContain("mcpclient.v1.SessionService");
  });

  it("answers reflection without a key when auth.anonymous.reflection is true", async () => {
    const base = await baseUrl({ apiKeys, anonymous: { reflection: true } });
    const listed = await bufCurl(["--list-methods", base]);
    expect(listed).toMatchObject({ code: 0 });
    expect(lines(listed.stdout)).toContain("mcpclient.v1.SessionService/CallTool");
    // The services themselves still need the key.
    const call = await bufCurl([
      "-d",
      '{"sessionId":"x"}',
      `${base}/mcpclient.v1.SessionService/CloseSession`,
    ]);
    // An RPC failure exits with its gRPC code shifted left by three: 16 UNAUTHENTICATED.
    expect(call.code).toBe(16 << 3);
  });
});
