import {
  type Client,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import type { App } from "../../src/app.js";

/**
 * A SessionService client for `app` over createRouterTransport: the app's
 * routes with its interceptors on the router, `clientInterceptors` (default
 * none) on the client side. No ports.
 */
export function createInMemoryClient(
  app: App,
  clientInterceptors: Interceptor[] = [],
): Client<typeof SessionService> {
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: app.interceptors },
    transport: { interceptors: clientInterceptors },
  });
  return createClient(SessionService, transport);
}
