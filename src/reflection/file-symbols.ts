import type { DescFile } from "@bufbuild/protobuf";
import type { DescriptorProto, EnumDescriptorProto } from "@bufbuild/protobuf/wkt";

/** An extension field a file declares: which message it extends, with which number. */
export interface DeclaredExtension {
  /** The extended message's full name, without a leading dot. */
  readonly extendee: string;
  readonly number: number;
  readonly file: DescFile;
}

/** The symbols a set of proto files declares. */
export interface FileSymbols {
  /** Each fully-qualified symbol and the file declaring it. */
  readonly declarations: ReadonlyMap<string, DescFile>;
  /** The full names of all messages, nested ones (map entries too) included. */
  readonly messages: ReadonlySet<string>;
  /** All extensions, top-level and nested. */
  readonly extensions: readonly DeclaredExtension[];
}

/**
 * Walks the `FileDescriptorProto` of each of `files` for every symbol a
 * reflection client may ask about: services, methods, messages, fields,
 * oneofs, enums, enum values and extensions, named by protobuf's scoping
 * rules. A name declared twice keeps its last file.
 */
export function indexSymbols(files: Iterable<DescFile>): FileSymbols {
  const declarations = new Map<string, DescFile>();
  const messages = new Set<string>();
  const extensions: DeclaredExtension[] = [];
  for (const file of files) {
    const add = (name: string) => declarations.set(name, file);
    const addEnum = (scope: string, e: EnumDescriptorProto) => {
      add(join(scope, e.name));
      // Enum values are scoped as siblings of their enum, not inside it.
      for (const value of e.value) add(join(scope, value.name));
    };
    const addMessage = (scope: string, m: DescriptorProto) => {
      const name = join(scope, m.name);
      add(name);
      messages.add(name);
      for (const member of [...m.field, ...m.oneofDecl]) add(join(name, member.name));
      for (const nested of m.nestedType) addMessage(name, nested);
      for (const nested of m.enumType) addEnum(name, nested);
      for (const x of m.extension) {
        add(join(name, x.name));
        extensions.push({ extendee: x.extendee.replace(/^\./, ""), number: x.number, file });
      }
    };
    const pkg = file.proto.package;
    for (const service of file.proto.service) {
      add(join(pkg, service.name));
      for (const method of service.method) add(join(pkg, service.name, method.name));
    }
    for (const m of file.proto.messageType) addMessage(pkg, m);
    for (const e of file.proto.enumType) addEnum(pkg, e);
    for (const x of file.proto.extension) {
      add(join(pkg, x.name));
      extensions.push({ extendee: x.extendee.replace(/^\./, ""), number: x.number, file });
    }
  }
  return { declarations, messages, extensions };
}

function join(...parts: string[]): string {
  return parts.filter((p) => p !== "").join(".");
}
