import type { ConnectRouter } from "@connectrpc/connect";
import { SessionService } from "../gen/mcpclient/v1/session_service_pb.js";
import type { SessionServiceImpl } from "./rpc/session-service.js";

/** The services this server exposes. Registers routes only; wiring happens in `createApp`. */
export function createRoutes(sessionService: SessionServiceImpl): (router: ConnectRouter) => void {
  return (router) => {
    router.service(SessionService, sessionService);
  };
}
