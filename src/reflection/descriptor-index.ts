import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { indexSymbols } from "./file-symbols.js";

/** A proto file as reflection sends it: its name and its serialized `FileDescriptorProto`. */
export interface EncodedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * What server reflection knows: the files declaring the served services, every
 * file they import (transitively), and each symbol those files declare.
 * A lookup answers the file found followed by all the files it imports,
 * directly or not, each once; undefined when nothing matches.
 */
export interface DescriptorIndex {
  /** The served services' full names, in the order given, each once. */
  readonly serviceNames: readonly string[];
  /** By file name, for example `google/protobuf/struct.proto`. */
  filesByName(name: string): readonly EncodedFile[] | undefined;
  /**
   * By the fully-qualified name of a service, method, message (nested too),
   * field, oneof, enum, enum value or extension it declares.
   */
  filesBySymbol(symbol: string): readonly EncodedFile[] | undefined;
  /** By an extension it declares: extension `number` of message `extendee`. */
  filesByExtension(extendee: string, number: number): readonly EncodedFile[] | undefined;
  /** The numbers of the known extensions of message `typeName`; undefined for an unknown message. */
  extensionNumbers(typeName: string): number[] | undefined;
}

/**
 * Indexes `services` (generated service descriptors) and `extraFiles` (for
 * example the files of error detail types no service file imports), with
 * their transitive imports, and serializes every file once, here.
 */
export function createDescriptorIndex(
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): DescriptorIndex {
  const files = new Map<string, DescFile>();
  for (const root of [...services.map((s) => s.file), ...extraFiles]) {
    for (const file of withImports(root)) files.set(file.proto.name, file);
  }
  const encoded = new Map<DescFile, EncodedFile>();
  for (const [name, file] of files) {
    encoded.set(file, { name, bytes: toBinary(FileDescriptorProtoSchema, file.proto) });
  }
  const closures = new Map<DescFile, readonly EncodedFile[]>();
  for (const file of files.values()) {
    closures.set(
      file,
      withImports(file).flatMap((f) => encoded.get(f) ?? []),
    );
  }
  const symbols = indexSymbols(files.values());
  const closure = (file: DescFile | undefined) => (file ? closures.get(file) : undefined);
  return {
    serviceNames: [...new Set(services.map((s) => s.typeName))],
    filesByName: (name) => closure(files.get(name)),
    filesBySymbol: (symbol) => closure(symbols.declarations.get(symbol)),
    filesByExtension: (extendee, number) =>
      closure(symbols.extensions.find((e) => e.extendee === extendee && e.number === number)?.file),
    extensionNumbers(typeName) {
      if (!symbols.messages.has(typeName)) return undefined;
      return symbols.extensions.filter((e) => e.extendee === typeName).map((e) => e.number);
    },
  };
}

/** `file`, then every file it imports, directly or not, each once, nearest first. */
function withImports(file: DescFile): DescFile[] {
  const found = [file];
  const seen = new Set(found);
  for (let i = 0; i < found.length; i++) {
    for (const dependency of found[i]?.dependencies ?? []) {
      if (seen.has(dependency)) continue;
      seen.add(dependency);
      found.push(dependency);
    }
  }
  return found;
}
