import { createContextKey } from "@connectrpc/connect";
import type { Caller, CallerCredentials } from "../auth/caller-auth.js";

/** What the transport knows about the caller (TLS certificate, address), set per request. */
export const kCallerCredentials = createContextKey<CallerCredentials>(
  {},
  {
    description: "caller credentials from the connection",
  },
);

/** The authenticated caller, set by the auth interceptor. */
export const kCaller = createContextKey<Caller>(
  { id: "anonymous", operator: false },
  {
    description: "authenticated caller",
  },
);
