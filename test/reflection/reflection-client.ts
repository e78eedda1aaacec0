import { create, createFileRegistry, type FileRegistry, fromBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The two reflection versions the server registers. */
export const reflectionVersions = ["v1", "v1alpha"] as const;
export type ReflectionVersion = (typeof reflectionVersions)[number];

/** A `message_request`, in the shape both versions share. */
export type Query =
  | { case: "fileByFilename"; value: string }
  | { case: "fileContainingSymbol"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: "allExtensionNumbersOfType"; value: string }
  | { case: "listServices"; value: string }
  | { case: undefined };

/** A reflection response of either version. */
export type Reply = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;

/** Sends `queries` on ONE ServerReflectionInfo stream and collects every response. */
export async function reflect(
  transport: Transport,
  version: ReflectionVersion,
  queries: readonly Query[],
): Promise<Reply[]> {
  const requests = async function* () {
    for (const messageRequest of queries) yield { host: "localhost", messageRequest };
  };
  const replies: Reply[] = [];
  const stream =
    version === "v1"
      ? createClient(v1.ServerReflection, transport).serverReflectionInfo(requests())
      : createClient(v1alpha.ServerReflection, transport).serverReflectionInfo(requests());
  for await (const reply of stream) replies.push(reply);
  return replies;
}

/** The decoded `FileDescriptorProto`s of a file answer; throws for any other answer. */
export function filesOf(reply: Reply | undefined): FileDescriptorProto[] {
  const response = reply?.messageResponse;
  if (response?.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${response?.case}`);
  }
  return response.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

/** The service names of a list_services answer; throws for any other answer. */
export function servicesOf(reply: Reply | undefined): string[] {
  const response = reply?.messageResponse;
  if (response?.case !== "listServicesResponse") {
    throw new Error(`expected services, got ${response?.case}`);
  }
  return response.value.service.map((s) => s.name);
}

/** The gRPC code of an error answer; undefined for any other answer. */
export function errorCodeOf(reply: Reply | undefined): number | undefined {
  const response = reply?.messageResponse;
  return response?.case === "errorResponse" ? response.value.errorCode : undefined;
}

/**
 * A registry of `files`, as a reflection client builds one; throws when an
 * import is missing. Orders imports before importers, as the registry needs.
 */
export function toRegistry(files: readonly FileDescriptorProto[]): FileRegistry {
  const byName = new Map(files.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto | undefined) => {
    if (!file || ordered.includes(file)) return;
    for (const name of file.dependency) visit(byName.get(name));
    ordered.push(file);
  };
  files.forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}
