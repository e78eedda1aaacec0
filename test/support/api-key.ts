import { createHash } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";

/** Lower-case hex SHA-256 of `text`, as `auth.apiKeys[].sha256` holds it. */
export function sha256hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** A client interceptor that sends `key` as `x-api-key`. */
export function withApiKey(key: string): Interceptor {
  return (next) => async (req) => {
    req.header.set("x-api-key", key);
    return next(req);
  };
}
