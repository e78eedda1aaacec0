import { create, type DescFile, type DescService } from "@bufbuild/protobuf";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createDescriptorIndex, type DescriptorIndex } from "../reflection/descriptor-index.js";
import {
  createReflectionStream,
  type ReflectionAnswer,
  type ReflectionErrorReason,
  type ReflectionQuery,
} from "../reflection/reflection-stream.js";

type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

/** The `message_response` of either version: both share one wire shape. */
type MessageResponseInit =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | {
      case: "allExtensionNumbersResponse";
      value: { baseTypeName: string; extensionNumber: number[] };
    }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * ServerReflectionInfo for one reflection version: each request on the
 * stream gets one response, in order. Unknown names are answered in-band with
 * an `error_response` (NOT_FOUND; INVALID_ARGUMENT for an empty request), and
 * the stream goes on.
 */
class ServerReflectionImpl<Req extends ReflectionRequest, Res> {
  constructor(
    private readonly index: DescriptorIndex,
    private readonly respond: (req: Req, messageResponse: MessageResponseInit) => Res,
  ) {}

  async *serverReflectionInfo(requests: AsyncIterable<Req>): AsyncIterable<Res> {
    const stream = createReflectionStream(this.index);
    for await (const req of requests) {
      yield this.respond(req, toMessageResponse(stream.answer(toQuery(req.messageRequest))));
    }
  }
}

/** Reflection v1 and v1alpha handlers describing `services` (reflection's own included). */
export interface ServerReflectionServices {
  readonly v1: ServiceImpl<typeof v1.ServerReflection>;
  readonly v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
}

/**
 * One index behind both reflection versions: `services` with their files,
 * plus `extraFiles` (types no service file imports, such as error details).
 */
export function createServerReflection(
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): ServerReflectionServices {
  const index = createDescriptorIndex(services, extraFiles);
  return {
    v1: new ServerReflectionImpl(index, (req: v1.ServerReflectionRequest, messageResponse) =>
      create(v1.ServerReflectionResponseSchema, {
        validHost: req.host,
        originalRequest: req,
        messageResponse,
      }),
    ),
    v1alpha: new ServerReflectionImpl(
      index,
      (req: v1alpha.ServerReflectionRequest, messageResponse) =>
        create(v1alpha.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse,
        }),
    ),
  };
}

function toQuery(request: ReflectionRequest["messageRequest"]): ReflectionQuery {
  switch (request.case) {
    case "fileByFilename":
      return { kind: "fileByFilename", name: request.value };
    case "fileContainingSymbol":
      return { kind: "fileContainingSymbol", symbol: request.value };
    case "fileContainingExtension":
      return {
        kind: "fileContainingExtension",
        extendee: request.value.containingType,
        number: request.value.extensionNumber,
      };
    case "allExtensionNumbersOfType":
      return { kind: "allExtensionNumbersOfType", typeName: request.value };
    case "listServices":
      return { kind: "listServices" };
    case undefined:
      return { kind: "none" };
  }
}

function toMessageResponse(answer: ReflectionAnswer): MessageResponseInit {
  switch (answer.kind) {
    case "files":
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: [...answer.files] } };
    case "services":
      return {
        case: "listServicesResponse",
        value: { service: answer.names.map((name) => ({ name })) },
      };
    case "extensionNumbers":
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: answer.typeName, extensionNumber: answer.numbers },
      };
    case "error":
      return {
        case: "errorResponse",
        value: { errorCode: errorCodes[answer.reason], errorMessage: answer.message },
      };
  }
}

// error_response carries gRPC status codes, which Connect's codes equal.
const errorCodes: Record<ReflectionErrorReason, Code> = {
  NOT_FOUND: Code.NotFound,
  INVALID_ARGUMENT: Code.InvalidArgument,
};
