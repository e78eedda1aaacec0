import { connect as netConnect } from "node:net";
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { DurationSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CallToolResponse,
  InitRequestSchema,
  SessionService,
} from "../../gen/mcpclient/v1/session_service_pb.js";
import {
  jsonErrorInfo,
  makeConfig,
  makeJwt,
  postRaw,
  type Service,
  servicePath,
  startService,
  startUpstream,
  type Upstream,
} from "../integration/harness.js";
import { createEventLog, type EventLog, paths } from "../mcp/harness.js";
import { nodeServer } from "../support/node-server-config.js";
import { descendants } from "../support/proc-tree.js";
import { rpcFailure } from "../support/rpc-failure.js";
import { waitFor } from "../support/wait.js";
import {
  callToolBinary,
  grpcFrame,
  lengthDelimited,
  nestedJson,
  nestedStructBinary,
  rawGrpc,
  varint,
} from "./wire.js";

// Hostile but well-framed input against the real server on port 0 (HTTP/1.1
// and cleartext HTTP/2 on one port): deeply nested arguments, absurd
// timeouts and deadline headers, 10k-character session_ids, messages one
// byte over the limit and a burst of junk. Each gets its error, nothing
// reaches the session's MCP server (a stdio child that logs every message it
// receives), and the same session keeps working afterwards.

const maxMessageBytes = 1024 * 1024;
const maxTimeoutMs = 60_000;
const toolMaxTimeoutMs = 300_000;

let service: Service;
let upstream: Upstream;
let events: EventLog;
let h2: Http2SessionManager;
let grpc: Client<typeof SessionService>;
let connect: Client<typeof SessionService>;
let baseline: Set<number>;
let childPid: number;

const sessionId = "abuse-1";
const token = makeJwt({ sub: "abuse" });
const auth = { authorization: `Bearer ${token}` };
let init: { sessionId: string; apiUrl: string; jwtToken: string };

beforeAll(async () => {
  baseline = new Set(descendants(process.pid).map((p) => p.pid));
  events = createEventLog();
  upstream = await startUpstream();
  service = await startService(
    makeConfig({
      server: { maxMessageBytes, maxTimeoutMs },
      mcpServers: { fixture: nodeServer(paths.stdioFixture, { FIXTURE_EVENTS: events.path }) },
    }),
  );
  h2 = new Http2SessionManager(service.url);
  grpc = createClient(
    SessionService,
    createGrpcTransport({ baseUrl: service.url, sessionManager: h2 }),
  );
  connect = createClient(
    SessionService,
    createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  );
  init = { sessionId, apiUrl: upstream.apiUrl("ok", "abuse"), jwtToken: token };
  expect((await grpc.init(init)).reused).toBe(false);
  childPid = pidOf(await grpc.callTool({ sessionId, name: "info" }, { headers: auth }));
});

afterAll(async () => {
  h2?.abort();
  await service?.server.shutdown();
  await upstream?.close();
  events?.remove();
});

function pidOf(res: CallToolResponse): number {
  const pid = (res.structuredContent as { pid?: unknown } | undefined)?.pid;
  if (typeof pid !== "number") throw new Error("the fixture reported no pid");
  return pid;
}

/** The tool calls the session's child has received so far. */
function toolCalls(): Record<string, unknown>[] {
  return events.read().filter((e) => e.method === "tools/call");
}

/** The session's child, the sessions and the credential checks, to compare before and after. */
function footprint() {
  return {
    toolCalls: toolCalls().length,
    sessions: service.app.sessions.size,
    children: descendants(process.pid).length,
    validations: upstream.validations("ok", "abuse"),
  };
}

/**
 * The server still serves, over both protocols, the same session with the
 * same child: Init reuses it and CallTool reaches the child.
 */
async function expectServing(): Promise<void> {
  const before = toolCalls().length;
  expect((await grpc.init(init)).reused).toBe(true);
  expect(pidOf(await connect.callTool({ sessionId, name: "info" }, { headers: auth }))).toBe(
    childPid,
  );
  expect(pidOf(await grpc.callTool({ sessionId, name: "info" }, { headers: auth }))).toBe(childPid);
  expect(toolCalls().length).toBe(before + 2);
}

const callToolPath = `${servicePath}/CallTool`;

describe("deeply nested arguments", () => {
  it("the hand-built nested Struct is what protobuf-es writes", () => {
    for (const depth of [1, 2, 3, 20, 40]) {
      const expected = toBinary(
        StructSchema,
        fromJson(StructSchema, JSON.parse(nestedJson(depth))),
      );
      expect(Buffer.from(expected).equals(nestedStructBinary(depth)), `depth ${depth}`).toBe(true);
    }
  });

  it("reach the MCP server intact at depth 20 over gRPC and Connect JSON", async () => {
    const before = toolCalls().length;
    const binary = callToolBinary({ sessionId, name: "info", arguments: nestedStructBinary(20) });
    const viaGrpc = await rawGrpc(service.url, callToolPath, grpcFrame(binary), auth);
    expect({ http: viaGrpc.httpStatus, grpc: viaGrpc.grpcStatus }).toEqual({ http: 200, grpc: 0 });
    const body = `{"sessionId":"${sessionId}","name":"info","arguments":${nestedJson(20)}}`;
    const viaJson = await postRaw(`${service.url}${callToolPath}`, body, { headers: auth });
    expect(viaJson.status).toBe(200);
    const received = toolCalls()
      .slice(before)
      .map((e) => JSON.stringify((e.params as { arguments?: unknown }).arguments));
    expect(received).toEqual([nestedJson(20), nestedJson(20)]);
  });

  // protobuf-es stops at a recursion depth of 100 messages (a Struct and its
  // Value are two). Connect reports a JSON parse failure as INVALID_ARGUMENT
  // but a binary one as INTERNAL (connect's createBinarySerialization), the
  // code grpc-go uses for a request it cannot unmarshal.
  it.each([200, 20_000])(
    "at depth %i are refused before any handler runs, and the server keeps serving",
    async (depth) => {
      const before = footprint();
      const binary = callToolBinary({
        sessionId,
        name: "info",
        arguments: nestedStructBinary(depth),
      });
      expect(binary.length).toBeLessThan(maxMessageBytes);
      const viaGrpc = await rawGrpc(service.url, callToolPath, grpcFrame(binary), auth);
      expect({ http: viaGrpc.httpStatus, grpc: viaGrpc.grpcStatus }).toEqual({
        http: 200,
        grpc: Code.Internal,
      });
      const viaProto = await postRaw(`${service.url}${callToolPath}`, binary, {
        headers: { ...auth, "content-type": "application/proto" },
      });
      expect({ status: viaProto.status, code: viaProto.json?.code }).toEqual({
        status: 500,
        code: "internal",
      });
      const body = `{"sessionId":"${sessionId}","name":"info","arguments":${nestedJson(depth)}}`;
      expect(body.length).toBeLessThan(maxMessageBytes);
      const viaJson = await postRaw(`${service.url}${callToolPath}`, body, { headers: auth });
      expect({ status: viaJson.status, code: viaJson.json?.code }).toEqual({
        status: 400,
        code: "invalid_argument",
      });
      expect(footprint()).toEqual(before);
      await expectServing();
    },
  );
});

describe("absurd CallTool timeouts", () => {
  const duration = (seconds: bigint, nanos = 0) => create(DurationSchema, { seconds, nanos });
  const int64Max = (1n << 63n) - 1n;

  it.each([
    ["negative seconds", duration(-1n)],
    ["negative nanos", duration(0n, -1)],
    ["ten years", duration(10n * 365n * 86_400n)],
    ["int64 max seconds", duration(int64Max, 999_999_999)],
    ["int64 min seconds", duration(-int64Max - 1n, -999_999_999)],
    ["just over tools.maxTimeoutMs", duration(300n, 1_000_000)],
  ])("over gRPC, %s is INVALID_ARGUMENT INVALID_TIMEOUT", async (_, timeout) => {
    const before = footprint();
    const failure = await rpcFailure(
      grpc.callTool({ sessionId, name: "info", timeout }, { headers: auth }),
    );
    expect({ code: failure.code, reason: failure.reason, metadata: failure.metadata }).toEqual({
      code: Code.InvalidArgument,
      reason: "INVALID_TIMEOUT",
      metadata: { max_timeout_ms: String(toolMaxTimeoutMs) },
    });
    expect(footprint()).toEqual(before);
    await expectServing();
  });

  // Out-of-range nanos and mixed signs only exist on the wire (protobuf-es
  // refuses to write them as JSON); they are not valid Durations.
  it.each([
    ["nanos of 2 s", duration(0n, 2_000_000_000)],
    ["mixed signs", duration(1n, -500_000_000)],
  ])("over gRPC, %s is INVALID_ARGUMENT INVALID_TIMEOUT", async (_, timeout) => {
    const before = footprint();
    const failure = await rpcFailure(
      grpc.callTool({ sessionId, name: "info", timeout }, { headers: auth }),
    );
    expect({ code: failure.code, reason: failure.reason }).toEqual({
      code: Code.InvalidArgument,
      reason: "INVALID_TIMEOUT",
    });
    expect(footprint()).toEqual(before);
    await expectServing();
  });

  it("over gRPC, one nanosecond is rounded up to a 1 ms budget and the call is tried", async () => {
    const before = toolCalls().length;
    const outcome = await grpc
      .callTool({ sessionId, name: "info", timeout: duration(0n, 1) }, { headers: auth })
      .then(pidOf, (e: unknown) => rpcFailure(Promise.reject(e)));
    if (typeof outcome !== "number") {
      // A 1 ms budget may run out before the child answers.
      expect({ code: outcome.code, reason: outcome.reason }).toEqual({
        code: Code.DeadlineExceeded,
        reason: "MCP_TIMEOUT",
      });
    } else {
      expect(outcome).toBe(childPid);
    }
    expect(toolCalls().length).toBe(before + 1);
    await expectServing();
  });

  it.each([
    ["-5s", "INVALID_TIMEOUT"],
    ["0s", "INVALID_TIMEOUT"],
    ["315360000s", "INVALID_TIMEOUT"],
    ["315576000000s", "INVALID_TIMEOUT"],
    ["315576000001s", undefined],
    ["99999999999999999999s", undefined],
    ["1.9999999999s", undefined],
    ["1e9s", undefined],
    ["NaNs", undefined],
    ["forever", undefined],
  ])(
    "over Connect JSON, %s is 400 invalid_argument (ErrorInfo reason %s)",
    async (timeout, reason) => {
      const before = footprint();
      const body = JSON.stringify({ sessionId, name: "info", timeout });
      const res = await postRaw(`${service.url}${callToolPath}`, body, { headers: auth });
      expect({ status: res.status, code: res.json?.code, reason: jsonErrorInfo(res.json)?.reason })
        // Reasons come from the service; a Duration protobuf-es cannot parse never reaches it.
        .toEqual({ status: 400, code: "invalid_argument", reason });
      expect(footprint()).toEqual(before);
      await expectServing();
    },
  );
});

describe("absurd deadline headers", () => {
  const body = JSON.stringify({ sessionId, name: "info" });

  it.each([
    ["11 digits", "99999999999"],
    ["10 digits, over server.maxTimeoutMs", "9999999999"],
    ["negative", "-1"],
    ["fractional", "1.5"],
    ["8 KiB of digits", "9".repeat(8 * 1024)],
  ])("connect-timeout-ms of %s is 400 invalid_argument", async (_, value) => {
    const before = footprint();
    const res = await postRaw(`${service.url}${callToolPath}`, body, {
      headers: { ...auth, "connect-timeout-ms": value },
    });
    expect({ status: res.status, code: res.json?.code }).toEqual({
      status: 400,
      code: "invalid_argument",
    });
    expect(footprint()).toEqual(before);
    await expectServing();
  });

  it("a 64 KiB connect-timeout-ms is 431 from the HTTP/1.1 parser", async () => {
    const before = footprint();
    const res = await postRaw(`${service.url}${callToolPath}`, body, {
      headers: { ...auth, "connect-timeout-ms": "9".repeat(64 * 1024) },
    });
    expect(res.status).toBe(431);
    expect(footprint()).toEqual(before);
    await expectServing();
  });

  const message = grpcFrame(callToolBinary({ sessionId, name: "info" }));

  it.each([
    ["99999999 hours, over server.maxTimeoutMs", "99999999H"],
    ["9 digits", "999999999H"],
    ["negative", "-1S"],
    ["no unit", "100"],
    ["8 KiB of digits", `${"9".repeat(8 * 1024)}S`],
  ])("grpc-timeout of %s is INVALID_ARGUMENT", async (_, value) => {
    const before = footprint();
    const res = await rawGrpc(service.url, callToolPath, message, {
      ...auth,
      "grpc-timeout": value,
    });
    expect({ http: res.httpStatus, grpc: res.grpcStatus }).toEqual({
      http: 200,
      grpc: Code.InvalidArgument,
    });
    expect(footprint()).toEqual(before);
    await expectServing();
  });

  it("a 64 KiB grpc-timeout gets the stream reset without an answer", async () => {
    const before = footprint();
    const res = await rawGrpc(service.url, callToolPath, message, {
      ...auth,
      "grpc-timeout": `${"9".repeat(64 * 1024)}S`,
    });
    expect({ http: res.httpStatus, grpc: res.grpcStatus }).toEqual({ http: 0, grpc: undefined });
    expect(res.rstCode).toBeGreaterThan(0);
    expect(footprint()).toEqual(before);
    await expectServing();
  });
});

describe("a 10,000-character session_id", () => {
  const longId = "s".repeat(10_000);

  const calls = (client: Client<typeof SessionService>) => ({
    Init: () => client.init({ ...init, sessionId: longId }),
    CallTool: () => client.callTool({ sessionId: longId, name: "info" }, { headers: auth }),
    ListTools: () => client.listTools({ sessionId: longId }, { headers: auth }),
    CloseSession: () => client.closeSession({ sessionId: longId }, { headers: auth }),
  });

  it.each(["grpc", "connect"] as const)(
    "is INVALID_ARGUMENT INVALID_SESSION_ID on all four RPCs over %s",
    async (protocol) => {
      const before = footprint();
      const outcomes: Record<string, string> = {};
      for (const [method, call] of Object.entries(calls(protocol === "grpc" ? grpc : connect))) {
        const failure = await rpcFailure(call());
        outcomes[method] = `${Code[failure.code]} ${failure.reason}`;
      }
      const expected = "InvalidArgument INVALID_SESSION_ID";
      expect(outcomes).toEqual({
        Init: expected,
        CallTool: expected,
        ListTools: expected,
        CloseSession: expected,
      });
      expect(footprint()).toEqual(before);
      await expectServing();
    },
  );
});

describe("a message just over server.maxMessageBytes", () => {
  /** The binary InitRequest of `init`, padded with an unknown field to exactly `size` bytes. */
  function initOfSize(size: number): Buffer {
    const base = toBinary(InitRequestSchema, create(InitRequestSchema, init));
    for (let lengthBytes = 1; lengthBytes <= 5; lengthBytes++) {
      const padding = size - base.length - 1 - lengthBytes;
      if (padding >= 0 && varint(padding).length === lengthBytes) {
        const message = Buffer.concat([base, lengthDelimited(15, Buffer.alloc(padding, 0x61))]);
        if (message.length === size) return message;
      }
    }
    throw new Error(`cannot pad an InitRequest to ${size} bytes`);
  }

  /** The JSON of `init`, padded with trailing spaces to exactly `size` bytes. */
  function initJsonOfSize(size: number): string {
    const json = JSON.stringify(init);
    return json + " ".repeat(size - json.length);
  }

  it("over gRPC: exactly the limit is served, one byte more is RESOURCE_EXHAUSTED", async () => {
    const before = footprint();
    const initPath = `${servicePath}/Init`;
    const atLimit = await rawGrpc(service.url, initPath, grpcFrame(initOfSize(maxMessageBytes)));
    expect({ http: atLimit.httpStatus, grpc: atLimit.grpcStatus }).toEqual({ http: 200, grpc: 0 });
    const over = await rawGrpc(service.url, initPath, grpcFrame(initOfSize(maxMessageBytes + 1)));
    expect({ http: over.httpStatus, grpc: over.grpcStatus }).toEqual({
      http: 200,
      grpc: Code.ResourceExhausted,
    });
    // A frame that only claims 4 GiB is refused without waiting for the bytes.
    const claim = await rawGrpc(service.url, initPath, grpcFrame(initOfSize(1024), 0xffff_ffff));
    expect(claim.grpcStatus).toBe(Code.ResourceExhausted);
    // The served one reused the session: the only credential check is its own.
    expect(footprint()).toEqual(before);
    await expectServing();
  });

  it("over Connect JSON: exactly the limit is served, one byte more is 429", async () => {
    const before = footprint();
    const url = `${service.url}${servicePath}/Init`;
    const atLimit = await postRaw(url, initJsonOfSize(maxMessageBytes));
    expect({ status: atLimit.status, json: atLimit.json }).toEqual({
      status: 200,
      json: { status: "ok", reused: true },
    });
    const over = await postRaw(url, initJsonOfSize(maxMessageBytes + 1));
    expect({ status: over.status, code: over.json?.code }).toEqual({
      status: 429,
      code: "resource_exhausted",
    });
    expect(footprint()).toEqual(before);
    await expectServing();
  });
});

describe("200 concurrent junk requests", () => {
  /** Deterministic bytes (xorshift32), so a failing run can be replayed. */
  function junkBytes(seed: number, length: number): Buffer {
    let state = seed || 1;
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bytes[i] = state & 0xff;
    }
    return bytes;
  }

  /**
   * Writes `bytes` on a new TCP connection and resolves with everything the
   * server sent once it closed the connection; rejects after 10 s.
   */
  function rawExchange(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(service.server.port, "127.0.0.1");
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("the server kept a junk connection open for 10 s"));
      }, 10_000);
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      });
      socket.write(bytes);
    });
  }

  /** The frame types in an HTTP/2 byte stream from the server. */
  function frameTypes(stream: Buffer): number[] {
    const types: number[] = [];
    for (let at = 0; at + 9 <= stream.length; at += 9 + stream.readUIntBE(at, 3)) {
      types.push(stream[at + 3] as number);
    }
    return types;
  }

  const h2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  const goaway = 0x7;

  it("each gets its error, the server stays up, and a normal call then succeeds", async () => {
    const before = footprint();
    const url = `${service.url}${callToolPath}`;
    const badJson = ["{", "{not json", '{"sessionId":', "[]", '"x"', "\u0000\u0001"];
    const contentTypes = ["text/plain", "application/xml", "image/png", "multipart/form-data"];
    const junk = Array.from({ length: 50 }, (_, i) => [
      postRaw(url, badJson[i % badJson.length] as string, { headers: auth }).then(
        (r) => `json ${r.status} ${r.json?.code}`,
      ),
      postRaw(url, JSON.stringify({ sessionId, name: "info" }), {
        headers: { ...auth, "content-type": contentTypes[i % contentTypes.length] as string },
      }).then((r) => `content-type ${r.status}`),
      rawExchange(junkBytes(i + 1, 256)).then(
        (answer) => `http1 ${answer.toString("latin1").split("\r\n", 1)[0]}`,
      ),
      // The preface, then a frame header whose type (0xff) is not the SETTINGS it must be.
      rawExchange(
        Buffer.concat([h2Preface, Buffer.of(0, 0, 8, 0xff), junkBytes(i + 101, 252)]),
      ).then((answer) => `h2 goaway=${frameTypes(answer).includes(goaway)}`),
    ]).flat();
    expect(junk).toHaveLength(200);
    const outcomes = await Promise.all(junk);
    const tally: Record<string, number> = {};
    for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
    expect(tally).toEqual({
      "json 400 invalid_argument": 50,
      "content-type 415": 50,
      "http1 HTTP/1.1 400 Bad Request": 50,
      "h2 goaway=true": 50,
    });
    expect(footprint()).toEqual(before);
    await expectServing();
  });
});

describe("after the suite", () => {
  it("shuts down and leaves no child process behind", async () => {
    expect(descendants(process.pid).map((p) => p.pid)).toContain(childPid);
    h2.abort();
    await service.server.shutdown();
    const leftovers = await waitFor(() => {
      const left = descendants(process.pid).filter((p) => !baseline.has(p.pid));
      return left.length === 0 && left;
    }, "every child of the service to exit").catch(() =>
      descendants(process.pid).filter((p) => !baseline.has(p.pid)),
    );
    expect(leftovers).toEqual([]);
  });
});
