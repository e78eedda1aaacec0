import { context, createContextKey } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { createTracing } from "../../src/tracing/create-tracing.js";
import { noopTracer } from "../../src/tracing/noop-tracer.js";
import { buildJwt, startUpstream, testConfig, type Upstream } from "../service/harness.js";
import { bearer } from "../support/bearer.js";
import { captureLogs } from "../support/log-capture.js";
import { tracedApp } from "./harness.js";

let upstream: Upstream;

beforeEach(async () => {
  upstream = await startUpstream();
});

afterEach(async () => {
  await upstream.close();
});

it("with tracing disabled, no span reaches the exporter and no provider is started", async () => {
  const exporter = new InMemorySpanExporter();
  const exported = vi.spyOn(exporter, "export");
  const shutdown = vi.spyOn(exporter, "shutdown");
  const { app, client } = await tracedApp(await testConfig(), exporter);
  const token = buildJwt();
  await client.init({ sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token });
  await client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(token));
  await app.close();
  // A provider would have exported each span, and been shut down with the app.
  expect({ exports: exported.mock.calls.length, shutdowns: shutdown.mock.calls.length }).toEqual({
    exports: 0,
    shutdowns: 0,
  });
  // Nor was a context manager registered: the API's context still does not propagate.
  const key = createContextKey("probe");
  expect(
    context.with(context.active().setValue(key, 1), () => context.active().getValue(key)),
  ).toBe(undefined);
});

it("a disabled config gives the no-op tracer, whose spans record nothing", async () => {
  const config = (await testConfig()).tracing;
  expect(config.enabled).toBe(false);
  const tracing = createTracing(config, { logger: captureLogs().logger });
  expect(tracing.enabled).toBe(false);
  expect(tracing.tracer).toBe(noopTracer);
  const span = tracing.tracer.startSpan("anything");
  expect(span.isRecording()).toBe(false);
  span.end();
  const handler = async () => {};
  expect(tracing.wrapHttpRoute("/init", handler)).toBe(handler);
  await tracing.shutdown();
});
