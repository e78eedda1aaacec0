import { describe, expect, it } from "vitest";
import { joinUnderBase, PathEscapesBaseError } from "../../src/outbound/join-url.js";

describe("joinUnderBase", () => {
  it.each([
    ["https://h/api/v1", "settings/validate", "https://h/api/v1/settings/validate"],
    ["https://h/api/v1/", "settings/validate", "https://h/api/v1/settings/validate"],
    ["https://h/api/v1", "/settings/validate", "https://h/api/v1/settings/validate"],
    ["https://h/api/v1/", "/settings/validate", "https://h/api/v1/settings/validate"],
    ["https://h", "settings/validate", "https://h/settings/validate"],
    ["https://h:8443/", "items/42", "https://h:8443/items/42"],
    ["https://h/api?token=x#frag", "items", "https://h/api/items"],
    ["https://h/api", "a/./b/../c", "https://h/api/a/c"],
    ["https://h/api", "a/%2e%2e/b", "https://h/api/b"],
    ["https://h/api", "items/", "https://h/api/items/"],
    ["https://h/api", "name with space", "https://h/api/name%20with%20space"],
    ["https://h/api", "caf%C3%A9", "https://h/api/caf%C3%A9"],
    ["https://h/api", "users/a:b", "https://h/api/users/a:b"],
  ])("%s + %s -> %s", (base, path, expected) => {
    expect(joinUnderBase(new URL(base), path).href).toBe(expected);
  });

  it("sets the given query and drops the base's", () => {
    const url = joinUnderBase(new URL("https://h/api?old=1#f"), "items", { q: "a b", n: "1&2" });
    expect(url.pathname).toBe("/api/items");
    expect(url.searchParams.get("old")).toBeNull();
    expect(url.searchParams.get("q")).toBe("a b");
    expect(url.searchParams.get("n")).toBe("1&2");
    expect(url.hash).toBe("");
  });

  it("does not modify the base", () => {
    const base = new URL("https://h/api?x=1");
    joinUnderBase(base, "items", { y: "2" });
    expect(base.href).toBe("https://h/api?x=1");
  });

  it.each([
    ["absolute URL", "http://evil.example/x"],
    ["absolute https URL", "https://evil.example"],
    ["protocol-relative URL", "//evil.example/x"],
    ["javascript: URL", "javascript:alert(1)"],
    ["parent", ".."],
    ["parent with slash", "../other"],
    ["parent after leading slash", "/../other"],
    ["climb after descent", "a/../../other"],
    ["encoded parent", "%2e%2e/other"],
    ["upper-case encoded parent", "%2E%2E/other"],
    ["mixed encoded parent", ".%2e/other"],
    ["backslash", "..\\other"],
    ["backslash inside", "a\\b"],
    ["encoded slash", "..%2fother"],
    ["encoded backslash", "..%5Cother"],
    ["tab between dots", ".\t./other"],
    ["newline", "a\nb"],
    ["query in path", "items?x=1"],
    ["fragment in path", "items#x"],
    ["malformed escape", "%E0%A4%A"],
  ])("refuses %s", (_name, path) => {
    expect(() => joinUnderBase(new URL("https://h/api/v1"), path)).toThrow(PathEscapesBaseError);
  });

  it("never quotes the path in its error", () => {
    expect(() => joinUnderBase(new URL("https://h/api"), "../canary-path")).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("canary") }),
    );
  });
});
