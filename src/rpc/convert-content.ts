import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContentBlock,
  ContentBlockSchema,
  type Annotations as McpAnnotations,
  type Icon as McpIcon,
} from "@modelcontextprotocol/sdk/types.js";
import {
  type AnnotationsSchema,
  type ContentItem,
  ContentItemSchema,
  type IconSchema,
  Role,
} from "../../gen/mcpclient/v1/tool_pb.js";

type AnnotationsInit = MessageInitShape<typeof AnnotationsSchema>;
type IconInit = MessageInitShape<typeof IconSchema>;

/**
 * Maps one MCP content item to a ContentItem. An item whose type this SDK
 * does not know, or whose fields do not match its type, passes through
 * unchanged as `other`.
 */
export function toContentItem(item: { type: string }): ContentItem {
  const parsed = ContentBlockSchema.safeParse(item);
  if (!parsed.success) return kind({ case: "other", value: item as JsonObject });
  return toKnownContentItem(parsed.data);
}

function toKnownContentItem(block: ContentBlock): ContentItem {
  const annotations = toAnnotations(block.annotations);
  const meta = block._meta as JsonObject | undefined;
  switch (block.type) {
    case "text":
      return kind({ case: "text", value: { text: block.text, annotations, meta } });
    case "image":
    case "audio":
      return kind({
        case: block.type,
        value: { data: fromBase64(block.data), mimeType: block.mimeType, annotations, meta },
      });
    case "resource_link":
      return kind({
        case: "resourceLink",
        value: {
          uri: block.uri,
          name: block.name,
          title: block.title ?? "",
          description: block.description ?? "",
          mimeType: block.mimeType ?? "",
          size: typeof block.size === "number" ? BigInt(Math.trunc(block.size)) : undefined,
          annotations,
          icons: toIcons(block.icons),
          meta,
        },
      });
    case "resource": {
      const r = block.resource;
      const common = {
        uri: r.uri,
        mimeType: r.mimeType ?? "",
        meta: r._meta as JsonObject | undefined,
      };
      const contents =
        "text" in r
          ? { case: "text" as const, value: { ...common, text: r.text } }
          : { case: "blob" as const, value: { ...common, blob: fromBase64(r.blob) } };
      return kind({ case: "resource", value: { contents, annotations, meta } });
    }
  }
}

// MCP annotations; undefined stays undefined.
function toAnnotations(a: McpAnnotations | undefined): AnnotationsInit | undefined {
  if (a === undefined) return undefined;
  return {
    audience: (a.audience ?? []).map((r) => (r === "user" ? Role.USER : Role.ASSISTANT)),
    priority: a.priority,
    lastModified: a.lastModified ?? "",
  };
}

/** Maps MCP icons. */
export function toIcons(icons: readonly McpIcon[] | undefined): IconInit[] {
  return (icons ?? []).map((i) => ({
    src: i.src,
    mimeType: i.mimeType ?? "",
    sizes: i.sizes ?? [],
    theme: i.theme ?? "",
  }));
}

function kind(value: MessageInitShape<typeof ContentItemSchema>["kind"]): ContentItem {
  return create(ContentItemSchema, { kind: value });
}

function fromBase64(data: string): Uint8Array {
  return new Uint8Array(Buffer.from(data, "base64"));
}
