import type { ServerResponse } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import type { BuiltinServerOptions } from "../../src/builtin/builtin-tool.js";
import { createBuiltinServer } from "../../src/builtin/create-builtin-server.js";
import { createInProcessPeer } from "../../src/builtin/in-process-peer.js";
import { createNodeHttpClient } from "../../src/outbound/node-http-client.js";
import { type ReceivedRequest, sendJson, startLoopbackServer } from "../support/loopback-server.js";

/** The token every test uses; no result may ever contain it. */
export const canary = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.CANARY-token-sig";

/** Answers one recorded request. */
export type UpstreamHandler = (request: ReceivedRequest, response: ServerResponse) => void;

/** A real loopback HTTP server standing in for the user's API. */
export interface Upstream {
  /** `http://127.0.0.1:<port>/base/v1` */
  readonly apiUrl: URL;
  readonly requests: readonly ReceivedRequest[];
  /** Connections accepted, including ones that never completed a request. */
  connections(): number;
  /** Replaces the handler; the default answers 200 `{"ok":true}`. */
  handle(handler: UpstreamHandler): void;
  close(): Promise<void>;
}

/** Starts an upstream on 127.0.0.1, port 0, recording every request. */
export async function startUpstream(): Promise<Upstream> {
  let handler: UpstreamHandler = (_request, response) => sendJson(response, 200, { ok: true });
  const server = await startLoopbackServer((_req, res, received) => handler(received, res));
  return {
    apiUrl: new URL(`${server.origin}/base/v1`),
    requests: server.requests,
    connections: server.connections,
    handle(next) {
      handler = next;
    },
    close: () => server.close(),
  };
}

/** The text of a tool result's only content item. */
export function onlyText(result: { content?: unknown }): string {
  const content = result.content as { type: string; text?: string }[];
  if (content.length !== 1 || content[0]?.type !== "text") {
    throw new Error(`expected one text item, got ${JSON.stringify(content)}`);
  }
  return content[0].text ?? "";
}

/**
 * The two ways the built-in tools are served: an SDK `McpServer` reached by
 * an SDK client over the in-memory transport (what the stdio entry point
 * serves), and the in-process peer a session's `builtin` server uses.
 */
export const builtinModes = ["mcp-server", "in-process"] as const;
export type BuiltinMode = (typeof builtinModes)[number];

/** The built-in tools of one user, served one of the two ways. */
export interface BuiltinHarness {
  listTools(): Promise<Tool[]>;
  /** Calls a tool and checks the rule every result obeys: no token in it. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** Serves the built-in tools for `apiUrl` and the canary token, the `mode` way. */
export async function connectBuiltin(
  mode: BuiltinMode,
  apiUrl: URL,
  limits = { requestTimeoutMs: 5_000, maxResponseBytes: 1_048_576 },
): Promise<BuiltinHarness> {
  const options: BuiltinServerOptions = {
    apiUrl,
    jwtToken: canary,
    http: createNodeHttpClient(),
    ...limits,
  };
  return mode === "mcp-server" ? overMcpServer(options) : inProcess(options);
}

function checked(result: unknown): CallToolResult {
  expect(JSON.stringify(result)).not.toContain(canary);
  expect(JSON.stringify(result)).not.toContain("CANARY");
  return result as CallToolResult;
}

async function overMcpServer(options: BuiltinServerOptions): Promise<BuiltinHarness> {
  const server = createBuiltinServer(options);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "test", version: "0.0.0" });
  await client.connect(clientSide);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    checked(await client.callTool({ name, arguments: args }));
  return {
    listTools: async () => (await client.listTools()).tools,
    call,
    close: () => client.close(),
  };
}

function inProcess(options: BuiltinServerOptions): BuiltinHarness {
  const peer = createInProcessPeer(options);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    checked(
      await peer.callTool(name, args, { signal: new AbortController().signal, timeoutMs: 30_000 }),
    );
  return {
    listTools: async () =>
      (await peer.listTools(undefined, { signal: new AbortController().signal, timeoutMs: 30_000 }))
        .tools,
    call,
    close: () => peer.close(),
  };
}
