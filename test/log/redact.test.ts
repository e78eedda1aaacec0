import { describe, expect, it } from "vitest";
import { redactText, redactValue } from "../../src/log/redact.js";
import { jwtFrom } from "../support/jwt.js";

const jwt = jwtFrom(
  '{"alg":"HS256","typ":"JWT"}',
  '{"sub":"user-1","exp":4102444800}',
  "CANARY_sig-123",
);

describe("redactText", () => {
  it.each([
    [`token=${jwt} end`, "token=[REDACTED] end"],
    [`"${jwt}"`, '"[REDACTED]"'],
    ["Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"],
    ['{"authorization":"bearer opaque123"}', '{"authorization":"bearer [REDACTED]"}'],
    [
      "GET https://api.example.com/v1/items?key=abc&x=1 failed",
      "GET https://api.example.com/v1/items?[REDACTED] failed",
    ],
    ["'http://h:8080/p?q=1'", "'http://h:8080/p?[REDACTED]'"],
    ["https://user:hunter2@db.example.com/x", "https://user:[REDACTED]@db.example.com/x"],
  ])("masks %s", (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it.each([
    "session s-123 started on https://api.example.com/v1/sessions/abc",
    "version 1.2.3 at eyJ without dots",
    "what? no url here? ok",
    "https://host:8080/path/to/thing#section",
  ])("keeps ordinary text: %s", (text) => {
    expect(redactText(text)).toBe(text);
  });

  it.each([
    ["a space after the brace", '{ "alg": "HS256" }', '{ "sub": "user-1" }', "eyAi"],
    ["a newline after the brace", '{\n"alg":"HS256"}', '{\n"sub":"user-1"}', "ewoi"],
    ["a tab after the brace", '{\t"alg":"HS256"}', '{\t"sub":"user-1"}', "ewki"],
  ])("masks a token whose JSON has %s", (_name, header, payload, prefix) => {
    const token = jwtFrom(header, payload, "CANARY_sig-456");
    expect(token.startsWith(prefix)).toBe(true);
    expect(redactText(`stderr-probe token=${token} done`)).toBe(
      "stderr-probe token=[REDACTED] done",
    );
    expect(redactText(`{"jwt":"${token}"}`)).toBe('{"jwt":"[REDACTED]"}');
  });

  it("masks a token cut short after its header, as a capped log line leaves it", () => {
    const cut = jwt.slice(0, jwt.indexOf(".") + 12);
    expect(redactText(`token=${cut}…`)).toBe("token=[REDACTED]…");
  });

  it("is idempotent", () => {
    const once = redactText(`Bearer ${jwt} https://h/p?t=${jwt}`);
    expect(redactText(once)).toBe(once);
  });
});

describe("redactValue", () => {
  it.each([
    "token",
    "jwtToken",
    "Authorization",
    "password",
    "clientSecret",
    "jwt",
    "Set-Cookie",
    "apiKey",
    "api_key",
    "x-api-key",
  ])("masks the value of %s", (key) => {
    expect(redactValue({ [key]: "plain-value", [`${key}Present`]: true })).toEqual({
      [key]: "[REDACTED]",
      [`${key}Present`]: true,
    });
  });

  it("walks nested objects and arrays, masks text and keeps normal data", () => {
    const input = {
      session_id: "s-42",
      url: "https://api.example.com/v1/x?sig=abc",
      items: [{ headers: { authorization: "Basic dXNlcjpwYXNz" } }, `see ${jwt}`, 7],
      when: new Date(0),
    };
    expect(redactValue(input)).toEqual({
      session_id: "s-42",
      url: "https://api.example.com/v1/x?[REDACTED]",
      items: [{ headers: { authorization: "[REDACTED]" } }, "see [REDACTED]", 7],
      when: new Date(0),
    });
    expect(input.items[1]).toBe(`see ${jwt}`);
  });

  it("turns errors into plain objects with message, stack, cause and own fields", () => {
    const cause = new Error(`inner ${jwt}`);
    const error = Object.assign(new TypeError(`outer Bearer ${jwt}`, { cause }), {
      code: "E_X",
      token: "t",
    });
    const out = redactValue(error) as Record<string, unknown>;
    expect(out).toMatchObject({
      type: "TypeError",
      message: "outer Bearer [REDACTED]",
      code: "E_X",
      token: "[REDACTED]",
      cause: { type: "Error", message: "inner [REDACTED]" },
    });
    expect(out.stack).toMatch(/^TypeError: outer Bearer \[REDACTED\]\n/);
    expect(JSON.stringify(out)).not.toContain("CANARY");
  });

  it("survives cycles, keeps shared references and stops at a depth limit", () => {
    const shared = { v: 1 };
    const loop: Record<string, unknown> = { a: shared, b: shared };
    loop.self = loop;
    expect(redactValue(loop)).toEqual({ a: { v: 1 }, b: { v: 1 }, self: "[Circular]" });
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    expect(JSON.stringify(redactValue(deep))).toContain('"[Truncated]"');
  });

  it("converts Maps, Sets, URLs and byte arrays", () => {
    const value = {
      map: new Map<string, unknown>([
        ["cookie", "c"],
        ["n", 1],
      ]),
      set: new Set([`x ${jwt}`]),
      url: new URL("https://h/p?secret=1"),
      bytes: Buffer.from(`stderr: Bearer ${jwt}`),
    };
    expect(redactValue(value)).toEqual({
      map: { cookie: "[REDACTED]", n: 1 },
      set: ["x [REDACTED]"],
      url: "https://h/p?[REDACTED]",
      bytes: "stderr: Bearer [REDACTED]",
    });
  });
});
