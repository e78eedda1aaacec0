/** The placeholders a templated config value may use, as `${name}`. */
export const templateVariableNames = ["apiUrl", "jwtToken", "sessionId"] as const;

/** The name of one allowed placeholder. */
export type TemplateVariableName = (typeof templateVariableNames)[number];

/** The per-session values substituted into templated config values. */
export type TemplateVars = Readonly<Record<TemplateVariableName, string>>;

// Any `${...}` whose body has no `}`; the body is checked against the allowed names.
const placeholder = /\$\{([^}]*)\}/g;

function isVariableName(name: string): name is TemplateVariableName {
  return (templateVariableNames as readonly string[]).includes(name);
}

/**
 * Lists what is wrong with the placeholders in `value`: each unknown
 * `${name}`, and a `${` that is never closed. Empty when `value` is a valid
 * template (including one with no placeholders at all).
 */
export function templateProblems(value: string): string[] {
  const problems: string[] = [];
  for (const match of value.matchAll(placeholder)) {
    const name = match[1] ?? "";
    if (!isVariableName(name)) {
      problems.push(
        `unknown placeholder "\${${name}}"; allowed: ${templateVariableNames.map((n) => `\${${n}}`).join(", ")}`,
      );
    }
  }
  if (value.replace(placeholder, "").includes("${")) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the message quotes the literal syntax.
    problems.push('unterminated placeholder: "${" without a closing "}"');
  }
  return problems;
}

/**
 * Replaces every `${apiUrl}`, `${jwtToken}` and `${sessionId}` in `value`.
 * One pass: text that came from a variable is never expanded again, so a
 * token that happens to contain `${apiUrl}` stays literal. Unknown
 * placeholders are left as they are (the config schema rejects them).
 */
export function renderTemplate(value: string, vars: TemplateVars): string {
  // A replacer function, not a replacement string: `$&` in a token stays literal.
  return value.replace(placeholder, (whole, name: string) =>
    isVariableName(name) ? vars[name] : whole,
  );
}

/** Applies renderTemplate to every value of an env or headers map; keys are kept as they are. */
export function renderRecord(
  record: Readonly<Record<string, string>>,
  vars: TemplateVars,
): Record<string, string> {
  // fromEntries defines own properties, so even a `__proto__` key stays data.
  return Object.fromEntries(
    Object.entries(record).map(([key, value]) => [key, renderTemplate(value, vars)]),
  );
}
