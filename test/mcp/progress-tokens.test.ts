import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolResultSchema,
  type JSONRPCMessage,
  LATEST_PROTOCOL_VERSION,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { withProgress } from "../../src/mcp/progress-tokens.js";
import type { ToolCallProgress } from "../../src/mcp/tool-peer.js";

/**
 * A scripted MCP server as the client's transport. A `tools/call` is answered
 * by `reply(token)`: the messages it returns reach the client in one
 * synchronous burst, as lines of one stdout chunk do.
 */
class ScriptedServer implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly received: JSONRPCMessage[] = [];

  constructor(private readonly reply: (id: number, token: unknown) => JSONRPCMessage[]) {}

  async start() {}
  async close() {
    this.onclose?.();
  }
  async send(message: JSONRPCMessage) {
    this.received.push(message);
    if (!("id" in message) || !("method" in message)) return;
    const { id, method, params } = message;
    const messages: JSONRPCMessage[] =
      method === "initialize"
        ? [
            {
              jsonrpc: "2.0",
              id,
              result: {
                protocolVersion: LATEST_PROTOCOL_VERSION,
                capabilities: { tools: {} },
                serverInfo: { name: "scripted", version: "1.0.0" },
              },
            },
          ]
        : this.reply(Number(id), (params?._meta as { progressToken?: unknown })?.progressToken);
    setImmediate(() => {
      for (const m of messages) this.onmessage?.(m);
    });
  }
}

const progress = (token: unknown, value: number): JSONRPCMessage => ({
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progressToken: token as string, progress: value, total: 3, message: `step ${value}` },
});
const answer = (id: number): JSONRPCMessage => ({
  jsonrpc: "2.0",
  id,
  result: { content: [{ type: "text", text: "done" }] },
});

/** Three progress notifications and the response, all in one burst. */
const burst = (id: number, token: unknown) =>
  [1, 2, 3].map((v) => progress(token, v)).concat(answer(id));

let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
});

async function connect(server: ScriptedServer): Promise<Client> {
  client = new Client({ name: "test", version: "1.0.0" }, { capabilities: {} });
  await client.connect(server);
  return client;
}

const toolCall = (c: Client, meta: object = {}, options: object = {}) =>
  c.request(
    { method: "tools/call", params: { name: "work", arguments: {}, ...meta } },
    CallToolResultSchema,
    options,
  );

describe("withProgress", () => {
  it("delivers every progress sent ahead of the response, even in the same burst", async () => {
    const c = await connect(new ScriptedServer(burst));
    const seen: ToolCallProgress[] = [];
    const result = await withProgress(
      c,
      (p) => seen.push(p),
      (meta) => toolCall(c, meta),
    );
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
    expect(seen).toEqual([1, 2, 3].map((v) => ({ progress: v, total: 3, message: `step ${v}` })));
  });

  it("shows why it exists: the SDK's own onprogress drops progress that comes with the response", async () => {
    // modelcontextprotocol/typescript-sdk#2580. When this fails, the SDK fixed it.
    const c = await connect(new ScriptedServer(burst));
    const seen: number[] = [];
    await toolCall(c, {}, { onprogress: (p: { progress: number }) => seen.push(p.progress) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
  });

  it("asks for progress with a fresh token per call, and not at all without a listener", async () => {
    const server = new ScriptedServer((id) => [answer(id)]);
    const c = await connect(server);
    await withProgress(c, undefined, (meta) => toolCall(c, meta));
    await withProgress(
      c,
      () => {},
      (meta) => toolCall(c, meta),
    );
    await withProgress(
      c,
      () => {},
      (meta) => toolCall(c, meta),
    );
    const tokens = server.received
      .filter((m) => "method" in m && m.method === "tools/call")
      .map((m) => ("params" in m ? (m.params?._meta as { progressToken?: unknown }) : undefined));
    expect(tokens[0]).toBeUndefined();
    expect(tokens[1]?.progressToken).toEqual(expect.any(String));
    expect(tokens[2]?.progressToken).toEqual(expect.any(String));
    expect(tokens[1]?.progressToken).not.toBe(tokens[2]?.progressToken);
  });

  it("routes concurrent calls' progress by token, and ignores unknown and late tokens", async () => {
    let lateToken: unknown;
    const c = await connect(
      new ScriptedServer((id, token) => {
        lateToken ??= token;
        return [progress("never-issued", 9), progress(token, id), answer(id)];
      }),
    );
    const errors: Error[] = [];
    c.onerror = (error) => errors.push(error);
    const first: number[] = [];
    const second: number[] = [];
    await Promise.all([
      withProgress(
        c,
        (p) => first.push(p.progress),
        (meta) => toolCall(c, meta),
      ),
      withProgress(
        c,
        (p) => second.push(p.progress),
        (meta) => toolCall(c, meta),
      ),
    ]);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(first[0]).not.toBe(second[0]);
    // Progress for a call that has ended reaches nobody.
    const after: number[] = [];
    await withProgress(
      c,
      (p) => after.push(p.progress),
      async () => {
        const transport = c.transport as ScriptedServer;
        transport.onmessage?.(progress(lateToken, 42));
        await new Promise((resolve) => setImmediate(resolve));
      },
    );
    expect(after).toEqual([]);
    expect(errors).toEqual([]);
  });
});
