import { Agent, request } from "node:http";
import { connect as netConnect } from "node:net";
import { create } from "@bufbuild/protobuf";
import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InitRequestSchema, SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  jsonErrorInfo,
  makeJwt,
  postJson,
  postRaw,
  type Service,
  servicePath,
  startService,
  unreachableUrl,
  useUpstream,
} from "./harness.js";

const upstream = useUpstream();
let service: Service;
let h2: Http2SessionManager;
let deadUrl: string;

beforeAll(async () => {
  service = await startService();
  h2 = new Http2SessionManager(service.url);
  deadUrl = await unreachableUrl();
});

afterAll(async () => {
  h2.abort();
  await service.server.shutdown();
});

let counter = 0;
/** A fresh session id and upstream tag per call. */
function fresh(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** The five original Init scenarios, plus rejected credentials and an unreachable API. */
function failureCases() {
  return [
    {
      name: "missing parameters",
      input: () => ({ sessionId: fresh("s"), apiUrl: upstream.apiUrl("ok", "x"), jwtToken: "" }),
      code: Code.InvalidArgument,
      http: 400,
      json: "invalid_argument",
      reason: "MISSING_PARAMETERS",
    },
    {
      name: "invalid URL",
      input: () => ({ sessionId: fresh("s"), apiUrl: "not a url", jwtToken: makeJwt() }),
      code: Code.Unauthenticated,
      http: 401,
      json: "unauthenticated",
      reason: "INVALID_API_URL",
    },
    {
      name: "invalid JWT",
      input: () => ({
        sessionId: fresh("s"),
        apiUrl: upstream.apiUrl("ok", "x"),
        jwtToken: "not-a-jwt",
      }),
      code: Code.Unauthenticated,
      http: 401,
      json: "unauthenticated",
      reason: "INVALID_JWT_FORMAT",
    },
    {
      name: "upstream timeout",
      input: () => ({
        sessionId: fresh("s"),
        apiUrl: upstream.apiUrl("slow", fresh("t")),
        jwtToken: makeJwt(),
      }),
      code: Code.Internal,
      http: 500,
      json: "internal",
      reason: "UPSTREAM_TIMEOUT",
    },
    {
      name: "upstream unreachable",
      input: () => ({ sessionId: fresh("s"), apiUrl: deadUrl, jwtToken: makeJwt() }),
      code: Code.Internal,
      http: 500,
      json: "internal",
      reason: "UPSTREAM_UNREACHABLE",
    },
    {
      name: "credentials rejected",
      input: () => ({
        sessionId: fresh("s"),
        apiUrl: upstream.apiUrl("reject", fresh("t")),
        jwtToken: makeJwt(),
      }),
      code: Code.Unauthenticated,
      http: 401,
      json: "unauthenticated",
      reason: "CREDENTIALS_REJECTED",
    },
  ];
}

describe("Connect JSON over HTTP/1.1 (plain node:http)", () => {
  const initUrl = () => `${service.url}${servicePath}/Init`;

  it.each(failureCases())("Init: $name -> HTTP $http, $reason", async (c) => {
    const res = await postJson(initUrl(), c.input());
    expect(res.httpVersion).toBe("1.1");
    expect(res.status).toBe(c.http);
    expect(res.json?.code).toBe(c.json);
    expect(jsonErrorInfo(res.json)).toMatchObject({
      reason: c.reason,
      domain: "mcp-client-server",
    });
  });

  it("names the missing fields in the ErrorInfo metadata", async () => {
    const res = await postJson(initUrl(), { sessionId: "s-missing", apiUrl: "", jwtToken: "" });
    expect(res.status).toBe(400);
    expect(jsonErrorInfo(res.json)?.metadata).toEqual({ fields: "api_url,jwt_token" });
  });

  it("reuses an active session: reused on the second call, one validation upstream", async () => {
    const tag = fresh("reuse");
    const body = { sessionId: fresh("s"), apiUrl: upstream.apiUrl("ok", tag), jwtToken: makeJwt() };
    const first = await postJson(initUrl(), body);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ status: "ok" });
    const second = await postJson(initUrl(), body);
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ status: "ok", reused: true });
    expect(upstream.validations("ok", tag)).toBe(1);
    expect(upstream.authorizations("ok", tag)).toEqual([`Bearer ${body.jwtToken}`]);
  });

  it("parses the original body with mixed field spellings as-is", async () => {
    const tag = fresh("mixed");
    const res = await postJson(initUrl(), {
      session_id: fresh("user"),
      apiUrl: upstream.apiUrl("ok", tag),
      jwtToken: makeJwt(),
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
    expect(upstream.validations("ok", tag)).toBe(1);
  });
});

describe("the POST /init alias", () => {
  const aliasUrl = () => `${service.url}/init`;

  it("answers the original success shape", async () => {
    const tag = fresh("alias");
    const res = await postJson(aliasUrl(), {
      session_id: "user_123",
      apiUrl: upstream.apiUrl("ok", tag),
      jwtToken: makeJwt(),
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
    expect(upstream.validations("ok", tag)).toBe(1);
  });

  it.each(failureCases().filter((c) => c.name !== "upstream unreachable"))(
    "answers $name with HTTP $http and error_type $reason",
    async (c) => {
      const { sessionId, apiUrl, jwtToken } = c.input();
      const res = await postJson(aliasUrl(), { session_id: sessionId, apiUrl, jwtToken });
      expect(res.status).toBe(c.http);
      expect(res.json).toEqual({
        status: "error",
        error: expect.any(String),
        error_type: c.reason,
      });
    },
  );

  it("answers invalid JSON with 400 INVALID_REQUEST_BODY", async () => {
    const res = await postRaw(aliasUrl(), '{"session_id": "user_123", ');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ status: "error", error_type: "INVALID_REQUEST_BODY" });
  });

  it("answers GET with 405 and allow: POST", async () => {
    const res = await new Promise<{ status: number; allow: string | undefined }>(
      (resolve, reject) => {
        const req = request(aliasUrl(), { agent: false }, (response) => {
          response.resume();
          resolve({ status: response.statusCode ?? 0, allow: response.headers.allow });
        });
        req.on("error", reject);
        req.end();
      },
    );
    expect(res).toEqual({ status: 405, allow: "POST" });
  });

  it("answers a JSON body that is not an object with 400 INVALID_REQUEST_BODY", async () => {
    const res = await postRaw(aliasUrl(), "[1, 2]");
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ status: "error", error_type: "INVALID_REQUEST_BODY" });
  });
});

describe("protocol sniffing on one port", () => {
  /** Writes `parts` with a pause between them; resolves with the first bytes answered. */
  function exchange(parts: Buffer[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(service.server.port, "127.0.0.1");
      socket.once("error", reject);
      socket.once("data", (chunk: Buffer) => {
        socket.destroy();
        resolve(chunk);
      });
      socket.once("connect", async () => {
        for (const part of parts) {
          socket.write(part);
          await new Promise((r) => setTimeout(r, 30));
        }
      });
    });
  }

  it("routes an HTTP/1.1 request whose first byte arrives alone", async () => {
    const head =
      "POST /init HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\nconnection: close\r\n\r\n{";
    const answer = await exchange([Buffer.from(head.slice(0, 1)), Buffer.from(head.slice(1))]);
    expect(answer.toString("latin1")).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("routes an HTTP/2 preface that arrives in two pieces", async () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const answer = await exchange([
      preface.subarray(0, 7),
      Buffer.concat([preface.subarray(7), emptySettings]),
    ]);
    // The server's first frame is its SETTINGS frame: type 0x4 on stream 0.
    expect(answer[3]).toBe(4);
    expect(answer.readUInt32BE(5)).toBe(0);
  });

  it("serves several requests on one kept-alive HTTP/1.1 connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set<number>();
      for (let i = 0; i < 3; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(`${service.url}/init`, { method: "POST", agent }, (response) => {
            response.resume();
            response.on("end", () => resolve(response.statusCode ?? 0));
          });
          req.on("socket", (socket) =>
            socket.once("connect", () => ports.add(socket.localPort ?? 0)),
          );
          req.on("error", reject);
          req.end("not json");
        });
        expect(status).toBe(400);
      }
      expect(ports.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});

describe("gRPC over h2c", () => {
  let client: Client<typeof SessionService>;
  beforeAll(() => {
    client = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
    );
  });

  it.each(failureCases())("Init: $name -> code $code, $reason", async (c) => {
    const failure = await rpcFailure(client.init(c.input()));
    expect(failure).toMatchObject({ code: c.code, reason: c.reason });
  });

  it("reuses an active session with one validation upstream", async () => {
    const tag = fresh("grpc-reuse");
    const input = {
      sessionId: fresh("s"),
      apiUrl: upstream.apiUrl("ok", tag),
      jwtToken: makeJwt(),
    };
    expect(await client.init(input)).toMatchObject({ status: "ok", reused: false });
    expect(await client.init(input)).toMatchObject({ status: "ok", reused: true });
    expect(upstream.validations("ok", tag)).toBe(1);
  });
});

describe.each([
  {
    name: "gRPC-Web over HTTP/1.1",
    transport: () => createGrpcWebTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  },
  {
    name: "gRPC-Web over HTTP/2",
    transport: () =>
      createGrpcWebTransport({ baseUrl: service.url, httpVersion: "2", sessionManager: h2 }),
  },
  {
    name: "Connect over HTTP/2",
    transport: () =>
      createConnectTransport({ baseUrl: service.url, httpVersion: "2", sessionManager: h2 }),
  },
  {
    name: "Connect binary over HTTP/1.1",
    transport: () =>
      createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", useBinaryFormat: true }),
  },
])("$name", ({ transport }: { transport: () => Transport }) => {
  let client: Client<typeof SessionService>;
  beforeAll(() => {
    client = createClient(SessionService, transport());
  });

  it("opens a session and then reuses it", async () => {
    const tag = fresh("proto");
    const request = create(InitRequestSchema, {
      sessionId: fresh("s"),
      apiUrl: upstream.apiUrl("ok", tag),
      jwtToken: makeJwt(),
    });
    expect(await client.init(request)).toMatchObject({ status: "ok", reused: false });
    expect(await client.init(request)).toMatchObject({ status: "ok", reused: true });
    expect(upstream.validations("ok", tag)).toBe(1);
  });

  it("reports rejected credentials as UNAUTHENTICATED CREDENTIALS_REJECTED", async () => {
    const failure = await rpcFailure(
      client.init({
        sessionId: fresh("s"),
        apiUrl: upstream.apiUrl("reject", fresh("t")),
        jwtToken: makeJwt(),
      }),
    );
    expect(failure).toMatchObject({ code: Code.Unauthenticated, reason: "CREDENTIALS_REJECTED" });
  });
});

describe("session methods over Connect JSON HTTP/1.1", () => {
  const url = (method: string) => `${service.url}${servicePath}/${method}`;
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it("lists tools, calls validate_settings and closes the session", async () => {
    const tag = fresh("methods");
    const sessionId = fresh("s");
    const jwtToken = makeJwt();
    const init = await postJson(url("Init"), {
      sessionId,
      apiUrl: upstream.apiUrl("ok", tag),
      jwtToken,
    });
    expect(init.status).toBe(200);

    const list = await postJson(url("ListTools"), { sessionId }, bearer(jwtToken));
    expect(list.status).toBe(200);
    const tools = list.json?.tools as { name: string; server: string }[];
    expect(tools.map((t) => t.name).sort()).toEqual(["api_request", "echo", "validate_settings"]);
    expect(tools.every((t) => t.server === "builtin")).toBe(true);

    const call = await postJson(
      url("CallTool"),
      { sessionId, name: "validate_settings", arguments: {} },
      bearer(jwtToken),
    );
    expect(call.status).toBe(200);
    expect(call.json?.isError).toBeUndefined();
    expect(call.json?.content).toEqual([{ text: { text: '{"status":"success"}' } }]);
    // Init's check plus the tool's own request, both with the session's token.
    expect(upstream.authorizations("ok", tag)).toEqual([
      `Bearer ${jwtToken}`,
      `Bearer ${jwtToken}`,
    ]);

    const close = await postJson(url("CloseSession"), { sessionId }, bearer(jwtToken));
    expect(close.status).toBe(200);
    expect(close.json).toEqual({ closed: true });
    const again = await postJson(url("CloseSession"), { sessionId });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({});

    const after = await postJson(url("ListTools"), { sessionId }, bearer(jwtToken));
    expect(after.status).toBe(404);
    expect(after.json?.code).toBe("not_found");
    expect(jsonErrorInfo(after.json)?.reason).toBe("SESSION_NOT_FOUND");
  });

  it("refuses session methods without the session's bearer token", async () => {
    const sessionId = fresh("s");
    const jwtToken = makeJwt();
    const init = await postJson(url("Init"), {
      sessionId,
      apiUrl: upstream.apiUrl("ok", fresh("t")),
      jwtToken,
    });
    expect(init.status).toBe(200);
    for (const options of [undefined, bearer(makeJwt())]) {
      const res = await postJson(url("ListTools"), { sessionId }, options);
      expect(res.status).toBe(401);
      expect(jsonErrorInfo(res.json)?.reason).toBe("SESSION_CREDENTIALS_MISMATCH");
    }
    const close = await postJson(url("CloseSession"), { sessionId }, bearer(makeJwt()));
    expect(close.status).toBe(401);
    expect(jsonErrorInfo(close.json)?.reason).toBe("SESSION_CREDENTIALS_MISMATCH");
  });

  it("reports an unknown tool as 404 TOOL_NOT_FOUND", async () => {
    const sessionId = fresh("s");
    const jwtToken = makeJwt();
    await postJson(url("Init"), { sessionId, apiUrl: upstream.apiUrl("ok", "t"), jwtToken });
    const res = await postJson(url("CallTool"), { sessionId, name: "nope" }, bearer(jwtToken));
    expect(res.status).toBe(404);
    expect(jsonErrorInfo(res.json)?.reason).toBe("TOOL_NOT_FOUND");
  });
});

describe("session methods over gRPC", () => {
  let client: Client<typeof SessionService>;
  beforeAll(() => {
    client = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
    );
  });

  it("lists tools, calls validate_settings and closes the session", async () => {
    const tag = fresh("grpc-methods");
    const sessionId = fresh("s");
    const jwtToken = makeJwt();
    const headers = { authorization: `Bearer ${jwtToken}` };
    await client.init({ sessionId, apiUrl: upstream.apiUrl("ok", tag), jwtToken });

    const { tools } = await client.listTools({ sessionId }, { headers });
    expect(tools.map((t) => t.name).sort()).toEqual(["api_request", "echo", "validate_settings"]);

    const result = await client.callTool(
      { sessionId, name: "validate_settings", arguments: {} },
      { headers },
    );
    expect(result.isError).toBe(false);
    expect(result.content).toHaveLength(1);
    const [item] = result.content;
    expect(item?.kind.case).toBe("text");
    expect(item?.kind.case === "text" && item.kind.value.text).toBe('{"status":"success"}');
    expect(upstream.validations("ok", tag)).toBe(2);

    expect(await client.closeSession({ sessionId }, { headers })).toMatchObject({ closed: true });
    expect(await rpcFailure(client.listTools({ sessionId }, { headers }))).toMatchObject({
      code: Code.NotFound,
      reason: "SESSION_NOT_FOUND",
    });
  });

  it("refuses CallTool with another token as UNAUTHENTICATED SESSION_CREDENTIALS_MISMATCH", async () => {
    const sessionId = fresh("s");
    await client.init({ sessionId, apiUrl: upstream.apiUrl("ok", "t"), jwtToken: makeJwt() });
    const failure = await rpcFailure(
      client.callTool(
        { sessionId, name: "validate_settings" },
        { headers: { authorization: `Bearer ${makeJwt()}` } },
      ),
    );
    expect(failure).toMatchObject({
      code: Code.Unauthenticated,
      reason: "SESSION_CREDENTIALS_MISMATCH",
    });
  });
});
