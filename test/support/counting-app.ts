import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import type { Config } from "../../src/config/types.js";
import type { Resolver } from "../../src/outbound/guarded-lookup.js";
import { captureLogs } from "./log-capture.js";

/** An app behind an in-memory client, counting how often it tried to start MCP servers. */
export interface CountingApp {
  readonly app: App;
  readonly client: Client<typeof SessionService>;
  /** Calls of the MCP server starter (each Init that passed the credential check). */
  starts(): number;
  /** Every JSON line the app logged. */
  readonly logs: readonly string[];
}

/**
 * createApp(config) with `resolve` injected (undefined: the system resolver)
 * and a starter wrapper that counts starts, reached through
 * createRouterTransport. Close `app` when done.
 */
export function createCountingApp(config: Config, resolve?: Resolver): CountingApp {
  let starts = 0;
  const log = captureLogs("trace");
  const app = createApp(config, log.logger, {
    ...(resolve ? { resolve } : {}),
    wrapStartClients: (start) => (credentials, signal, reservation) => {
      starts++;
      return start(credentials, signal, reservation);
    },
  });
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: app.interceptors },
  });
  return {
    app,
    client: createClient(SessionService, transport),
    starts: () => starts,
    logs: log.lines,
  };
}
