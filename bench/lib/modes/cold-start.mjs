// Load mode "cold-start": one call is a NEW session's Init followed by its first CallTool, over
// gRPC on h2c, all lanes sharing ONE HTTP/2 connection (opened in open(), so not timed). The
// worker times the whole call(), i.e. from sending Init to receiving the first tool result; the
// first CallTool includes the tool listing the service does on a session's first call.
//
// CloseSession is kept out of the timing: call() leaves its session open and close() (which the
// worker runs after the measured phase, untimed) closes every session this worker opened. Closing
// between calls instead would put CloseSession -- for a stdio server, reaping its process -- either
// inside the next call's time or running beside the next Init. The price is that all sessions of
// one run are alive until its end (some 70 MB RSS per stdio server process).
//
// target: {
//   url,                     the service's base URL (startService's `url`)
//   apiUrl, jwt,             the Init credentials (startUserApi's `apiUrl`, makeJwt(...))
//   sessionPrefix = "cold",  call i uses session "<sessionPrefix>-<i>": a fresh id per call
//   tool = "echo",           the first tool call's name ...
//   arguments = {},          ... and arguments
//   initOnly = false,        time the Init alone (no CallTool)
//   timeoutMs = 30000,       per-RPC deadline
// }
// Errors are counted as in the grpc mode ("<Code> <ErrorInfo reason>"), plus "REUSED" when an
// Init answers `reused` (the session was not new, so the call was no cold start) and
// "TOOL_IS_ERROR" for a result with is_error.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { SessionService } from "../../../dist/gen/mcpclient/v1/session_service_pb.js";

export { classify } from "./grpc.mjs";

const closeLanes = 8;

/** Opens one HTTP/2 connection to `target.url` and returns `{ call(i, lane), close() }`. */
export async function open(target) {
  const {
    url,
    apiUrl,
    jwt,
    sessionPrefix = "cold",
    tool = "echo",
    arguments: toolArguments = {},
    initOnly = false,
    timeoutMs = 30_000,
  } = target;
  if (typeof url !== "string" || typeof apiUrl !== "string" || typeof jwt !== "string")
    throw new Error("target needs url, apiUrl and jwt");

  const sessionManager = new Http2SessionManager(url);
  const client = createClient(
    SessionService,
    createGrpcTransport({ baseUrl: url, sessionManager }),
  );
  const headers = { authorization: `Bearer ${jwt}` };
  const opened = [];
  await sessionManager.connect();

  return {
    async call(i) {
      const sessionId = `${sessionPrefix}-${i}`;
      const init = await client.init({ sessionId, apiUrl, jwtToken: jwt }, { timeoutMs });
      opened.push(sessionId);
      if (init.reused) throw Object.assign(new Error("reused"), { reason: "REUSED" });
      if (initOnly) return;
      const result = await client.callTool(
        { sessionId, name: tool, arguments: toolArguments },
        { headers, timeoutMs },
      );
      if (result.isError) throw Object.assign(new Error("is_error"), { reason: "TOOL_IS_ERROR" });
    },
    async close() {
      // Best effort: whatever is left open here the service's shutdown closes.
      const lane = async () => {
        for (let sessionId = opened.pop(); sessionId !== undefined; sessionId = opened.pop()) {
          await client.closeSession({ sessionId }, { headers, timeoutMs }).catch(() => undefined);
        }
      };
      await Promise.all(Array.from({ length: closeLanes }, lane));
      sessionManager.abort();
    },
  };
}
