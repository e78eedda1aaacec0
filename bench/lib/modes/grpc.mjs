// Load mode "grpc": unary (or server-streaming) RPCs over gRPC on h2c, from generated clients,
// all lanes sharing ONE HTTP/2 connection (one Http2SessionManager), as one client process
// talking to the service would.
//
// target: {
//   url,                 the service's base URL (startService's `url`)
//   rpc,                 "HealthCheck" (grpc.health.v1.Health/Check: the framework floor), a
//                        SessionService method ("Init", "CallTool", "ListTools", "CloseSession",
//                        "CallToolStream"), or "Service.Method" ("SessionAdminService.ListSessions")
//   request,             the request message as proto JSON (snake_case or camelCase); every
//                        "{i}" and "{lane}" inside its strings becomes the call's index / lane.
//                        A message that uses "{lane}" but not "{i}" is built once per lane, so
//                        building it (JSON, a Struct) is not part of a timed call; one that uses
//                        "{i}" is built in each call
//   headers,             request metadata, e.g. { authorization: "Bearer <jwt>" }; "{i}" and
//                        "{lane}" are replaced as in request
//   timeoutMs = 30000,   per-call deadline
//   isErrorFails = true, count a CallTool response with is_error as the error "TOOL_IS_ERROR"
// }
// A failed call is counted (by classify) under "<Code> <ErrorInfo reason>", e.g.
// "Unauthenticated INVALID_CREDENTIALS", or "<Code>" when the error has no ErrorInfo.
import { fromJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health } from "../../../dist/gen/grpc/health/v1/health_pb.js";
import { ErrorInfoSchema } from "../../../dist/gen/mcpclient/v1/error_info_pb.js";
import { SessionAdminService } from "../../../dist/gen/mcpclient/v1/session_admin_service_pb.js";
import { SessionService } from "../../../dist/gen/mcpclient/v1/session_service_pb.js";

const services = { Health, SessionService, SessionAdminService };
const aliases = { HealthCheck: "Health.Check", HealthList: "Health.List" };

/** Opens one HTTP/2 connection to `target.url` and returns `{ call(i, lane), close() }`. */
export async function open(target) {
  const { url, rpc, request = {}, headers = {}, timeoutMs = 30_000, isErrorFails = true } = target;
  const [serviceName, methodName] = (aliases[rpc] ?? rpc).includes(".")
    ? (aliases[rpc] ?? rpc).split(".")
    : ["SessionService", rpc];
  const service = services[serviceName];
  const method = service?.methods.find((m) => m.name === methodName);
  if (method === undefined) throw new Error(`unknown rpc ${JSON.stringify(rpc)}`);

  const sessionManager = new Http2SessionManager(url);
  const client = createClient(service, createGrpcTransport({ baseUrl: url, sessionManager }));
  const invoke = client[method.localName].bind(client);
  const streaming = method.methodKind === "server_streaming";
  const messageFor = template(request, (json) => fromJson(method.input, json));
  const headersFor = template(headers, (json) => json);
  await sessionManager.connect();

  return {
    async call(i, lane) {
      const options = { headers: headersFor(i, lane), timeoutMs };
      if (streaming) {
        for await (const _ of invoke(messageFor(i, lane), options)) {
          // Drain the stream: the call ends with its last message.
        }
        return;
      }
      const response = await invoke(messageFor(i, lane), options);
      if (isErrorFails && response.isError === true)
        throw Object.assign(new Error("is_error"), { reason: "TOOL_IS_ERROR" });
    },
    async close() {
      sessionManager.abort();
    },
  };
}

/** `"<Code> <ErrorInfo reason>"` for a ConnectError, the error's `reason` or name otherwise. */
export function classify(error) {
  if (typeof error?.reason === "string") return error.reason;
  const connectError = ConnectError.from(error);
  const reason = connectError.findDetails(ErrorInfoSchema)[0]?.reason;
  const code = Code[connectError.code];
  return reason ? `${code} ${reason}` : code;
}

/**
 * A per-call builder for `json`: built once when it holds no "{i}"/"{lane}", once per lane when
 * it holds "{lane}" only, else in each call.
 */
function template(json, build) {
  const text = JSON.stringify(json);
  const fill = (i, lane) =>
    build(JSON.parse(text.replaceAll("{i}", String(i)).replaceAll("{lane}", String(lane))));
  if (text.includes("{i}")) return fill;
  if (!text.includes("{lane}")) {
    const fixed = build(json);
    return () => fixed;
  }
  const perLane = new Map();
  return (i, lane) => {
    let built = perLane.get(lane);
    if (built === undefined) {
      built = fill(i, lane);
      perLane.set(lane, built);
    }
    return built;
  };
}
