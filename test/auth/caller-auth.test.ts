import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type CallerAuthConfig,
  type CallerCredentials,
  createCallerAuth,
} from "../../src/auth/caller-auth.js";
import { ServiceError } from "../../src/errors.js";
import { sha256hex } from "../support/api-key.js";

/** A distinctive key: any copy of it in an error is a leak. */
const backendKey = `KEYCANARY-backend-${randomUUID()}`;
const batchKey = `KEYCANARY-batch-${randomUUID()}`;

const apiKeys = [
  { name: "backend", sha256: sha256hex(backendKey) },
  { name: "batch", sha256: sha256hex(batchKey) },
];

const none: CallerAuthConfig = { apiKeys: [], requireClientCertificate: false };
const keysOnly: CallerAuthConfig = { apiKeys, requireClientCertificate: false };
const certOnly: CallerAuthConfig = { apiKeys: [], requireClientCertificate: true };
const both: CallerAuthConfig = { apiKeys, requireClientCertificate: true };

/**
 * Runs the check and returns the ServiceError it threw, with everything about
 * it a caller or a log could see; fails when the check passes or throws
 * anything else.
 */
function rejection(config: CallerAuthConfig, credentials: CallerCredentials) {
  let thrown: unknown;
  try {
    const caller = createCallerAuth(config)(credentials);
    thrown = new Error(`expected a rejection, got caller ${caller.id}`);
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof ServiceError)) throw thrown;
  return {
    reason: thrown.reason,
    errorClass: thrown.errorClass,
    visible: [thrown.message, JSON.stringify(thrown.metadata), String(thrown.cause ?? "")].join(
      "\n",
    ),
  };
}

describe("createCallerAuth without API keys or client certificates", () => {
  it("identifies the caller by its remote address", () => {
    const auth = createCallerAuth(none);
    expect(auth({ remoteAddress: "10.1.2.3" })).toEqual({ id: "addr:10.1.2.3", operator: false });
    expect(auth({ remoteAddress: "::1" })).toEqual({ id: "addr:::1", operator: false });
  });

  it("names an unknown address `addr:unknown`", () => {
    expect(createCallerAuth(none)({})).toEqual({ id: "addr:unknown", operator: false });
  });

  it("ignores an API key or a subject nobody asked for", () => {
    const auth = createCallerAuth(none);
    expect(
      auth({ apiKey: backendKey, certificateSubject: "someone", remoteAddress: "10.0.0.9" }),
    ).toEqual({ id: "addr:10.0.0.9", operator: false });
  });
});

describe("createCallerAuth with API keys", () => {
  it.each([
    ["no key", undefined],
    ["an empty key", ""],
  ])("refuses %s with UNAUTHENTICATED API_KEY_REQUIRED", (_label, apiKey) => {
    expect(rejection(keysOnly, { apiKey, remoteAddress: "10.0.0.1" })).toMatchObject({
      reason: "API_KEY_REQUIRED",
      errorClass: "unauthenticated",
    });
  });

  it.each([
    ["an unknown key", `KEYCANARY-wrong-${randomUUID()}`],
    ["a key with one more character", `${backendKey}x`],
    ["a key one character short", backendKey.slice(0, -1)],
    ["the key in upper case", backendKey.toUpperCase()],
    ["the key's hash instead of the key", sha256hex(backendKey)],
    ["the key's name", "backend"],
  ])("refuses %s with UNAUTHENTICATED API_KEY_INVALID, never echoing it", (_label, apiKey) => {
    const failure = rejection(keysOnly, { apiKey });
    expect(failure).toMatchObject({ reason: "API_KEY_INVALID", errorClass: "unauthenticated" });
    expect(failure.visible).not.toContain(apiKey);
    expect(failure.visible).not.toContain(backendKey);
    expect(failure.visible).not.toContain(sha256hex(backendKey));
  });

  it("accepts the first key as `key:<name>`", () => {
    expect(createCallerAuth(keysOnly)({ apiKey: backendKey, remoteAddress: "10.0.0.1" })).toEqual({
      id: "key:backend",
      operator: false,
    });
  });

  it("accepts the second key as its own name", () => {
    expect(createCallerAuth(keysOnly)({ apiKey: batchKey })).toEqual({
      id: "key:batch",
      operator: false,
    });
  });

  it("checks the key on every call (a good key does not open the door for the next)", () => {
    const auth = createCallerAuth(keysOnly);
    expect(auth({ apiKey: backendKey }).id).toBe("key:backend");
    expect(() => auth({})).toThrow(ServiceError);
    expect(() => auth({ apiKey: "nope" })).toThrow(ServiceError);
    expect(auth({ apiKey: batchKey }).id).toBe("key:batch");
  });
});

describe("createCallerAuth with client certificates required", () => {
  it("refuses a caller without a verified certificate with CLIENT_CERTIFICATE_REQUIRED", () => {
    expect(rejection(certOnly, { remoteAddress: "10.0.0.1" })).toMatchObject({
      reason: "CLIENT_CERTIFICATE_REQUIRED",
      errorClass: "unauthenticated",
    });
  });

  it("does not take an API key instead of a certificate", () => {
    expect(rejection(certOnly, { apiKey: backendKey })).toMatchObject({
      reason: "CLIENT_CERTIFICATE_REQUIRED",
    });
  });

  it("identifies the caller by the certificate subject as `cert:<subject>`", () => {
    expect(
      createCallerAuth(certOnly)({
        certificateSubject: "backend-client",
        remoteAddress: "10.0.0.1",
      }),
    ).toEqual({ id: "cert:backend-client", operator: false });
  });
});

describe("createCallerAuth with API keys and client certificates", () => {
  it("needs the certificate even with a good key", () => {
    const failure = rejection(both, { apiKey: backendKey });
    expect(failure.reason).toBe("CLIENT_CERTIFICATE_REQUIRED");
    expect(failure.visible).not.toContain(backendKey);
  });

  it("needs a key even with a certificate", () => {
    expect(rejection(both, { certificateSubject: "backend-client" }).reason).toBe(
      "API_KEY_REQUIRED",
    );
  });

  it("needs a good key even with a certificate", () => {
    const wrong = `KEYCANARY-wrong-${randomUUID()}`;
    const failure = rejection(both, { certificateSubject: "backend-client", apiKey: wrong });
    expect(failure.reason).toBe("API_KEY_INVALID");
    expect(failure.visible).not.toContain(wrong);
  });

  it("accepts both, naming the caller by its key", () => {
    expect(
      createCallerAuth(both)({ certificateSubject: "backend-client", apiKey: batchKey }),
    ).toEqual({ id: "key:batch", operator: false });
  });
});

describe("createCallerAuth operators", () => {
  const opsKey = `KEYCANARY-ops-${randomUUID()}`;
  const withOperator = {
    apiKeys: [
      { name: "backend", sha256: sha256hex(backendKey) },
      { name: "ops", sha256: sha256hex(opsKey), role: "operator" as const },
    ],
    requireClientCertificate: false,
  };

  it("marks a caller with an operator key as an operator, and a client key as not", () => {
    const auth = createCallerAuth(withOperator);
    expect(auth({ apiKey: opsKey })).toEqual({ id: "key:ops", operator: true });
    expect(auth({ apiKey: backendKey })).toEqual({ id: "key:backend", operator: false });
  });

  it("marks a caller whose certificate subject is listed as an operator", () => {
    const auth = createCallerAuth({
      apiKeys: [],
      requireClientCertificate: true,
      operatorCertificates: ["ops-client"],
    });
    expect(auth({ certificateSubject: "ops-client" })).toEqual({
      id: "cert:ops-client",
      operator: true,
    });
    expect(auth({ certificateSubject: "backend-client" })).toEqual({
      id: "cert:backend-client",
      operator: false,
    });
  });

  it("never makes an unauthenticated caller an operator", () => {
    const auth = createCallerAuth({
      apiKeys: [],
      requireClientCertificate: false,
      operatorCertificates: ["ops-client"],
    });
    expect(auth({ certificateSubject: "ops-client", remoteAddress: "10.0.0.1" })).toEqual({
      id: "addr:10.0.0.1",
      operator: false,
    });
  });
});
