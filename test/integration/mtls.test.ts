import { randomUUID } from "node:crypto";
import { Agent } from "node:https";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { sha256hex, withApiKey } from "../support/api-key.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  authFailed,
  authFailures,
  type LoggedService,
  type MtlsFiles,
  makeAuthConfig,
  makeMtlsFiles,
  type PemIdentity,
  pemCanaries,
  startLoggedService,
} from "./auth-harness.js";
import { jsonErrorInfo, makeJwt, postJson, servicePath, useUpstream } from "./harness.js";

const apiKey = `KEYCANARY-mtls-${randomUUID()}`;

const upstream = useUpstream();
let files: MtlsFiles;
/** Client certificates required. */
let certOnly: LoggedService;
/** Client certificates and API keys required. */
let certAndKey: LoggedService;
const managers: Http2SessionManager[] = [];
const agents: Agent[] = [];

type Who = "none" | "rogue" | "good";

function identity(who: Who): Pick<PemIdentity, "cert" | "key"> | undefined {
  if (who === "none") return undefined;
  const { cert, key } = who === "good" ? files.client : files.rogue;
  return { cert, key };
}

/** An HTTP/1.1 agent trusting the CA, presenting `who`'s certificate (none: no certificate). */
function agentFor(who: Who): Agent {
  const agent = new Agent({ ca: files.ca.cert, keepAlive: false, ...identity(who) });
  agents.push(agent);
  return agent;
}

/** A gRPC client over HTTP/2 trusting the CA and presenting `who`'s certificate. */
function grpcClient(service: LoggedService, who: Who, key?: string): Client<typeof SessionService> {
  const manager = new Http2SessionManager(service.url, undefined, {
    ca: files.ca.cert,
    ...identity(who),
  });
  managers.push(manager);
  return createClient(
    SessionService,
    createGrpcTransport({
      baseUrl: service.url,
      sessionManager: manager,
      interceptors: key === undefined ? [] : [withApiKey(key)],
    }),
  );
}

beforeAll(async () => {
  files = makeMtlsFiles();
  const tls = {
    certFile: files.server.certFile,
    keyFile: files.server.keyFile,
    clientCaFile: files.ca.certFile,
  };
  certOnly = await startLoggedService(makeAuthConfig({ server: { tls } }));
  certAndKey = await startLoggedService(
    makeAuthConfig({
      server: { tls },
      auth: { apiKeys: [{ name: "backend", sha256: sha256hex(apiKey) }] },
    }),
  );
});

afterEach(() => {
  const logs = certOnly.log.text() + certAndKey.log.text();
  const canaries = [
    apiKey,
    ...pemCanaries(files.client.key),
    ...pemCanaries(files.rogue.key),
    ...pemCanaries(files.client.cert),
    ...pemCanaries(files.rogue.cert),
  ];
  expect(canaries.filter((c) => logs.includes(c))).toEqual([]);
});

afterAll(async () => {
  for (const manager of managers) manager.abort();
  for (const agent of agents) agent.destroy();
  await certOnly.server.shutdown();
  await certAndKey.server.shutdown();
  files.remove();
});

let counter = 0;
function validInit(tag: string) {
  counter += 1;
  return {
    sessionId: `mtls-${tag}-${counter}`,
    apiUrl: upstream.apiUrl("ok", `${tag}-${counter}`),
    jwtToken: makeJwt(),
  };
}
const tagOf = (input: { apiUrl: string }) => input.apiUrl.split("/").pop() ?? "";

describe("client certificates over Connect JSON (HTTP/1.1)", () => {
  it.each(["none", "rogue"] as const)(
    "refuses Init with certificate %s with 401 CLIENT_CERTIFICATE_REQUIRED, before any check",
    async (who) => {
      const input = validInit(`json-${who}`);
      const res = await postJson(`${certOnly.url}${servicePath}/Init`, input, {
        agent: agentFor(who),
      });
      expect(res.httpVersion).toBe("1.1");
      expect(res.status).toBe(401);
      expect(res.json?.code).toBe("unauthenticated");
      expect(jsonErrorInfo(res.json)?.reason).toBe("CLIENT_CERTIFICATE_REQUIRED");
      expect(upstream.validations("ok", tagOf(input))).toBe(0);
    },
  );

  it("accepts Init with a certificate the CA signed", async () => {
    const res = await postJson(`${certOnly.url}${servicePath}/Init`, validInit("json-good"), {
      agent: agentFor("good"),
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: "ok" });
  });
});

describe("client certificates over gRPC (HTTP/2)", () => {
  it.each(["none", "rogue"] as const)(
    "refuses Init with certificate %s with UNAUTHENTICATED CLIENT_CERTIFICATE_REQUIRED",
    async (who) => {
      const input = validInit(`grpc-${who}`);
      const failure = await rpcFailure(grpcClient(certOnly, who).init(input));
      expect(failure).toMatchObject({
        code: Code.Unauthenticated,
        reason: "CLIENT_CERTIFICATE_REQUIRED",
      });
      expect(upstream.validations("ok", tagOf(input))).toBe(0);
    },
  );

  it("accepts Init, and the later RPCs, with a certificate the CA signed", async () => {
    const client = grpcClient(certOnly, "good");
    const input = validInit("grpc-good");
    expect(await client.init(input)).toMatchObject({ status: "ok", reused: false });
    const headers = { authorization: `Bearer ${input.jwtToken}` };
    const tools = await client.listTools({ sessionId: input.sessionId }, { headers });
    expect(tools.tools.length).toBeGreaterThan(0);
    // The same session, the right bearer, but no certificate: refused.
    const failure = await rpcFailure(
      grpcClient(certOnly, "rogue").listTools({ sessionId: input.sessionId }, { headers }),
    );
    expect(failure.reason).toBe("CLIENT_CERTIFICATE_REQUIRED");
  });
});

describe("client certificates on POST /init", () => {
  const legacy = (tag: string) => {
    const input = validInit(tag);
    return { session_id: input.sessionId, api_url: input.apiUrl, jwt_token: input.jwtToken };
  };

  it.each(["none", "rogue"] as const)(
    "answers certificate %s with 401 error_type CLIENT_CERTIFICATE_REQUIRED",
    async (who) => {
      const body = legacy(`alias-${who}`);
      const res = await postJson(`${certOnly.url}/init`, body, { agent: agentFor(who) });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({
        status: "error",
        error_type: "CLIENT_CERTIFICATE_REQUIRED",
      });
      expect(upstream.validations("ok", body.api_url.split("/").pop() ?? "")).toBe(0);
    },
  );

  it("answers 200 with a certificate the CA signed", async () => {
    const res = await postJson(`${certOnly.url}/init`, legacy("alias-good"), {
      agent: agentFor("good"),
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
  });
});

describe("failed client certificate checks in the audit log", () => {
  it.each(["none", "rogue"] as const)(
    "records certificate %s as CLIENT_CERTIFICATE_REQUIRED for RPCs and POST /init",
    async (who) => {
      const rpc = () => rpcFailure(grpcClient(certOnly, who).init(validInit(`audit-${who}`)));
      expect(await authFailures(certOnly, rpc)).toEqual(authFailed("CLIENT_CERTIFICATE_REQUIRED"));
      const input = validInit(`audit-alias-${who}`);
      const body = {
        session_id: input.sessionId,
        api_url: input.apiUrl,
        jwt_token: input.jwtToken,
      };
      const alias = () => postJson(`${certOnly.url}/init`, body, { agent: agentFor(who) });
      expect(await authFailures(certOnly, alias)).toEqual(
        authFailed("CLIENT_CERTIFICATE_REQUIRED"),
      );
    },
  );

  it("records a missing key behind a good certificate, and nothing once both are there", async () => {
    const noKey = () => rpcFailure(grpcClient(certAndKey, "good").init(validInit("audit-k1")));
    expect(await authFailures(certAndKey, noKey)).toEqual(authFailed("API_KEY_REQUIRED"));
    const both = () => grpcClient(certAndKey, "good", apiKey).init(validInit("audit-k2"));
    expect(await authFailures(certAndKey, both)).toEqual([]);
  });
});

describe("client certificates and API keys together", () => {
  it("needs the certificate even with the key", async () => {
    const failure = await rpcFailure(grpcClient(certAndKey, "rogue", apiKey).init(validInit("k1")));
    expect(failure).toMatchObject({
      code: Code.Unauthenticated,
      reason: "CLIENT_CERTIFICATE_REQUIRED",
    });
  });

  it("needs the key even with the certificate", async () => {
    const failure = await rpcFailure(grpcClient(certAndKey, "good").init(validInit("k2")));
    expect(failure).toMatchObject({ code: Code.Unauthenticated, reason: "API_KEY_REQUIRED" });
    const res = await postJson(`${certAndKey.url}/init`, validInit("k3"), {
      agent: agentFor("good"),
    });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error_type: "API_KEY_REQUIRED" });
  });

  it("accepts both", async () => {
    expect(await grpcClient(certAndKey, "good", apiKey).init(validInit("k4"))).toMatchObject({
      status: "ok",
    });
    const res = await postJson(`${certAndKey.url}/init`, validInit("k5"), {
      agent: agentFor("good"),
      headers: { "x-api-key": apiKey },
    });
    expect(res.status).toBe(200);
  });
});
