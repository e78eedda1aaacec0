import { describe, expect, it } from "vitest";
import type { Logger } from "../../src/log/logger.js";
import { base64url } from "../support/jwt.js";
import { captureLogs } from "../support/log-capture.js";

const header = base64url('{"alg":"HS256","typ":"JWT"}');
const payload = base64url('{"sub":"CANARY-user","exp":4102444800}');
const signature = "CANARY-sig_0123456789abcdef";
const canaryJwt = `${header}.${payload}.${signature}`;

/** Runs `write`, then checks that lines were written and none leaks the canary. */
function logged(write: (log: Logger) => void): {
  text: string;
  entries: Record<string, unknown>[];
} {
  const captured = captureLogs();
  write(captured.logger);
  expect(captured.lines.length).toBeGreaterThan(0);
  const text = captured.text();
  for (const secret of ["CANARY", payload, signature, canaryJwt])
    expect(text).not.toContain(secret);
  return { text, entries: captured.entries() };
}

describe("createLogger", () => {
  it("writes JSON lines with service, ISO time and level", () => {
    const { logger: log, lines } = captureLogs("info");
    log.debug("hidden");
    log.info({ session_id: "s-1" }, "shown");
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] ?? "");
    expect(entry).toMatchObject({
      level: 30,
      service: "mcp-client-server",
      session_id: "s-1",
      msg: "shown",
    });
    expect(new Date(entry.time).toISOString()).toBe(entry.time);
  });

  it("masks a JWT in the message and in format arguments", () => {
    const { entries } = logged((log) => {
      log.info(`credential check for ${canaryJwt} on session s-7`);
      log.info("token %s, body %j", canaryJwt, {
        upstream: { auth: { password: "CANARY-pw" } },
        path: "/v1/ok",
      });
    });
    expect(entries[0]?.msg).toBe("credential check for [REDACTED] on session s-7");
    expect(entries[1]?.msg).toContain('"path":"/v1/ok"');
  });

  it("masks jwtToken and nested authorization headers in merge objects", () => {
    const { entries } = logged((log) =>
      log.info(
        {
          session_id: "sess-123",
          jwtToken: canaryJwt,
          request: {
            url: "https://api.example.com/v1/settings/validate",
            headers: { authorization: `Bearer ${canaryJwt}` },
          },
          config: { servers: [{ headers: { Authorization: "Bearer CANARY-opaque" } }] },
        },
        "validating",
      ),
    );
    expect(entries[0]).toMatchObject({
      session_id: "sess-123",
      jwtToken: "[REDACTED]",
      request: {
        url: "https://api.example.com/v1/settings/validate",
        headers: { authorization: "[REDACTED]" },
      },
      msg: "validating",
    });
  });

  it("masks tokens inside an Error's message, stack and cause", () => {
    const cause = new Error(`upstream said: Bearer ${canaryJwt}`);
    const error = new Error(`request failed for ${canaryJwt}`, { cause });
    const { entries } = logged((log) => {
      log.error(error);
      log.error({ err: error, session_id: "sess-9" }, "tool call failed");
    });
    expect(entries[0]).toMatchObject({
      msg: "request failed for [REDACTED]",
      err: {
        type: "Error",
        message: "request failed for [REDACTED]",
        cause: { message: "upstream said: Bearer [REDACTED]" },
      },
    });
    expect(entries[1]).toMatchObject({ session_id: "sess-9", msg: "tool call failed" });
  });

  it("masks URL query strings but keeps the path", () => {
    const { entries } = logged((log) =>
      log.warn(
        { target: "https://api.example.com/v1/items?api_key=CANARY-key" },
        "GET https://api.example.com/v1/items?t=CANARY failed",
      ),
    );
    expect(entries[0]).toMatchObject({
      target: "https://api.example.com/v1/items?[REDACTED]",
      msg: "GET https://api.example.com/v1/items?[REDACTED] failed",
    });
  });

  it("masks child bindings and a child process's stderr line", () => {
    const { entries } = logged((log) => {
      const child = log.child({
        session_id: "sess-5",
        jwtToken: canaryJwt,
        upstream: { url: "https://api.example.com/v1?key=CANARY", auth: { apiKey: "CANARY" } },
      });
      const grandchild = child.child({ mcpServer: "github", note: `Bearer ${canaryJwt}` });
      grandchild.warn(
        { stream: "stderr", line: `debug: sending Authorization: Bearer ${canaryJwt}` },
        "mcp server output",
      );
      child.setBindings({ later: { deep: { secret: "CANARY" } } });
      child.info("rebound");
    });
    expect(entries[0]).toMatchObject({
      session_id: "sess-5",
      mcpServer: "github",
      jwtToken: "[REDACTED]",
      upstream: { url: "https://api.example.com/v1?[REDACTED]", auth: { apiKey: "[REDACTED]" } },
      line: "debug: sending Authorization: Bearer [REDACTED]",
    });
    expect(entries[1]).toMatchObject({ later: { deep: { secret: "[REDACTED]" } }, msg: "rebound" });
  });

  it("keeps masking known keys through pino redact when a child replaces the log formatter", () => {
    const { entries } = logged((log) => {
      const raw = log.child({}, { formatters: { log: (object) => object } });
      raw.info({
        session_id: "sess-3",
        jwtToken: canaryJwt,
        headers: { authorization: `Bearer ${canaryJwt}` },
      });
    });
    expect(entries[0]).toMatchObject({
      session_id: "sess-3",
      jwtToken: "[REDACTED]",
      headers: { authorization: "[REDACTED]" },
    });
  });
});
