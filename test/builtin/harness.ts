import type { ServerResponse } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import { createBuiltinServer } from "../../src/builtin/create-builtin-server.js";
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

/** An SDK client connected in memory to a fresh built-in server. */
export interface BuiltinHarness {
  readonly client: Client;
  /** Calls a tool and checks the rule every result obeys: no token in it. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
}

/** Connects a real Client to createBuiltinServer over InMemoryTransport. */
export async function connectBuiltin(
  apiUrl: URL,
  limits = { requestTimeoutMs: 5_000, maxResponseBytes: 1_048_576 },
): Promise<BuiltinHarness> {
  const server = createBuiltinServer({
    apiUrl,
    jwtToken: canary,
    http: createNodeHttpClient(),
    ...limits,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "test", version: "0.0.0" });
  await client.connect(clientSide);
  return {
    client,
    async call(name, args = {}) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(JSON.stringify(result)).not.toContain(canary);
      expect(JSON.stringify(result)).not.toContain("CANARY");
      return result;
    },
  };
}
