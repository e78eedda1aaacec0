import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { ErrorInfo } from "../../gen/mcpclient/v1/error_info_pb.js";
import { bearer } from "../support/bearer.js";
import { base64url, segment } from "../support/jwt.js";
import { closedPort } from "../support/loopback-port.js";
import { appWithUpstream, expectRpcError, useHarness } from "./harness.js";

const h = useHarness();

/**
 * Sends an Init of session `s1` with the upstream's api_url and a fresh
 * token, `fields` set over them, and expects it refused with `code` and
 * `reason` before any request to the upstream and before any start.
 */
async function expectRefusedUpfront(
  fields: { sessionId?: string; apiUrl?: string; jwtToken?: string },
  code: Code,
  reason: string,
): Promise<ErrorInfo> {
  const { client, upstream, starts } = await appWithUpstream(h);
  const request = { sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt(), ...fields };
  const { info } = await expectRpcError(client.init(request), code, reason);
  expect(upstream.requests).toHaveLength(0);
  expect(starts.calls).toBe(0);
  return info;
}

describe("Init: missing parameters", () => {
  it.each([
    ["session_id", { sessionId: "" }],
    ["api_url", { apiUrl: "" }],
    ["jwt_token", { jwtToken: "" }],
    ["session_id,api_url,jwt_token", { sessionId: "", apiUrl: "", jwtToken: "" }],
  ])("names %s in metadata fields", async (fields, blank) => {
    const info = await expectRefusedUpfront(blank, Code.InvalidArgument, "MISSING_PARAMETERS");
    expect(info.metadata.fields?.split(",").sort()).toEqual(fields.split(",").sort());
  });

  it("reports missing parameters before an invalid api_url or token", async () => {
    const { client, starts } = await appWithUpstream(h);
    const { info } = await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: "not a url", jwtToken: "" }),
      Code.InvalidArgument,
      "MISSING_PARAMETERS",
    );
    expect(info.metadata.fields).toBe("jwt_token");
    expect(starts.calls).toBe(0);
  });
});

describe("INVALID_SESSION_ID", () => {
  const badIds = {
    "129 characters": "a".repeat(129),
    "a space": "user 123",
    "a slash": "user/123",
    "a non-ASCII letter": "usér",
    "a newline": "user\n123",
    "10k characters": "x".repeat(10_000),
  };

  it.each(Object.entries(badIds))("Init refuses a session_id with %s", async (_, sessionId) => {
    await expectRefusedUpfront({ sessionId }, Code.InvalidArgument, "INVALID_SESSION_ID");
  });

  it.each(Object.entries(badIds))(
    "CallTool, ListTools and CloseSession refuse a session_id with %s",
    async (_, sessionId) => {
      const { client } = await appWithUpstream(h);
      const auth = bearer(h.jwt());
      const reason = "INVALID_SESSION_ID";
      await expectRpcError(
        client.callTool({ sessionId, name: "validate_settings" }, auth),
        Code.InvalidArgument,
        reason,
      );
      await expectRpcError(client.listTools({ sessionId }, auth), Code.InvalidArgument, reason);
      await expectRpcError(client.closeSession({ sessionId }, auth), Code.InvalidArgument, reason);
    },
  );

  it("accepts 128 characters of every allowed kind", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    const sessionId = "Az09_-.:@".padEnd(128, "x");
    const res = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken: h.jwt() });
    expect(res.status).toBe("ok");
    expect(starts.sessions).toEqual([sessionId]);
  });
});

describe("INVALID_API_URL", () => {
  it.each([
    ["not a URL", "not a url"],
    ["a relative path", "/api/v1"],
    ["another scheme", "ftp://127.0.0.1/api"],
    ["no slashes after the scheme", "http:127.0.0.1/api"],
    ["userinfo", "http://user:pw@127.0.0.1/api"],
    ["a fragment", "http://127.0.0.1/api#frag"],
    ["surrounding whitespace", " http://127.0.0.1/api"],
  ])("refuses %s without any request or start", async (_, apiUrl) => {
    await expectRefusedUpfront({ apiUrl }, Code.Unauthenticated, "INVALID_API_URL");
  });

  it("is checked before the token", async () => {
    const { client } = await appWithUpstream(h);
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: "ftp://x", jwtToken: "not-a-jwt" }),
      Code.Unauthenticated,
      "INVALID_API_URL",
    );
  });
});

describe("INVALID_JWT_FORMAT and TOKEN_EXPIRED", () => {
  const header = segment({ alg: "HS256", typ: "JWT" });
  const payload = segment({ sub: "someone" });
  const sig = "c2lnbmF0dXJlLXNlZ21lbnQ";
  const malformed = {
    "no dots": "not-a-jwt",
    "two segments": `${header}.${payload}`,
    "four segments": `${header}.${payload}.${sig}.${sig}`,
    "an empty signature": `${header}.${payload}.`,
    "an empty header": `.${payload}.${sig}`,
    padding: `${header}=.${payload}.${sig}`,
    "standard base64 characters": `${header}.${payload}.ab+/cd`,
    "a header that is not JSON": `${base64url("not json")}.${payload}.${sig}`,
    "a header that is a JSON array": `${segment(["HS256"])}.${payload}.${sig}`,
    "alg none": `${segment({ alg: "none", typ: "JWT" })}.${payload}.${sig}`,
    "alg NONE": `${segment({ alg: "NONE" })}.${payload}.${sig}`,
    "no alg": `${segment({ typ: "JWT" })}.${payload}.${sig}`,
    "a payload that is not a JSON object": `${header}.${segment("text")}.${sig}`,
    "more than 8 KiB": `${header}.${segment({ pad: "x".repeat(9000) })}.${sig}`,
  };

  it.each(Object.entries(malformed))("refuses a token with %s", async (_, jwtToken) => {
    await expectRefusedUpfront({ jwtToken }, Code.Unauthenticated, "INVALID_JWT_FORMAT");
  });

  it("refuses an expired token with TOKEN_EXPIRED", async () => {
    const jwtToken = h.jwt({ exp: Math.floor(Date.now() / 1000) - 60 });
    await expectRefusedUpfront({ jwtToken }, Code.Unauthenticated, "TOKEN_EXPIRED");
  });

  it("accepts a token without exp and one that expires later", async () => {
    const { client, upstream } = await appWithUpstream(h);
    for (const [sessionId, jwtToken] of [
      ["no-exp", h.jwt({ exp: null })],
      ["later", h.jwt({ exp: Math.floor(Date.now() / 1000) + 60 })],
    ] as const) {
      const res = await client.init({ sessionId, apiUrl: upstream.apiUrl, jwtToken });
      expect(res.status).toBe("ok");
    }
    expect(upstream.validations()).toHaveLength(2);
  });
});

describe("credential check against the upstream", () => {
  it("POSTs the token as a bearer to {api_url}/settings/validate", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    const token = h.jwt();
    const res = await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token });
    expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });
    expect(upstream.requests).toEqual([
      {
        method: "POST",
        path: upstream.validatePath,
        authorization: `Bearer ${token}`,
        body: expect.any(String),
      },
    ]);
    expect({ calls: starts.calls, started: starts.started }).toEqual({ calls: 1, started: 1 });
  });

  it.each([401, 403])("maps %i to UNAUTHENTICATED CREDENTIALS_REJECTED", async (status) => {
    const { client, upstream, starts, app } = await appWithUpstream(h);
    upstream.onValidate = () => status;
    const { info } = await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Unauthenticated,
      "CREDENTIALS_REJECTED",
    );
    expect(info.metadata.http_status).toBe(String(status));
    expect(upstream.validations()).toHaveLength(1);
    expect(starts.calls).toBe(0);
    expect(app.sessions.size).toBe(0);
  });

  it('keeps the original message "Connection test failed: 403 Forbidden"', async () => {
    const { client, upstream } = await appWithUpstream(h);
    upstream.onValidate = () => 403;
    const { error } = await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Unauthenticated,
      "CREDENTIALS_REJECTED",
    );
    expect(error.rawMessage).toBe("Connection test failed: 403 Forbidden");
  });

  it("maps a 500 to INTERNAL UPSTREAM_ERROR", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    upstream.onValidate = () => 500;
    const { info } = await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Internal,
      "UPSTREAM_ERROR",
    );
    expect(info.metadata.http_status).toBe("500");
    expect(starts.calls).toBe(0);
  });

  it("does not follow a redirect: a 302 is UPSTREAM_ERROR", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    upstream.onValidate = () => 302;
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Internal,
      "UPSTREAM_ERROR",
    );
    expect(upstream.requests).toHaveLength(1);
    expect(starts.calls).toBe(0);
  });

  it("maps an answer slower than credentialCheck.timeoutMs to UPSTREAM_TIMEOUT", async () => {
    const { client, upstream, starts, config } = await appWithUpstream(h);
    expect(config.credentialCheck.timeoutMs).toBe(300);
    upstream.onValidate = () => ({ status: 200, delayMs: 3000 });
    const started = performance.now();
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Internal,
      "UPSTREAM_TIMEOUT",
    );
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2500);
    expect(upstream.validations()).toHaveLength(1);
    expect(starts.calls).toBe(0);
  });

  it("maps an upstream that never answers to UPSTREAM_TIMEOUT", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    upstream.onValidate = () => "hang";
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: h.jwt() }),
      Code.Internal,
      "UPSTREAM_TIMEOUT",
    );
    expect(starts.calls).toBe(0);
  });

  it("maps a closed port to UPSTREAM_UNREACHABLE", async () => {
    const { client, starts, app } = await appWithUpstream(h);
    const apiUrl = `http://127.0.0.1:${await closedPort()}/api/v1`;
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl, jwtToken: h.jwt() }),
      Code.Internal,
      "UPSTREAM_UNREACHABLE",
    );
    expect(starts.calls).toBe(0);
    expect(app.sessions.size).toBe(0);
  });

  it("leaves no session behind after a failed check", async () => {
    const { client, upstream } = await appWithUpstream(h);
    const token = h.jwt();
    upstream.onValidate = () => 401;
    await expectRpcError(
      client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token }),
      Code.Unauthenticated,
      "CREDENTIALS_REJECTED",
    );
    await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(token)),
      Code.NotFound,
      "SESSION_NOT_FOUND",
    );
    // A retry is checked again rather than remembered.
    upstream.onValidate = () => 200;
    const res = await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token });
    expect(res.reused).toBe(false);
    expect(upstream.validations()).toHaveLength(2);
  });
});
