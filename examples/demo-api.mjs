#!/usr/bin/env node
// A stand-in for a user's API, for trying the service locally. It accepts any
// bearer token on POST /settings/validate, echoes every other request as
// JSON, and prints a demo JWT (unsigned, valid for one hour) to use with it.
// Usage: node examples/demo-api.mjs [port]   (default 9090)
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 9090);
const b64url = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const exp = Math.floor(Date.now() / 1000) + 3600;
const demoJwt = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: "demo-user", exp })}.demo-signature`;

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const authorized = /^Bearer \S+$/.test(req.headers.authorization ?? "");
    const status = authorized ? 200 : 401;
    const body =
      req.method === "POST" && req.url === "/settings/validate"
        ? { valid: authorized }
        : { method: req.method, url: req.url, body: Buffer.concat(chunks).toString("utf8") };
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`demo API on http://127.0.0.1:${port}\nJWT=${demoJwt}\n`);
});
