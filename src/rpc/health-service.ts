import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  type HealthListResponse,
  HealthListResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { HealthRegistry, WatchedStatus } from "../health/health-registry.js";

const toProto: Record<WatchedStatus, ServingStatus> = {
  SERVING: ServingStatus.SERVING,
  NOT_SERVING: ServingStatus.NOT_SERVING,
  SERVICE_UNKNOWN: ServingStatus.SERVICE_UNKNOWN,
};

/**
 * The standard `grpc.health.v1.Health` handlers over a HealthRegistry.
 * Check fails an unregistered name with NOT_FOUND `SERVICE_NOT_FOUND` (a
 * ServiceError, mapped by the error interceptor); Watch reports it as
 * SERVICE_UNKNOWN and stays open, as the protocol says.
 */
export class HealthServiceImpl implements ServiceImpl<typeof Health> {
  constructor(private readonly registry: HealthRegistry) {}

  check(req: HealthCheckRequest): HealthCheckResponse {
    return create(HealthCheckResponseSchema, { status: toProto[this.registry.check(req.service)] });
  }

  list(): HealthListResponse {
    const statuses: Record<string, { status: ServingStatus }> = {};
    for (const [name, status] of this.registry.list()) statuses[name] = { status: toProto[status] };
    return create(HealthListResponseSchema, { statuses });
  }

  async *watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncGenerator<HealthCheckResponse> {
    for await (const status of this.registry.watch(req.service, ctx.signal)) {
      yield create(HealthCheckResponseSchema, { status: toProto[status] });
    }
  }
}
