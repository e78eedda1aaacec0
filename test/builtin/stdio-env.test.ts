import { describe, expect, it } from "vitest";
import {
  defaultMaxResponseBytes,
  defaultRequestTimeoutMs,
  readBuiltinEnv,
} from "../../src/builtin/stdio-env.js";

const valid = { API_BASE_URL: "https://api.example/base/v1", API_TOKEN: "tok.en.SECRET" };

describe("readBuiltinEnv", () => {
  it("reads the required variables and applies the defaults", () => {
    const env = readBuiltinEnv(valid);
    expect(env.apiUrl.href).toBe("https://api.example/base/v1");
    expect(env.jwtToken).toBe("tok.en.SECRET");
    expect(env.requestTimeoutMs).toBe(defaultRequestTimeoutMs);
    expect(env.maxResponseBytes).toBe(defaultMaxResponseBytes);
    expect([defaultRequestTimeoutMs, defaultMaxResponseBytes]).toEqual([30_000, 1_048_576]);
    expect(env.outbound).toEqual({ profile: "production", allowedOrigins: [] });
  });

  it("reads the outbound profile, an empty one being the production default", () => {
    expect(readBuiltinEnv({ ...valid, API_OUTBOUND_PROFILE: "development" }).outbound).toEqual({
      profile: "development",
      allowedOrigins: [],
    });
    expect(readBuiltinEnv({ ...valid, API_OUTBOUND_PROFILE: "production" }).outbound.profile).toBe(
      "production",
    );
    expect(readBuiltinEnv({ ...valid, API_OUTBOUND_PROFILE: "" }).outbound.profile).toBe(
      "production",
    );
  });

  it("reads API_ALLOWED_ORIGINS as a comma-separated list, trimmed, empty entries dropped", () => {
    const env = readBuiltinEnv({
      ...valid,
      API_ALLOWED_ORIGINS: " https://api.example , ,http://10.0.0.5:8080,https://*.corp.example,",
    });
    expect(env.outbound).toEqual({
      profile: "production",
      allowedOrigins: ["https://api.example", "http://10.0.0.5:8080", "https://*.corp.example"],
    });
    expect(
      readBuiltinEnv({ ...valid, API_ALLOWED_ORIGINS: " , " }).outbound.allowedOrigins,
    ).toEqual([]);
  });

  it("reads the optional limits", () => {
    const env = readBuiltinEnv({
      ...valid,
      API_REQUEST_TIMEOUT_MS: "1500",
      API_MAX_RESPONSE_BYTES: "2048",
    });
    expect([env.requestTimeoutMs, env.maxResponseBytes]).toEqual([1500, 2048]);
  });

  it.each([
    ["API_BASE_URL", { API_TOKEN: valid.API_TOKEN }],
    ["API_BASE_URL", { ...valid, API_BASE_URL: "" }],
    ["API_BASE_URL", { ...valid, API_BASE_URL: "not a url SECRET" }],
    ["API_BASE_URL", { ...valid, API_BASE_URL: "file:///SECRET" }],
    ["API_BASE_URL", { ...valid, API_BASE_URL: "https://user:SECRET@api.example/" }],
    ["API_TOKEN", { API_BASE_URL: valid.API_BASE_URL }],
    ["API_TOKEN", { ...valid, API_TOKEN: "SECRET\r\nX-Injected: 1" }],
    ["API_REQUEST_TIMEOUT_MS", { ...valid, API_REQUEST_TIMEOUT_MS: "SECRET" }],
    ["API_REQUEST_TIMEOUT_MS", { ...valid, API_REQUEST_TIMEOUT_MS: "0" }],
    ["API_REQUEST_TIMEOUT_MS", { ...valid, API_REQUEST_TIMEOUT_MS: "1e3" }],
    ["API_REQUEST_TIMEOUT_MS", { ...valid, API_REQUEST_TIMEOUT_MS: "9999999999" }],
    ["API_MAX_RESPONSE_BYTES", { ...valid, API_MAX_RESPONSE_BYTES: "-1" }],
    ["API_OUTBOUND_PROFILE", { ...valid, API_OUTBOUND_PROFILE: "SECRET" }],
    ["API_OUTBOUND_PROFILE", { ...valid, API_OUTBOUND_PROFILE: "Development" }],
    ["API_OUTBOUND_PROFILE", { ...valid, API_OUTBOUND_PROFILE: " production" }],
    ["API_ALLOWED_ORIGINS", { ...valid, API_ALLOWED_ORIGINS: "SECRET.example" }],
    ["API_ALLOWED_ORIGINS", { ...valid, API_ALLOWED_ORIGINS: "https://SECRET.example/v1" }],
    ["API_ALLOWED_ORIGINS", { ...valid, API_ALLOWED_ORIGINS: "https://ok.example,ftp://SECRET" }],
    ["API_ALLOWED_ORIGINS", { ...valid, API_ALLOWED_ORIGINS: "https://u:SECRET@ok.example" }],
  ])("names %s when it is missing or invalid, without quoting a value", (name, env) => {
    expect(() => readBuiltinEnv(env)).toThrow(name);
    expect(() => readBuiltinEnv(env)).not.toThrow(/SECRET/);
  });
});
