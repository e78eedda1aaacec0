import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LoggedService,
  makeAuthConfig,
  startLoggedService,
} from "../integration/auth-harness.js";
import { makeConfig, type Service, startService } from "../integration/harness.js";
import { sha256hex } from "../support/api-key.js";
import { scrape } from "./scrape.js";

const key = `KEYCANARY-scraper-${randomUUID()}`;
const apiKeys = [{ name: "scraper", sha256: sha256hex(key) }];

let keyed: LoggedService;
let anonymous: LoggedService;
let open: Service;

beforeAll(async () => {
  keyed = await startLoggedService(makeAuthConfig({ auth: { apiKeys } }));
  anonymous = await startLoggedService(
    makeAuthConfig({ auth: { apiKeys, anonymous: { metrics: true } } }),
  );
  open = await startService(makeConfig());
});

afterAll(async () => {
  await keyed?.server.shutdown();
  await anonymous?.server.shutdown();
  await open?.server.shutdown();
});

describe("GET /metrics with API keys configured", () => {
  it("refuses a scrape without a key: 401 API_KEY_REQUIRED, audited", async () => {
    const res = await scrape(keyed.url);
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(res.text)).toMatchObject({
      status: "error",
      error_type: "API_KEY_REQUIRED",
    });
    expect(keyed.log.text()).toContain('"msg":"auth_failed"');
  });

  it("refuses an unknown key: 401 API_KEY_INVALID", async () => {
    const res = await scrape(keyed.url, { "x-api-key": `wrong-${key}` });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toMatchObject({ error_type: "API_KEY_INVALID" });
  });

  it("answers a scrape with a key", async () => {
    const res = await scrape(keyed.url, { "x-api-key": key });
    expect(res.status).toBe(200);
    expect(res.help.has("mcp_client_server_active_sessions")).toBe(true);
    expect(res.text).not.toContain(key);
  });

  it("answers without a key when auth.anonymous.metrics is true", async () => {
    const res = await scrape(anonymous.url);
    expect(res.status).toBe(200);
    expect(res.help.has("mcp_client_server_rpc_requests_total")).toBe(true);
  });

  it("keeps the key secret in the log", () => {
    expect(keyed.log.text()).not.toContain(key);
    expect(anonymous.log.text()).not.toContain(key);
  });
});

describe("GET /metrics without service auth", () => {
  it("answers anyone", async () => {
    const res = await scrape(open.url);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it("answers another method with 405 METHOD_NOT_ALLOWED", async () => {
    for (const url of [open.url, keyed.url]) {
      const res = await scrape(url, {}, "POST");
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("GET");
      expect(JSON.parse(res.text)).toMatchObject({ error_type: "METHOD_NOT_ALLOWED" });
    }
  });
});
