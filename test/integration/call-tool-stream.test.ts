import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { cancellationOf, createEventLog, type EventLog, paths, toolCalls } from "../mcp/harness.js";
import { bearer } from "../support/bearer.js";
import { nodeServer } from "../support/node-server-config.js";
import { rpcFailure } from "../support/rpc-failure.js";
import {
  checkLongRunningTool,
  collectTimed,
  expectLongRunningStream,
  longRunningTool,
} from "../support/tool-stream.js";
import { waitFor } from "../support/wait.js";
import { makeConfig, makeJwt, type Service, startService, useUpstream } from "./harness.js";

const upstream = useUpstream();
let service: Service;
let events: EventLog;
let h2: Http2SessionManager;

beforeAll(async () => {
  checkLongRunningTool();
  events = createEventLog();
  service = await startService(
    makeConfig({
      tools: { startTimeoutMs: 15_000 },
      mcpServers: {
        everything: nodeServer(paths.everything, {}, ["stdio"]),
        fixture: nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: events.path }),
      },
    }),
  );
  h2 = new Http2SessionManager(service.url);
});

afterAll(async () => {
  h2.abort();
  await service.server.shutdown();
  events.remove();
});

let counter = 0;
/** A client on `transport` with a fresh session of its own, and its token. */
async function openSession(transport: Transport) {
  counter += 1;
  const sessionId = `stream-${counter}`;
  const token = makeJwt();
  const client: Client<typeof SessionService> = createClient(SessionService, transport);
  await client.init({ sessionId, apiUrl: upstream.apiUrl("ok", sessionId), jwtToken: token });
  return { client, sessionId, token };
}

const transports = [
  {
    name: "gRPC over HTTP/2",
    transport: () => createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
  },
  {
    name: "Connect over HTTP/1.1",
    transport: () => createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  },
  {
    name: "gRPC-Web over HTTP/1.1",
    transport: () => createGrpcWebTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  },
];

describe.each(transports)("CallToolStream, $name", ({ transport }) => {
  it("delivers each progress event on the wire as it happens, then the result", async () => {
    const { client, sessionId, token } = await openSession(transport());
    const stream = client.callToolStream(
      {
        sessionId,
        name: `everything__${longRunningTool}`,
        arguments: { duration: 1, steps: 5 },
      },
      bearer(token),
    );
    expectLongRunningStream(await collectTimed(stream), 1, 5);
  });

  it("ends the stream with NOT_FOUND SESSION_NOT_FOUND and its ErrorInfo", async () => {
    const { client, token } = await openSession(transport());
    const stream = client.callToolStream({ sessionId: "nobody", name: "x" }, bearer(token));
    const failure = await rpcFailure(collectTimed(stream));
    expect(failure.code).toBe(Code.NotFound);
    expect(failure.reason).toBe("SESSION_NOT_FOUND");
  });
});

describe("cancelling CallToolStream over gRPC", () => {
  it("sends the MCP server notifications/cancelled for the call", async () => {
    const { client, sessionId, token } = await openSession(
      createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
    );
    const abort = new AbortController();
    const stream = client.callToolStream(
      { sessionId, name: "fixture__sleep", arguments: { ms: 20_000 } },
      { ...bearer(token), signal: abort.signal },
    );
    const reading = rpcFailure(collectTimed(stream));
    const call = await waitFor(
      () => toolCalls(events, "sleep")[0],
      "the sleep call to reach the fixture",
    );
    abort.abort();
    expect((await reading).code).toBe(Code.Canceled);
    await cancellationOf(events, call);
  });
});
