import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_mcpclient_v1_error_info } from "../gen/mcpclient/v1/error_info_pb.js";
import { SessionAdminService } from "../gen/mcpclient/v1/session_admin_service_pb.js";
import { SessionService } from "../gen/mcpclient/v1/session_service_pb.js";
import type { HealthServiceImpl } from "./rpc/health-service.js";
import { createServerReflection } from "./rpc/reflection-service.js";
import type { SessionAdminServiceImpl } from "./rpc/session-admin-service.js";
import type { SessionServiceImpl } from "./rpc/session-service.js";

/**
 * Every service `createRoutes` registers, and so everything server reflection
 * describes: register a new service below AND list it here (a test compares both).
 */
export const servedServices: readonly DescService[] = [
  SessionService,
  SessionAdminService,
  Health,
  ServerReflection,
  ServerReflectionV1alpha,
];

/** Files reflection describes besides the services' own: error details, so clients decode them. */
const describedFiles = [file_mcpclient_v1_error_info];

/** The services this server exposes. Registers routes only; wiring happens in `createApp`. */
export function createRoutes(
  sessionService: SessionServiceImpl,
  healthService: HealthServiceImpl,
  sessionAdminService: SessionAdminServiceImpl,
): (router: ConnectRouter) => void {
  const reflection = createServerReflection(servedServices, describedFiles);
  return (router) => {
    router.service(SessionService, sessionService);
    router.service(SessionAdminService, sessionAdminService);
    router.service(Health, healthService);
    router.service(ServerReflection, reflection.v1);
    router.service(ServerReflectionV1alpha, reflection.v1alpha);
  };
}
