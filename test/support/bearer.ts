import type { CallOptions } from "@connectrpc/connect";

/** Call options carrying `authorization: Bearer <token>`, as the RPCs after Init expect. */
export function bearer(token: string): CallOptions {
  return { headers: { authorization: `Bearer ${token}` } };
}
