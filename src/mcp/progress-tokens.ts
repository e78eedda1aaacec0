import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ProgressNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ToolCallProgress } from "./tool-peer.js";

type Listener = (progress: ToolCallProgress) => void;

/** The `_meta` a request carries to ask for progress, or nothing. */
export type ProgressMeta = { _meta: { progressToken: string } } | Record<string, never>;

const listenersByClient = new WeakMap<Client, Map<string, Listener>>();
let lastToken = 0;

/**
 * Runs `run` with the params addition that asks the server for progress (a
 * fresh `progressToken` in `_meta`), and passes the server's progress
 * notifications for it to `onProgress` until `run` has settled. Without
 * `onProgress`, runs `run({})`: no token, no progress.
 *
 * Progress of `client` is routed here, not by the SDK's `onprogress`
 * (never pass that on this client): the SDK retires a token when the
 * response arrives, before it dispatches a progress notification that came
 * just ahead of it, and so drops a tool's last progress
 * (modelcontextprotocol/typescript-sdk#2580). Here the token lives until the
 * caller has the response, so every notification sent before it is passed
 * on; one arriving later, or for a token never issued, is ignored.
 */
export async function withProgress<T>(
  client: Client,
  onProgress: Listener | undefined,
  run: (meta: ProgressMeta) => Promise<T>,
): Promise<T> {
  if (onProgress === undefined) return run({});
  const listeners = listenersOf(client);
  lastToken += 1;
  const progressToken = `progress-${lastToken}`;
  listeners.set(progressToken, onProgress);
  try {
    return await run({ _meta: { progressToken } });
  } finally {
    listeners.delete(progressToken);
  }
}

function listenersOf(client: Client): Map<string, Listener> {
  let listeners = listenersByClient.get(client);
  if (listeners === undefined) {
    const own = new Map<string, Listener>();
    client.setNotificationHandler(ProgressNotificationSchema, ({ params }) => {
      const { progressToken, progress, total, message } = params;
      own.get(String(progressToken))?.({ progress, total, message });
    });
    listenersByClient.set(client, own);
    listeners = own;
  }
  return listeners;
}
