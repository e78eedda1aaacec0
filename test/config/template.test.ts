// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config values hold literal ${name} placeholders.
import { describe, expect, it } from "vitest";
import {
  renderRecord,
  renderTemplate,
  templateProblems,
  templateVariableNames,
} from "../../src/config/template.js";

const vars = { apiUrl: "https://api.example.com", jwtToken: "tok", sessionId: "s-1" };

describe("renderTemplate", () => {
  it("replaces every allowed placeholder, each time it occurs", () => {
    expect(renderTemplate("${apiUrl}|${jwtToken}|${sessionId}|${jwtToken}", vars)).toBe(
      "https://api.example.com|tok|s-1|tok",
    );
  });

  it("does not expand placeholders inside substituted values", () => {
    const sneaky = { ...vars, jwtToken: "${apiUrl}${sessionId}" };
    expect(renderTemplate("Bearer ${jwtToken}", sneaky)).toBe("Bearer ${apiUrl}${sessionId}");
  });

  it("keeps replacement-pattern characters in values literal", () => {
    const tricky = { ...vars, jwtToken: "a$&b$1c$$d$`e" };
    expect(renderTemplate("[${jwtToken}]", tricky)).toBe("[a$&b$1c$$d$`e]");
  });

  it("leaves text without placeholders and unknown placeholders alone", () => {
    expect(renderTemplate("plain $apiUrl {apiUrl}", vars)).toBe("plain $apiUrl {apiUrl}");
    expect(renderTemplate("${other}", vars)).toBe("${other}");
  });
});

describe("renderRecord", () => {
  it("renders every value, keeps keys and does not mutate the input", () => {
    const input = { TOKEN: "${jwtToken}", "${apiUrl}": "x", URL: "${apiUrl}/v1" };
    const output = renderRecord(input, vars);
    expect(output).toEqual({ TOKEN: "tok", "${apiUrl}": "x", URL: "https://api.example.com/v1" });
    expect(input.TOKEN).toBe("${jwtToken}");
  });
});

describe("templateProblems", () => {
  it("allows exactly apiUrl, jwtToken and sessionId", () => {
    expect([...templateVariableNames].sort()).toEqual(["apiUrl", "jwtToken", "sessionId"]);
    expect(templateProblems("${apiUrl} ${jwtToken} ${sessionId} plain")).toEqual([]);
  });

  it("reports each unknown placeholder and an unterminated one", () => {
    const problems = templateProblems("${jwt} ${API_URL} ${sessionId");
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('"${jwt}"');
    expect(problems[1]).toContain('"${API_URL}"');
    expect(problems[2]).toContain("unterminated");
  });
});
