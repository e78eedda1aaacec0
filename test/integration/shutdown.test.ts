import { Agent } from "node:http";
import type { ClientHttp2Session } from "node:http2";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import { createLogger } from "../../src/log/logger.js";
import { openH2Session } from "../support/h2c-session.js";
import { createInMemoryClient } from "../support/in-memory-client.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";
import {
  connectOutcome,
  type JsonResponse,
  jsonErrorInfo,
  longCheckConfig,
  makeConfig,
  makeJwt,
  postJson,
  servicePath,
  useServices,
  useUpstream,
} from "./harness.js";

const upstream = useUpstream();
const { start, defer, holdDrainOpen } = useServices(upstream);

/** Resolves with how long `promise` took, or rejects after `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<{ value: T; tookMs: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    const value = await Promise.race([promise, timeout]);
    return { value, tookMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** Connects a raw h2c session, destroyed after the test, and waits until it is established. */
async function openSession(url: string): Promise<ClientHttp2Session> {
  const session = await openH2Session(url);
  defer(() => session.destroy());
  return session;
}

/** A Connect JSON Init on a raw HTTP/2 session; resolves with status and body. */
function h2Init(session: ClientHttp2Session, body: unknown) {
  return new Promise<{ status: number; json: unknown }>((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `${servicePath}/Init`,
      "content-type": "application/json",
    });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () =>
      resolve({ status, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
    );
    stream.on("error", reject);
    stream.end(JSON.stringify(body));
  });
}

/** A config whose credential check waits for the `delay` upstream (500 ms). */
function slowCheckConfig(server: Record<string, unknown> = {}) {
  return makeConfig({ server, credentialCheck: { timeoutMs: 2_000 } });
}

let counter = 0;
function initInput(mode: "ok" | "delay") {
  counter += 1;
  return {
    sessionId: `shutdown-${counter}`,
    apiUrl: upstream.apiUrl(mode, `shutdown-${counter}`),
    jwtToken: makeJwt(),
  };
}

/** The upstream tag of an Init input, for `upstream.arrived` and `upstream.validations`. */
function tagOf(input: { apiUrl: string }): string {
  return input.apiUrl.split("/").at(-1) ?? "";
}

/** A keep-alive agent with one socket, destroyed after the test. */
function keepAliveAgent(): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  defer(() => agent.destroy());
  return agent;
}

/** The response, or the error code when the request failed on the connection. */
async function settle(request: Promise<JsonResponse>): Promise<JsonResponse | string> {
  try {
    return await request;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

describe("shutdown with open HTTP/2 sessions", () => {
  it("sends GOAWAY to an idle h2c session and completes", async () => {
    const service = await start();
    const session = await openSession(service.url);
    const goaway = new Promise<number>((resolve) => session.once("goaway", resolve));
    const closed = new Promise<void>((resolve) => session.once("close", resolve));
    expect(await h2Init(session, initInput("ok"))).toMatchObject({ status: 200 });

    const { tookMs } = await within(5_000, service.server.shutdown());
    expect(tookMs).toBeLessThan(2_000);
    expect(await within(1_000, goaway)).toMatchObject({ value: 0 }); // NO_ERROR
    await within(1_000, closed);
    expect(session.closed || session.destroyed).toBe(true);
  });

  it("completes while a connect Http2SessionManager still holds its session", async () => {
    const service = await start();
    const manager = new Http2SessionManager(service.url);
    defer(() => manager.abort());
    const client = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: service.url, sessionManager: manager }),
    );
    expect(await client.init(initInput("ok"))).toMatchObject({ status: "ok" });
    expect(manager.state()).toMatch(/^(open|idle)$/);

    await within(5_000, service.server.shutdown());
    expect(
      await waitFor(
        () => ["closed", "error"].includes(manager.state()),
        "the session manager to close",
        2_000,
      ),
    ).toBe(true);
  });

  it("lets an in-flight h2 stream finish, refuses new connections, then closes", async () => {
    const service = await start(slowCheckConfig());
    const session = await openSession(service.url);
    const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    const input = initInput("delay");
    const slow = h2Init(session, input);
    await upstream.arrived("delay", input.apiUrl.split("/").at(-1) ?? "");

    const stopping = service.server.shutdown();
    await within(1_000, goaway);
    expect(await connectOutcome(service.server.port)).toBe("ECONNREFUSED");
    expect(await within(3_000, slow)).toMatchObject({
      value: { status: 200, json: { status: "ok" } },
    });
    await within(3_000, stopping);
  });

  it("ends a request that outlasts shutdownGraceMs and still completes", async () => {
    const service = await start(slowCheckConfig({ shutdownGraceMs: 100 }));
    const client = createClient(SessionService, createGrpcTransport({ baseUrl: service.url }));
    const input = initInput("delay");
    const slow = rpcFailure(client.init(input));
    await upstream.arrived("delay", input.apiUrl.split("/").at(-1) ?? "");

    const { tookMs } = await within(3_000, service.server.shutdown());
    expect(tookMs).toBeLessThan(450); // the upstream answers after 500 ms
    const failure = await within(3_000, slow);
    expect(failure.value).toMatchObject({
      code: Code.Unavailable,
      reason: "SERVER_SHUTTING_DOWN",
    });
  });

  it("ends a Connect JSON request that outlasts shutdownGraceMs with 503 SERVER_SHUTTING_DOWN", async () => {
    const service = await start(slowCheckConfig({ shutdownGraceMs: 100 }));
    const input = initInput("delay");
    const slow = postJson(`${service.url}${servicePath}/Init`, input);
    await upstream.arrived("delay", tagOf(input));

    await within(3_000, service.server.shutdown());
    const res = await within(3_000, slow);
    expect(res.value.status).toBe(503);
    expect(res.value.json?.code).toBe("unavailable");
    expect(jsonErrorInfo(res.value.json)?.reason).toBe("SERVER_SHUTTING_DOWN");
  });

  it("ends a POST /init that outlasts shutdownGraceMs with 503 SERVER_SHUTTING_DOWN", async () => {
    const service = await start(slowCheckConfig({ shutdownGraceMs: 100 }));
    const input = initInput("delay");
    const slow = postJson(`${service.url}/init`, input);
    await upstream.arrived("delay", tagOf(input));

    await within(3_000, service.server.shutdown());
    const res = await within(3_000, slow);
    expect(res.value).toMatchObject({
      status: 503,
      json: { status: "error", error_type: "SERVER_SHUTTING_DOWN" },
    });
  });

  it("lets an in-flight HTTP/1.1 request finish, then refuses connections", async () => {
    const service = await start(slowCheckConfig());
    const input = initInput("delay");
    const slow = postJson(`${service.url}${servicePath}/Init`, input);
    await upstream.arrived("delay", input.apiUrl.split("/").at(-1) ?? "");
    const stopping = service.server.shutdown();
    const res = await within(3_000, slow);
    expect(res.value).toMatchObject({ status: 200, json: { status: "ok" } });
    await within(3_000, stopping);
    expect(await connectOutcome(service.server.port)).toBe("ECONNREFUSED");
  });
});

describe("new work during the drain", () => {
  it("closes a keep-alive connection after its in-flight response; the queued Init never runs", async () => {
    const service = await start(longCheckConfig());
    const release = await holdDrainOpen(service.url);
    const agent = keepAliveAgent();
    const url = `${service.url}${servicePath}/Init`;
    const first = initInput("delay");
    const inFlight = postJson(url, first, { agent });
    await upstream.arrived("delay", tagOf(first));
    expect(service.app.sessions.size).toBe(0);

    const stopping = service.server.shutdown();
    // maxSockets 1: this waits for the socket the in-flight Init uses.
    const second = initInput("ok");
    const queued = settle(postJson(url, second, { agent }));

    const res = await within(3_000, inFlight);
    expect(res.value).toMatchObject({ status: 200, json: { status: "ok" } });
    expect(res.value.headers.connection).toBe("close");
    const { value: outcome } = await within(3_000, queued);
    if (typeof outcome === "string") {
      // The agent had to open a new connection, and the listener is closed.
      expect(outcome).toBe("ECONNREFUSED");
    } else {
      expect(outcome.status).toBe(503);
      expect(jsonErrorInfo(outcome.json)?.reason).toBe("SERVER_SHUTTING_DOWN");
    }
    expect(upstream.validations("ok", tagOf(second))).toBe(0);
    expect(service.app.sessions.size).toBe(1); // the first Init's only

    release();
    await within(3_000, stopping);
  });

  it("refuses Init, POST /init, ListTools and CallTool sent on idle keep-alive connections", async () => {
    const service = await start(longCheckConfig());
    const { url } = service;
    const existing = initInput("ok");
    const bearer = { authorization: `Bearer ${existing.jwtToken}` };
    // One idle keep-alive connection per request below, each used once before the drain.
    const agents = Array.from({ length: 4 }, () => keepAliveAgent());
    const [initAgent, aliasAgent, listAgent, callAgent] = agents as [Agent, Agent, Agent, Agent];
    expect(
      await postJson(`${url}${servicePath}/Init`, existing, { agent: initAgent }),
    ).toMatchObject({ status: 200 });
    for (const agent of [aliasAgent, listAgent, callAgent]) {
      const res = await postJson(`${url}${servicePath}/Init`, existing, { agent });
      expect(res).toMatchObject({ status: 200, json: { status: "ok", reused: true } });
    }
    const release = await holdDrainOpen(url);
    expect(service.app.sessions.size).toBe(1);

    const stopping = service.server.shutdown();
    const fresh = initInput("ok");
    const aliased = initInput("ok");
    const [init, alias, list, call] = await Promise.all([
      settle(postJson(`${url}${servicePath}/Init`, fresh, { agent: initAgent })),
      settle(postJson(`${url}/init`, aliased, { agent: aliasAgent })),
      settle(
        postJson(
          `${url}${servicePath}/ListTools`,
          { sessionId: existing.sessionId },
          { agent: listAgent, headers: bearer },
        ),
      ),
      settle(
        postJson(
          `${url}${servicePath}/CallTool`,
          { sessionId: existing.sessionId, name: "validate_settings", arguments: {} },
          { agent: callAgent, headers: bearer },
        ),
      ),
    ]);

    // The listener is closed, so an answer can only come over the reused connection; a server
    // that closed the idle connection first would fail the request on it instead.
    for (const outcome of [init, list, call]) {
      if (typeof outcome === "string") {
        expect(["ECONNRESET", "ECONNREFUSED", "EPIPE"]).toContain(outcome);
        continue;
      }
      expect(outcome.status).toBe(503);
      expect(outcome.headers.connection).toBe("close");
      expect(outcome.json?.code).toBe("unavailable");
      expect(jsonErrorInfo(outcome.json)?.reason).toBe("SERVER_SHUTTING_DOWN");
    }
    if (typeof alias === "string") {
      expect(["ECONNRESET", "ECONNREFUSED", "EPIPE"]).toContain(alias);
    } else {
      expect(alias).toMatchObject({
        status: 503,
        headers: { connection: "close" },
        json: { status: "error", error_type: "SERVER_SHUTTING_DOWN" },
      });
    }
    expect(upstream.validations("ok", tagOf(fresh))).toBe(0);
    expect(upstream.validations("ok", tagOf(aliased))).toBe(0);
    // Init's check only: the refused CallTool never reached the tool.
    expect(upstream.validations("ok", tagOf(existing))).toBe(1);
    expect(service.app.sessions.size).toBe(1);

    release();
    await within(3_000, stopping);
  });
});

describe("app.drain()", () => {
  let app: App | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("refuses Init, ListTools and CallTool with UNAVAILABLE SERVER_SHUTTING_DOWN; a running call finishes", async () => {
    const config = makeConfig({ credentialCheck: { timeoutMs: 2_000 } });
    app = createApp(config, createLogger({ level: "silent" }));
    const client = createInMemoryClient(app);
    const input = initInput("delay");
    const tag = tagOf(input);
    const headers = { authorization: `Bearer ${input.jwtToken}` };
    expect(await client.init(input)).toMatchObject({ status: "ok", reused: false });
    const running = client.callTool(
      { sessionId: input.sessionId, name: "validate_settings", arguments: {} },
      { headers },
    );
    running.catch(() => undefined); // awaited below; not unhandled if an expectation fails first
    // The tool's own request to the upstream, answered after 500 ms.
    expect(
      await waitFor(
        () => upstream.validations("delay", tag) === 2,
        "the tool's own request",
        2_000,
      ),
    ).toBe(true);

    app.drain();
    const refused = { code: Code.Unavailable, reason: "SERVER_SHUTTING_DOWN" };
    expect(await rpcFailure(client.init(input))).toMatchObject(refused);
    expect(await rpcFailure(client.init(initInput("ok")))).toMatchObject(refused);
    expect(
      await rpcFailure(client.listTools({ sessionId: input.sessionId }, { headers })),
    ).toMatchObject(refused);
    expect(
      await rpcFailure(
        client.callTool(
          { sessionId: input.sessionId, name: "validate_settings", arguments: {} },
          { headers },
        ),
      ),
    ).toMatchObject(refused);
    expect(upstream.validations("delay", tag)).toBe(2);
    expect(app.sessions.size).toBe(1);

    const result = await running;
    expect(result.isError).toBe(false);
    const [item] = result.content;
    expect(item?.kind.case === "text" && item.kind.value.text).toBe('{"status":"success"}');
  });
});
