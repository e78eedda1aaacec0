import { apiRequestTool } from "./api-request-tool.js";
import type { BuiltinTool } from "./builtin-tool.js";
import { echoTool } from "./echo-tool.js";
import { validateSettingsTool } from "./validate-settings-tool.js";

/** The built-in tools, in the order they are listed. */
export const builtinTools: readonly BuiltinTool[] = [
  validateSettingsTool,
  apiRequestTool,
  echoTool,
];
