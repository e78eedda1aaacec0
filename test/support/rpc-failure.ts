import { type Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/mcpclient/v1/error_info_pb.js";

/** What a failed RPC carried: its code and its first `mcpclient.v1.ErrorInfo` detail, if any. */
export interface RpcFailure {
  readonly code: Code;
  /** The ErrorInfo reason; undefined when the error has no ErrorInfo detail. */
  readonly reason: string | undefined;
  /** The ErrorInfo metadata (a copy); empty without a detail. */
  readonly metadata: Record<string, string>;
  readonly error: ConnectError;
}

/** The code and ErrorInfo of anything a Connect client threw (via `ConnectError.from`). */
export function toRpcFailure(thrown: unknown): RpcFailure {
  const error = ConnectError.from(thrown);
  const info = error.findDetails(ErrorInfoSchema)[0];
  return { code: error.code, reason: info?.reason, metadata: { ...info?.metadata }, error };
}

/** Awaits `call`, which must reject, and returns its RpcFailure; throws if it resolves. */
export async function rpcFailure(call: Promise<unknown>): Promise<RpcFailure> {
  try {
    await call;
  } catch (thrown) {
    return toRpcFailure(thrown);
  }
  throw new Error("expected the RPC to fail, but it succeeded");
}
