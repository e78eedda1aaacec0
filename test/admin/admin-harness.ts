import { randomUUID } from "node:crypto";
import { toJsonString } from "@bufbuild/protobuf";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { expect } from "vitest";
import {
  SessionAdminService,
  type SessionInfo,
  SessionInfoSchema,
} from "../../gen/mcpclient/v1/session_admin_service_pb.js";
import type { App } from "../../src/app.js";
import type { Config } from "../../src/config/types.js";
import { digest } from "../../src/session/digest.js";
import { tokenParts } from "../security/proc.js";
import {
  appWithUpstream,
  type Harness,
  type SessionClient,
  testConfig,
  type Upstream,
} from "../service/harness.js";
import { sha256hex, withApiKey } from "../support/api-key.js";
import { defaultAuth } from "../support/auth-config.js";
import { createInMemoryClient } from "../support/in-memory-client.js";

/** The SessionAdminService client the admin tests use. */
export type AdminClient = Client<typeof SessionAdminService>;

/** An operator key and a client key, fresh per test file, and the config that accepts both. */
export const operatorKey = `KEYCANARY-operator-${randomUUID()}`;
export const clientKey = `KEYCANARY-client-${randomUUID()}`;

/** testConfig(overrides) with `operatorKey` (role operator) and `clientKey` (role client). */
export async function keyedConfig(overrides: Partial<Config> = {}): Promise<Config> {
  const base = await testConfig(overrides);
  return {
    ...base,
    auth: {
      ...defaultAuth,
      apiKeys: [
        { name: "ops", sha256: sha256hex(operatorKey), role: "operator" },
        { name: "backend", sha256: sha256hex(clientKey), role: "client" },
      ],
    },
  };
}

/** An in-memory SessionAdminService client of `app`, sending `key` as `x-api-key` when given. */
export function adminClient(app: App, key?: string): AdminClient {
  const transport = createRouterTransport(app.routes, {
    router: { interceptors: app.interceptors },
    transport: { interceptors: key === undefined ? [] : [withApiKey(key)] },
  });
  return createClient(SessionAdminService, transport);
}

/** What an admin test works with: the app, its upstream, and clients of both services. */
export interface AdminSetup {
  readonly app: App;
  readonly upstream: Upstream;
  /** SessionService with the client key. */
  readonly sessions: SessionClient;
  /** SessionAdminService with the operator key. */
  readonly admin: AdminClient;
  /** Every SessionInfo JSON the operator client received, for the leak check. */
  readonly seen: string[];
}

/** An app with keyedConfig(overrides), an upstream, and the two clients. */
export async function adminSetup(h: Harness, overrides: Partial<Config> = {}): Promise<AdminSetup> {
  const { app, upstream } = await appWithUpstream(h, await keyedConfig(overrides));
  const seen: string[] = [];
  const admin = adminClient(app, operatorKey);
  const recording: AdminClient = {
    async listSessions(req, options) {
      const res = await admin.listSessions(req, options);
      seen.push(...res.sessions.map(json), res.nextPageToken);
      return res;
    },
    async getSession(req, options) {
      const res = await admin.getSession(req, options);
      if (res.session !== undefined) seen.push(json(res.session));
      return res;
    },
  };
  return {
    app,
    upstream,
    sessions: createInMemoryClient(app, [withApiKey(clientKey)]),
    admin: recording,
    seen,
  };
}

const json = (session: SessionInfo) => toJsonString(SessionInfoSchema, session);

/**
 * Fails when any of `texts` holds a token, its payload or signature segment,
 * or a digest the session records keep of it (with `apiUrl`), hex or base64.
 */
export function expectNoTokens(
  texts: readonly string[],
  tokens: readonly string[],
  apiUrl: string,
): void {
  const digests = tokens.flatMap((t) => [digest(t), digest(apiUrl, t)]);
  const parts = [
    ...tokens.flatMap(tokenParts),
    ...digests,
    ...digests.map((d) => Buffer.from(d, "hex").toString("base64")),
    ...digests.map((d) => Buffer.from(d, "hex").toString("base64url")),
  ];
  expect(parts.length).toBeGreaterThanOrEqual(tokens.length * 7);
  expect(texts.filter((text) => parts.some((part) => text.includes(part)))).toEqual([]);
}

/**
 * Calls `read` every 25 ms until `done` holds for its value, and resolves
 * with that value; rejects naming `what` after `timeoutMs` (default 5 s).
 */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) && value !== undefined && value !== null) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
