import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type ServiceImpl,
} from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { ServiceError } from "../../src/errors.js";
import type { RpcObservation } from "../../src/metrics/metrics.js";
import { createMetricsInterceptor } from "../../src/rpc/metrics-interceptor.js";

// A Health service whose answers the service name picks: "ok", "missing"
// (a ConnectError), "unmapped" (a ServiceError: no error interceptor maps it
// here), "crash" (a plain error), and for Watch "stream" (two messages),
// "broken" (one message, then a ConnectError), "unmapped" (one message, then
// a ServiceError) and "endless".
const health: Partial<ServiceImpl<typeof Health>> = {
  check(req) {
    if (req.service === "missing") throw new ConnectError("no", Code.NotFound);
    if (req.service === "unmapped") throw new ServiceError("SESSION_NOT_FOUND", "no");
    if (req.service === "crash") throw new Error("boom");
    return { status: Status.SERVING };
  },
  async *watch(req) {
    yield { status: Status.SERVING };
    if (req.service === "broken") throw new ConnectError("gone", Code.Unavailable);
    if (req.service === "unmapped") throw new ServiceError("MCP_SERVER_EXITED", "gone");
    if (req.service === "endless") for (;;) yield { status: Status.SERVING };
    yield { status: Status.NOT_SERVING };
  },
};

function setup() {
  const seen: RpcObservation[] = [];
  const transport = createRouterTransport((router) => router.service(Health, health), {
    router: { interceptors: [createMetricsInterceptor((call) => seen.push(call))] },
  });
  const codes = () => seen.map(({ method, code }) => `${method}:${code}`);
  return { client: createClient(Health, transport), seen, codes };
}

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  for await (const _ of stream) count++;
  return count;
}

describe("createMetricsInterceptor", () => {
  it("reports unary RPCs with the code the caller gets", async () => {
    const { client, seen, codes } = setup();
    await client.check({ service: "ok" });
    await expect(client.check({ service: "missing" })).rejects.toMatchObject({
      code: Code.NotFound,
    });
    for (const service of ["unmapped", "crash"]) {
      await expect(client.check({ service })).rejects.toMatchObject({ code: Code.Internal });
    }
    expect(codes()).toEqual(["Check:ok", "Check:not_found", "Check:internal", "Check:internal"]);
    expect(seen[0]?.service).toBe("grpc.health.v1.Health");
    expect(seen.every((c) => c.seconds >= 0 && c.seconds < 5)).toBe(true);
  });

  it("reports a stream when it ends, with its final code", async () => {
    const { client, codes } = setup();
    const stream = client.watch({ service: "stream" });
    expect(codes()).toEqual([]);
    expect(await drain(stream)).toBe(2);
    // The caller gets what the handler threw when it is a ConnectError, else INTERNAL.
    for (const service of ["broken", "unmapped"]) {
      const error = await drain(client.watch({ service })).then(() => {
        throw new Error("the stream should fail");
      }, ConnectError.from);
      expect(error.code).toBe(service === "broken" ? Code.Unavailable : Code.Internal);
    }
    expect(codes()).toEqual(["Watch:ok", "Watch:unavailable", "Watch:internal"]);
  });

  it("reports a stream its caller abandons", async () => {
    const { client, codes } = setup();
    const abort = new AbortController();
    let received = 0;
    const read = (async () => {
      for await (const _ of client.watch({ service: "endless" }, { signal: abort.signal })) {
        if (++received === 3) abort.abort();
      }
    })();
    await expect(read).rejects.toMatchObject({ code: Code.Canceled });
    await expect.poll(codes).toEqual(["Watch:canceled"]);
  });
});
