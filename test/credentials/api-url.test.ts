import { describe, expect, it } from "vitest";
import { parseApiUrl } from "../../src/credentials/api-url.js";
import { ServiceError } from "../../src/errors.js";

describe("parseApiUrl", () => {
  it.each([
    ["https://api.example.com", "https://api.example.com/"],
    ["http://127.0.0.1:8080/api/v1", "http://127.0.0.1:8080/api/v1"],
    ["HTTPS://API.example.com/v1/", "https://api.example.com/v1/"],
    ["https://api.example.com/v1?tenant=a", "https://api.example.com/v1?tenant=a"],
    ["http://[::1]:9000/", "http://[::1]:9000/"],
  ])("accepts %s", (raw, href) => {
    expect(parseApiUrl(raw).href).toBe(href);
  });

  it.each([
    ["empty", ""],
    ["relative path", "/api/v1"],
    ["host without scheme", "api.example.com/v1"],
    ["scheme only", "http://"],
    ["https scheme only", "https://"],
    ["no slashes", "http:api.example.com"],
    ["backslashes", "http:\\\\api.example.com"],
    ["ftp", "ftp://files.example.com/"],
    ["file", "file:///etc/passwd"],
    ["javascript", "javascript:alert(1)"],
    ["data", "data:text/plain,hi"],
    ["username", "https://user@api.example.com/"],
    ["username and password", "https://user:pw@api.example.com/"],
    ["empty userinfo password", "https://:pw@api.example.com/"],
    ["fragment", "https://api.example.com/#x"],
    ["bare trailing #", "https://api.example.com/v1#"],
    ["leading space", " https://api.example.com/"],
    ["embedded tab", "https://api.exam\tple.com/"],
    ["trailing newline", "https://api.example.com/\n"],
    ["no host, port only", "http://:8080/"],
  ])("rejects %s", (_name, raw) => {
    const error = catchError(() => parseApiUrl(raw));
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).reason).toBe("INVALID_API_URL");
  });

  it("never quotes the URL or its query", () => {
    for (const raw of [
      "ftp://h/?secret=canary",
      "https://u:canary@h/?secret=canary",
      "https://h/?secret=canary#f",
    ]) {
      const error = catchError(() => parseApiUrl(raw)) as ServiceError;
      expect(error.reason).toBe("INVALID_API_URL");
      expect(error.message).not.toContain("canary");
    }
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return expect.unreachable("expected a throw");
}
