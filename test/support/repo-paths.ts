import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const rootUrl = new URL("../../", import.meta.url);

/** The repository root, with a trailing slash. */
export const repoRoot = fileURLToPath(rootUrl);

/** The absolute path of `relative`, a path from the repository root. */
export function repoPath(relative: string): string {
  return fileURLToPath(new URL(relative, rootUrl));
}

/** The compiled built-in MCP server bin (`dist/`, built by `npm test`'s pretest). */
export const builtinBin = repoPath("dist/src/builtin/stdio-main.js");

/** The stdio entry point of the installed `@modelcontextprotocol/server-everything`. */
export const everythingServer = repoPath(
  "node_modules/@modelcontextprotocol/server-everything/dist/index.js",
);

/** Throws unless the compiled file `path` exists: the suites run what `npm run build` makes. */
export function requireBuilt(path: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
}
