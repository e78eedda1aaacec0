import type { Client } from "@connectrpc/connect";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { expect } from "vitest";
import type { SessionService } from "../../gen/mcpclient/v1/session_service_pb.js";
import { type App, createApp } from "../../src/app.js";
import type { Config } from "../../src/config/types.js";
import { testConfig } from "../service/harness.js";
import { createInMemoryClient } from "../support/in-memory-client.js";
import { captureLogs } from "../support/log-capture.js";

/** An app whose spans go to an InMemorySpanExporter, with an in-memory client. */
export interface TracedApp {
  readonly app: App;
  readonly client: Client<typeof SessionService>;
  readonly exporter: InMemorySpanExporter;
  /** Every log line so far. */
  readonly logs: readonly string[];
}

/** testConfig() with `tracing` merged over its defaults (enabled unless said otherwise). */
export async function tracingConfig(tracing: Partial<Config["tracing"]> = {}): Promise<Config> {
  const config = await testConfig();
  return { ...config, tracing: { ...config.tracing, enabled: true, ...tracing } };
}

/** Creates an app with `config` (default tracingConfig()) and `exporter` as its span exporter. */
export async function tracedApp(
  config?: Config,
  exporter = new InMemorySpanExporter(),
): Promise<TracedApp> {
  const log = captureLogs("info");
  const app = createApp(config ?? (await tracingConfig()), log.logger, { spanExporter: exporter });
  return { app, client: createInMemoryClient(app), exporter, logs: log.lines };
}

/** The one finished span named `name`; fails when there is none or more than one. */
export function spanNamed(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(
    found.map((s) => s.name),
    `spans named ${name}`,
  ).toEqual([name]);
  return found[0] as ReadableSpan;
}

/** Asserts that `child` is a direct child of `parent` in the same trace. */
export function expectChildOf(child: ReadableSpan, parent: ReadableSpan): void {
  expect({
    name: child.name,
    traceId: child.spanContext().traceId,
    parentSpanId: child.parentSpanContext?.spanId,
  }).toEqual({
    name: child.name,
    traceId: parent.spanContext().traceId,
    parentSpanId: parent.spanContext().spanId,
  });
}

/** Everything a span carries that an exporter sends: name, attributes, status, events, links. */
export function spanText(span: ReadableSpan): string {
  return JSON.stringify({
    name: span.name,
    attributes: span.attributes,
    status: span.status,
    events: span.events,
    links: span.links,
    resource: span.resource.attributes,
  });
}
