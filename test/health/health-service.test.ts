import { type Client, Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { type App, createApp } from "../../src/app.js";
import { createLogger } from "../../src/log/logger.js";
import { makeConfig } from "../integration/harness.js";
import { rpcFailure } from "../support/rpc-failure.js";

const sessionService = "mcpclient.v1.SessionService";
const adminService = "mcpclient.v1.SessionAdminService";

let app: App | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A fresh app and a Health client over createRouterTransport, with the app's interceptors. */
function healthClient(): Client<typeof Health> {
  app = createApp(makeConfig(), createLogger({ level: "silent" }));
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: app.interceptors },
  });
  return createClient(Health, transport);
}

/** Reads `stream` into an array of statuses until it ends. */
async function statuses(stream: AsyncIterable<HealthCheckResponse>, into: Status[]) {
  for await (const response of stream) into.push(response.status);
}

describe("grpc.health.v1.Health in memory", () => {
  it("Check reports SERVING for the whole server and for the session service", async () => {
    const client = healthClient();
    expect((await client.check({})).status).toBe(Status.SERVING);
    expect((await client.check({ service: sessionService })).status).toBe(Status.SERVING);
  });

  it("Check fails an unknown service with NOT_FOUND SERVICE_NOT_FOUND", async () => {
    const client = healthClient();
    expect(await rpcFailure(client.check({ service: "no.such.Service" }))).toMatchObject({
      code: Code.NotFound,
      reason: "SERVICE_NOT_FOUND",
    });
  });

  it("List reports every service", async () => {
    const client = healthClient();
    const { statuses } = await client.list({});
    expect(Object.keys(statuses).sort()).toEqual(["", adminService, sessionService]);
    expect(statuses[""]?.status).toBe(Status.SERVING);
    expect(statuses[sessionService]?.status).toBe(Status.SERVING);
  });

  it("reports NOT_SERVING everywhere after app.drain()", async () => {
    const client = healthClient();
    app?.drain();
    expect((await client.check({})).status).toBe(Status.NOT_SERVING);
    expect((await client.check({ service: sessionService })).status).toBe(Status.NOT_SERVING);
    const { statuses } = await client.list({});
    expect(Object.values(statuses).map((s) => s.status)).toEqual([
      Status.NOT_SERVING,
      Status.NOT_SERVING,
      Status.NOT_SERVING,
    ]);
  });

  it("Watch streams SERVING, then NOT_SERVING at app.drain(), then ends", async () => {
    const client = healthClient();
    const seen: Status[] = [];
    const done = statuses(client.watch({ service: sessionService }), seen);
    await expect.poll(() => seen).toEqual([Status.SERVING]);
    app?.drain();
    await done;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("Watch ends at app.close() without a drain", async () => {
    const client = healthClient();
    const seen: Status[] = [];
    const done = statuses(client.watch({}), seen);
    await expect.poll(() => seen).toEqual([Status.SERVING]);
    await app?.close();
    await done;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("Watch streams SERVICE_UNKNOWN for an unknown service and stays open until the client cancels", async () => {
    const client = healthClient();
    const abort = new AbortController();
    const seen: Status[] = [];
    const done = statuses(
      client.watch({ service: "no.such.Service" }, { signal: abort.signal }),
      seen,
    );
    await expect.poll(() => seen).toEqual([Status.SERVICE_UNKNOWN]);
    const outcome = await Promise.race([
      done.then(() => "ended"),
      new Promise((resolve) => setTimeout(() => resolve("open"), 100)),
    ]);
    expect(outcome).toBe("open");
    abort.abort();
    expect(await rpcFailure(done)).toMatchObject({ code: Code.Canceled });
    expect(seen).toEqual([Status.SERVICE_UNKNOWN]);
  });
});
