import type { DescriptorIndex } from "./descriptor-index.js";

/** One reflection request, as the `message_request` oneof has it. */
export type ReflectionQuery =
  | { readonly kind: "fileByFilename"; readonly name: string }
  | { readonly kind: "fileContainingSymbol"; readonly symbol: string }
  | { readonly kind: "fileContainingExtension"; readonly extendee: string; readonly number: number }
  | { readonly kind: "allExtensionNumbersOfType"; readonly typeName: string }
  | { readonly kind: "listServices" }
  /** A request with no `message_request` set. */
  | { readonly kind: "none" };

/** Why a query has no answer; the handler maps it to a gRPC status code. */
export type ReflectionErrorReason = "NOT_FOUND" | "INVALID_ARGUMENT";

/** The answer to one query, as the `message_response` oneof has it. */
export type ReflectionAnswer =
  /** Serialized `FileDescriptorProto`s: the file asked for first, then the imports not sent yet. */
  | { readonly kind: "files"; readonly files: readonly Uint8Array[] }
  | { readonly kind: "services"; readonly names: readonly string[] }
  | { readonly kind: "extensionNumbers"; readonly typeName: string; readonly numbers: number[] }
  | { readonly kind: "error"; readonly reason: ReflectionErrorReason; readonly message: string };

/** The state of one reflection stream: which files its client already has. */
export interface ReflectionStream {
  /** Answers `query`; never throws. */
  answer(query: ReflectionQuery): ReflectionAnswer;
}

/**
 * Opens a stream over `index`. Every file answer carries the file asked for,
 * even when sent before (clients take the first file as the answer), and
 * each imported file only once per stream, as the reflection protocol allows.
 */
export function createReflectionStream(index: DescriptorIndex): ReflectionStream {
  const sent = new Set<string>();
  const files = (found: ReturnType<DescriptorIndex["filesByName"]>, what: string) => {
    if (!found) return notFound(what);
    const fresh = found.filter((file, i) => i === 0 || !sent.has(file.name));
    for (const file of fresh) sent.add(file.name);
    return { kind: "files", files: fresh.map((f) => f.bytes) } as const;
  };
  return {
    answer(query) {
      switch (query.kind) {
        case "listServices":
          return { kind: "services", names: index.serviceNames };
        case "fileByFilename":
          return files(index.filesByName(query.name), `file ${query.name}`);
        case "fileContainingSymbol":
          return files(index.filesBySymbol(query.symbol), `symbol ${query.symbol}`);
        case "fileContainingExtension":
          return files(
            index.filesByExtension(query.extendee, query.number),
            `extension ${query.number} of ${query.extendee}`,
          );
        case "allExtensionNumbersOfType": {
          const numbers = index.extensionNumbers(query.typeName);
          if (!numbers) return notFound(`message ${query.typeName}`);
          return { kind: "extensionNumbers", typeName: query.typeName, numbers };
        }
        case "none":
          return { kind: "error", reason: "INVALID_ARGUMENT", message: "no message_request set" };
      }
    },
  };
}

function notFound(what: string): ReflectionAnswer {
  // The name is the client's own input, cut short so the echo stays small.
  return { kind: "error", reason: "NOT_FOUND", message: `${what.slice(0, 300)} not found` };
}
