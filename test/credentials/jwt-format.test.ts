import { describe, expect, it } from "vitest";
import { checkJwtFormat } from "../../src/credentials/jwt-format.js";
import { ServiceError } from "../../src/errors.js";
import { hs256Header, jwtFrom, segment } from "../support/jwt.js";

const now = Date.UTC(2030, 0, 1);
const nowSeconds = now / 1000;

function jwt(header: unknown, payload: unknown, signature = "c2lnbmF0dXJl"): string {
  return jwtFrom(header, payload, signature);
}

function reasonOf(token: string): string {
  try {
    checkJwtFormat(token, now);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    if (token.length >= 8) expect((error as ServiceError).message).not.toContain(token.slice(0, 8));
    return (error as ServiceError).reason;
  }
  return "accepted";
}

describe("checkJwtFormat", () => {
  it("accepts a token without exp and reports no expiry", () => {
    expect(checkJwtFormat(jwt(hs256Header, { sub: "u1" }), now)).toEqual({});
  });

  it("accepts a token with a future exp and reports it in milliseconds", () => {
    const exp = nowSeconds + 3600;
    expect(checkJwtFormat(jwt(hs256Header, { exp }), now)).toEqual({ expiresAtMs: exp * 1000 });
  });

  it.each([
    ["exp in the past", nowSeconds - 1],
    ["exp exactly now", nowSeconds],
  ])("rejects %s as TOKEN_EXPIRED", (_name, exp) => {
    expect(reasonOf(jwt(hs256Header, { exp }))).toBe("TOKEN_EXPIRED");
  });

  it("ignores a non-numeric exp", () => {
    expect(checkJwtFormat(jwt(hs256Header, { exp: "0" }), now)).toEqual({});
  });

  const valid = jwt(hs256Header, { sub: "u1" });
  const [h, p, s] = valid.split(".") as [string, string, string];

  it.each([
    ["alg none", jwt({ alg: "none" }, {})],
    ["alg NONE", jwt({ alg: "NONE" }, {})],
    ["alg None", jwt({ alg: "None" }, {})],
    ["no alg", jwt({ typ: "JWT" }, {})],
    ["numeric alg", jwt({ alg: 256 }, {})],
    ["empty alg", jwt({ alg: "" }, {})],
    ["two segments", `${h}.${p}`],
    ["four segments", `${h}.${p}.${s}.${s}`],
    ["empty signature", `${h}.${p}.`],
    ["empty header", `.${p}.${s}`],
    ["empty payload", `${h}..${s}`],
    ["padding", `${h}.${p}.${s}=`],
    ["standard base64 characters", `${h}.${p}.ab+/`],
    ["space", `${h}.${p}. ${s}`],
    ["impossible segment length", `${h}.${p}.abcde`],
    ["non-JSON header", jwt("not json", {})],
    ["header JSON array", jwt(["HS256"], {})],
    ["header JSON string", jwt('"HS256"', {})],
    ["header JSON null", jwt("null", {})],
    ["header invalid UTF-8", `${Buffer.from([0x7b, 0xff, 0x7d]).toString("base64url")}.${p}.${s}`],
    ["header with a space before the brace", jwt(' {"alg":"HS256"}', {})],
    ["header with a newline before the brace", jwt('\n{"alg":"HS256"}', {})],
    ["header with a byte-order mark before the brace", jwt('\uFEFF{"alg":"HS256"}', {})],
    ["payload with a space before the brace", jwt(hs256Header, ' {"sub":"u1"}')],
    ["non-JSON payload", jwt(hs256Header, "not json")],
    ["payload JSON array", jwt(hs256Header, [1])],
    ["payload JSON number", jwt(hs256Header, "42")],
    ["longer than 8 KiB", jwt(hs256Header, { pad: "x".repeat(8192) })],
    ["empty", ""],
  ])("rejects %s as INVALID_JWT_FORMAT", (_name, token) => {
    expect(reasonOf(token)).toBe("INVALID_JWT_FORMAT");
  });

  it.each([
    ["a space", '{ "alg": "HS256", "typ": "JWT" }', '{ "sub": "u1" }', "eyAi"],
    ["a newline", '{\n"alg":"HS256"}', '{\n"sub":"u1"}', "ewoi"],
  ])("accepts header and payload JSON with %s after the brace", (_name, header, payload, start) => {
    const token = jwt(header, payload);
    // Only `ey`/`ew` starts are accepted: the shapes the log redactor masks.
    expect(token.startsWith(start)).toBe(true);
    expect(reasonOf(token)).toBe("accepted");
  });

  it("accepts a token of exactly 8192 bytes and rejects a longer one", () => {
    const unsigned = `${segment(hs256Header)}.${segment({})}.`;
    // Signature lengths of 4n+1 are malformed anyway; skip them so only size decides.
    const signed = (length: number) => `${unsigned}${"A".repeat(length)}`;
    const exactLength = 8192 - unsigned.length;
    const overLength = (exactLength + 1) % 4 === 1 ? exactLength + 2 : exactLength + 1;
    expect(exactLength % 4).not.toBe(1);
    expect(reasonOf(signed(exactLength))).toBe("accepted");
    expect(reasonOf(signed(overLength))).toBe("INVALID_JWT_FORMAT");
  });
});
