import { connect as http2Connect } from "node:http2";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  jsonErrorInfo,
  makeCertificate,
  makeConfig,
  makeJwt,
  postJson,
  type Service,
  servicePath,
  startService,
  type TestCertificate,
  useUpstream,
} from "./harness.js";

const upstream = useUpstream();
let certificate: TestCertificate;
let service: Service;
let h2: Http2SessionManager;

beforeAll(async () => {
  certificate = makeCertificate();
  const { certFile, keyFile } = certificate;
  service = await startService(makeConfig({ server: { tls: { certFile, keyFile } } }));
  h2 = new Http2SessionManager(service.url, undefined, { ca: certificate.cert });
});

afterAll(async () => {
  h2.abort();
  await service.server.shutdown();
  certificate.remove();
});

describe("TLS on one port", () => {
  it("serves https URLs", () => {
    expect(service.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("serves Connect JSON over HTTP/1.1 (no ALPN)", async () => {
    const url = `${service.url}${servicePath}/Init`;
    const input = { sessionId: "tls-h1", apiUrl: upstream.apiUrl("ok", "h1"), jwtToken: makeJwt() };
    const ok = await postJson(url, input, { ca: certificate.cert });
    expect(ok.httpVersion).toBe("1.1");
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: "ok" });
    const bad = await postJson(url, { ...input, jwtToken: "x" }, { ca: certificate.cert });
    expect(bad.status).toBe(401);
    expect(jsonErrorInfo(bad.json)?.reason).toBe("INVALID_JWT_FORMAT");
  });

  it("serves the POST /init alias over HTTP/1.1", async () => {
    const res = await postJson(
      `${service.url}/init`,
      { session_id: "tls-alias", apiUrl: upstream.apiUrl("ok", "alias"), jwtToken: makeJwt() },
      { ca: certificate.cert },
    );
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
  });

  it("rejects clients that do not trust the certificate", async () => {
    await expect(postJson(`${service.url}/init`, {})).rejects.toMatchObject({
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
  });

  it("negotiates h2 by ALPN", async () => {
    const session = http2Connect(service.url, { ca: certificate.cert });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once("connect", () => resolve());
        session.once("error", reject);
      });
      expect(session.alpnProtocol).toBe("h2");
    } finally {
      session.close();
    }
  });

  it("serves gRPC over HTTP/2 with the CA", async () => {
    const client = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
    );
    const input = { sessionId: "tls-h2", apiUrl: upstream.apiUrl("ok", "h2"), jwtToken: makeJwt() };
    expect(await client.init(input)).toMatchObject({ status: "ok", reused: false });
    expect(await client.init(input)).toMatchObject({ status: "ok", reused: true });
    expect(upstream.validations("ok", "h2")).toBe(1);
    const failure = await rpcFailure(
      client.init({ ...input, apiUrl: upstream.apiUrl("reject", "h2") }),
    );
    expect(failure).toMatchObject({ code: Code.Unauthenticated, reason: "CREDENTIALS_REJECTED" });
  });

  it("serves gRPC over HTTP/2 with nodeOptions.ca (no shared manager)", async () => {
    const transport = createGrpcTransport({
      baseUrl: service.url,
      nodeOptions: { ca: certificate.cert },
      idleConnectionTimeoutMs: 50,
    });
    const client = createClient(SessionService, transport);
    const input = {
      sessionId: "tls-h2-own",
      apiUrl: upstream.apiUrl("ok", "own"),
      jwtToken: makeJwt(),
    };
    expect(await client.init(input)).toMatchObject({ status: "ok" });
  });
});
