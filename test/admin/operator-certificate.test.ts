import { toJsonString } from "@bufbuild/protobuf";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ListSessionsResponseSchema,
  SessionAdminService,
  SessionState,
} from "../../gen/mcpclient/v1/session_admin_service_pb.js";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import {
  type LoggedService,
  type MtlsFiles,
  makeAuthConfig,
  makeMtlsFiles,
  startLoggedService,
} from "../integration/auth-harness.js";
import { makeJwt, startUpstream, type Upstream } from "../integration/harness.js";
import { tokenParts } from "../security/proc.js";
import { rpcFailure } from "../support/rpc-failure.js";

const subject = "ops-console";

let files: MtlsFiles;
let upstream: Upstream;
/** Trusts `subject` as an operator. */
let operatorService: LoggedService;
/** Accepts `subject`'s certificate, but names another subject as the operator. */
let clientService: LoggedService;
const managers: Http2SessionManager[] = [];

/** A gRPC transport over HTTP/2 to `service`, presenting the CA-signed client certificate. */
function transportTo(service: LoggedService) {
  const manager = new Http2SessionManager(service.url, undefined, {
    ca: files.ca.cert,
    cert: files.client.cert,
    key: files.client.key,
  });
  managers.push(manager);
  return createGrpcTransport({ baseUrl: service.url, sessionManager: manager });
}

function clients(service: LoggedService): {
  sessions: Client<typeof SessionService>;
  admin: Client<typeof SessionAdminService>;
} {
  const transport = transportTo(service);
  return {
    sessions: createClient(SessionService, transport),
    admin: createClient(SessionAdminService, transport),
  };
}

beforeAll(async () => {
  files = makeMtlsFiles(subject);
  upstream = await startUpstream();
  const tls = {
    certFile: files.server.certFile,
    keyFile: files.server.keyFile,
    clientCaFile: files.ca.certFile,
  };
  operatorService = await startLoggedService(
    makeAuthConfig({ server: { tls }, auth: { operatorCertificates: [subject] } }),
  );
  clientService = await startLoggedService(
    makeAuthConfig({ server: { tls }, auth: { operatorCertificates: ["someone-else"] } }),
  );
});

afterAll(async () => {
  for (const manager of managers) manager.abort();
  await operatorService?.server.shutdown();
  await clientService?.server.shutdown();
  await upstream?.close();
  files?.remove();
});

describe("an operator certificate over gRPC (HTTP/2, mTLS)", () => {
  it("lists the sessions for a certificate subject configured as operator", async () => {
    const { sessions, admin } = clients(operatorService);
    const token = makeJwt();
    await sessions.init({
      sessionId: "cert-1",
      apiUrl: upstream.apiUrl("ok", "c1"),
      jwtToken: token,
    });
    const res = await admin.listSessions({});
    expect(res.sessions.map((s) => [s.sessionId, s.state])).toEqual([
      ["cert-1", SessionState.ACTIVE],
    ]);
    const json = toJsonString(ListSessionsResponseSchema, res);
    expect(tokenParts(token).filter((part) => json.includes(part))).toEqual([]);
  });

  it("refuses the same certificate with OPERATOR_REQUIRED where its subject is no operator", async () => {
    const { sessions, admin } = clients(clientService);
    await sessions.init({
      sessionId: "cert-2",
      apiUrl: upstream.apiUrl("ok", "c2"),
      jwtToken: makeJwt(),
    });
    expect(await rpcFailure(admin.listSessions({}))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "OPERATOR_REQUIRED",
    });
  });
});
