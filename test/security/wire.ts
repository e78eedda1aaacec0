import { constants as h2, connect as http2Connect } from "node:http2";

// Hand-built protobuf and raw HTTP/2 requests: the abuse suite sends what a
// well-behaved client library would refuse to build (20,000 nested Structs,
// Durations out of range, absurd headers) and reads what comes back as it is.

/** The base-128 varint encoding of a non-negative integer below 2^53. */
export function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2) with a field number below 16. */
export function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of((field << 3) | 2), varint(payload.length), payload]);
}

/** A varint field (wire type 0) with a field number below 16; a negative value as int64. */
export function varintField(field: number, value: bigint): Buffer {
  const unsigned = value < 0n ? value + (1n << 64n) : value;
  const bytes: number[] = [(field << 3) | 0];
  let rest = unsigned;
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Buffer.from(bytes);
}

/** The JSON text of `depth` objects nested in one another: `{"a":{"a":"x"}}` for 2. */
export function nestedJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}"x"${"}".repeat(depth)}`;
}

/**
 * The binary `google.protobuf.Struct` of nestedJson(depth), built without
 * recursion (protobuf-es would need a stack frame per level to write it):
 * each Struct holds one entry `"a"` whose Value is the next Struct
 * (`struct_value`, field 5), down to the string Value `"x"`. Sizes are
 * computed from the inside out, then the prefixes written from the outside in.
 */
export function nestedStructBinary(depth: number): Buffer {
  if (!Number.isInteger(depth) || depth < 1) throw new Error("depth must be at least 1");
  const key = Buffer.from([0x0a, 1, 0x61]); // map entry key = "a"
  const innermost = Buffer.from([0x1a, 1, 0x78]); // Value.string_value = "x"
  // structSizes[k] is the size of the Struct at nesting level k (1 = innermost).
  const entrySizes: number[] = [];
  const structSizes: number[] = [];
  let valueSize = innermost.length;
  for (let level = 1; level <= depth; level++) {
    const entrySize = key.length + 1 + varint(valueSize).length + valueSize;
    const structSize = 1 + varint(entrySize).length + entrySize;
    entrySizes[level] = entrySize;
    structSizes[level] = structSize;
    // The Value that holds this Struct, as the next level's entry value.
    valueSize = 1 + varint(structSize).length + structSize;
  }
  const chunks: Buffer[] = [];
  for (let level = depth; level >= 1; level--) {
    const entrySize = entrySizes[level] as number;
    chunks.push(Buffer.of(0x0a), varint(entrySize), key); // Struct.fields entry, its key
    if (level === 1) {
      chunks.push(Buffer.of(0x12), varint(innermost.length));
    } else {
      const inner = structSizes[level - 1] as number;
      const value = 1 + varint(inner).length + inner;
      chunks.push(Buffer.of(0x12), varint(value), Buffer.of(0x2a), varint(inner));
    }
  }
  chunks.push(innermost);
  return Buffer.concat(chunks);
}

/** Fields of a hand-built CallToolRequest; each is left out when undefined. */
export interface RawCallTool {
  readonly sessionId?: string;
  readonly name?: string;
  /** The binary google.protobuf.Struct of `arguments`. */
  readonly arguments?: Uint8Array;
  /** `timeout` as raw Duration fields, unchecked. */
  readonly timeout?: { readonly seconds: bigint; readonly nanos: number };
}

/** The binary mcpclient.v1.CallToolRequest with exactly the given fields. */
export function callToolBinary(request: RawCallTool): Buffer {
  const parts: Buffer[] = [];
  if (request.sessionId !== undefined) {
    parts.push(lengthDelimited(1, Buffer.from(request.sessionId, "utf8")));
  }
  if (request.name !== undefined) parts.push(lengthDelimited(2, Buffer.from(request.name, "utf8")));
  if (request.arguments !== undefined) parts.push(lengthDelimited(3, request.arguments));
  if (request.timeout !== undefined) {
    const { seconds, nanos } = request.timeout;
    const duration = Buffer.concat([varintField(1, seconds), varintField(2, BigInt(nanos))]);
    parts.push(lengthDelimited(4, duration));
  }
  return Buffer.concat(parts);
}

/** The 5-byte gRPC envelope (uncompressed) around `message`. */
export function grpcFrame(message: Uint8Array, declaredLength = message.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, message]);
}

/** What a raw gRPC call got back. */
export interface RawGrpcResult {
  /** The HTTP status, 0 when the stream was reset before any headers. */
  readonly httpStatus: number;
  /** `grpc-status` from the trailers (or from a trailers-only response); undefined when none. */
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string | undefined;
  /** The response body: gRPC frames. */
  readonly body: Buffer;
  /** The HTTP/2 error code of a reset stream, or undefined. */
  readonly rstCode: number | undefined;
}

/**
 * POSTs `body` (one or more gRPC frames, sent as they are) to `path` over a
 * fresh cleartext HTTP/2 connection with prior knowledge, with the gRPC
 * headers plus `headers`, and closes the connection afterwards.
 */
export function rawGrpc(
  url: string,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawGrpcResult> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url);
    session.on("error", () => {});
    const stream = session.request({
      [h2.HTTP2_HEADER_METHOD]: "POST",
      [h2.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...headers,
    });
    let httpStatus = 0;
    let grpcStatus: number | undefined;
    let grpcMessage: string | undefined;
    const chunks: Buffer[] = [];
    const take = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) grpcStatus = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) {
        grpcMessage = decodeURIComponent(String(h["grpc-message"]));
      }
    };
    stream.on("response", (h) => {
      httpStatus = Number(h[h2.HTTP2_HEADER_STATUS]);
      take(h);
    });
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    let done = false;
    // The answer is complete at the end of the response, which may come
    // before the request body is sent: the server answers an oversized
    // message at once and never reads the rest (nor resets the stream).
    const finish = () => {
      if (done) return;
      done = true;
      const rstCode =
        stream.rstCode === undefined || stream.rstCode === h2.NGHTTP2_NO_ERROR
          ? undefined
          : stream.rstCode;
      session.destroy();
      resolve({ httpStatus, grpcStatus, grpcMessage, body: Buffer.concat(chunks), rstCode });
    };
    stream.on("end", finish);
    stream.on("close", finish);
    session.on("close", () => {
      if (!done) reject(new Error("the HTTP/2 session closed before the stream ended"));
    });
    stream.end(body);
  });
}
