import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  ListToolsResultSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { withLinkedSignal } from "../linked-signal.js";
import { withProgress } from "./progress-tokens.js";
import { lenientCallToolResultSchema } from "./result-schemas.js";
import type { ToolPeer } from "./tool-peer.js";

/**
 * A ToolPeer over a connected MCP `Client`, which it owns. Requests go
 * through `request` rather than `listTools`/`callTool`: the SDK would
 * compile every output schema on listing (one it cannot compile would fail
 * the listing) and validate results on calling (a server's bad result would
 * become a -32602 of ours).
 */
export function createClientPeer(client: Client): ToolPeer {
  const peer: ToolPeer = {
    onToolsChanged: undefined,
    onClosed: undefined,
    // The SDK keeps its abort listener after the answer, and the caller's
    // signal aborts when the RPC ends: each request gets its own signal that
    // follows the caller's only while it runs, so no answered request is
    // cancelled afterwards.
    listTools(cursor, options) {
      return withLinkedSignal([options.signal], (signal) =>
        client.request(
          { method: "tools/list", params: cursor === undefined ? {} : { cursor } },
          ListToolsResultSchema,
          { signal, timeout: options.timeoutMs },
        ),
      );
    },
    callTool(name, args, options) {
      return withLinkedSignal([options.signal], (signal) =>
        withProgress(client, options.onProgress, (meta) =>
          client.request(
            { method: "tools/call", params: { name, arguments: args, ...meta } },
            lenientCallToolResultSchema,
            { signal, timeout: options.timeoutMs },
          ),
        ),
      );
    },
    close: () => client.close(),
  };
  client.onclose = () => peer.onClosed?.();
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    peer.onToolsChanged?.();
  });
  return peer;
}
