import { test } from "vitest";
import { createLogger } from "../src/log/logger.js";
test("x", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => { lines.push(s); } } });
  log.info("token %s, body %j", "x", { password: "CANARY-pw", path: "/v1/ok" });
  log.child({ jwtToken: "CANARY.abc", a: 1 }).info("child");
  process.stderr.write(lines.join(""));
});
