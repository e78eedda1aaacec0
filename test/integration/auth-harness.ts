import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type App, createApp } from "../../src/app.js";
import { configSchema } from "../../src/config/schema.js";
import type { Config } from "../../src/config/types.js";
import { type RunningServer, startServer } from "../../src/server/server.js";
import { captureLogs, type LogCapture } from "../support/log-capture.js";
import { unlimitedInitRates } from "../support/unlimited-init-rates.js";
import { credentialTimeoutMs } from "./harness.js";

/** The config sections these suites set, in the config file's shape. */
export interface AuthConfigInput {
  readonly server?: Record<string, unknown>;
  readonly auth?: Record<string, unknown>;
  readonly limits?: Record<string, unknown>;
}

/**
 * A validated config for an in-process server on 127.0.0.1, port 0, with a
 * 300 ms credential check, the built-in MCP server, Init rates nobody
 * reaches unless `limits` says otherwise, and the given `auth`.
 */
export function makeAuthConfig(input: AuthConfigInput = {}): Config {
  return configSchema.parse({
    server: { host: "127.0.0.1", port: 0, shutdownGraceMs: 3_000, ...input.server },
    credentialCheck: { timeoutMs: credentialTimeoutMs },
    // The upstream listens on loopback, which only the development profile reaches.
    outbound: { profile: "development" },
    auth: input.auth ?? {},
    limits: { ...unlimitedInitRates, ...input.limits },
    tools: {},
    mcpServers: { builtin: { type: "builtin" } },
  });
}

/** A real server whose log lines are captured. */
export interface LoggedService {
  readonly app: App;
  readonly server: RunningServer;
  readonly url: string;
  readonly log: LogCapture;
}

/** `startServer(createApp(config, logger), ...)` with a capturing trace logger. */
export async function startLoggedService(config: Config): Promise<LoggedService> {
  const log = captureLogs("trace");
  const app = createApp(config, log.logger);
  const server = await startServer(app, config.server, log.logger);
  return { app, server, url: server.url, log };
}

/** A key pair and certificate as PEM files and contents. */
export interface PemIdentity {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** What makeMtlsFiles generates. */
export interface MtlsFiles {
  /** The client CA (it also signs the server certificate). */
  readonly ca: PemIdentity;
  /** CN=localhost, SAN IP:127.0.0.1, signed by the CA. */
  readonly server: PemIdentity;
  /** CN=`clientSubject`, signed by the CA. */
  readonly client: PemIdentity;
  /** Self-signed, with the very same subject as `client`. */
  readonly rogue: PemIdentity;
  readonly clientSubject: string;
  remove(): void;
}

const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * Generates, with the openssl CLI in a temporary directory, a CA, a server
 * certificate and a client certificate it signed, and a self-signed rogue
 * client certificate with the client's subject.
 */
export function makeMtlsFiles(clientSubject = "backend-client"): MtlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "mcs-mtls-"));
  const path = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const identity = (name: string): PemIdentity => ({
    certFile: path(`${name}.pem`),
    keyFile: path(`${name}.key`),
    cert: readFileSync(path(`${name}.pem`)),
    key: readFileSync(path(`${name}.key`)),
  });

  const selfSigned = (name: string, subject: string, extensions: string[]) => {
    openssl([
      "req",
      "-x509",
      ...ec,
      "-days",
      "1",
      "-subj",
      subject,
      ...extensions.flatMap((extension) => ["-addext", extension]),
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.pem`),
    ]);
    return identity(name);
  };
  const ca = selfSigned("ca", "/CN=Test Client CA", [
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const signed = (name: string, subject: string, extensions: string, serial: string) => {
    writeFileSync(path(`${name}.ext`), extensions);
    openssl([
      "req",
      "-new",
      ...ec,
      "-subj",
      subject,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path("ca.pem"),
      "-CAkey",
      path("ca.key"),
      "-set_serial",
      serial,
      "-days",
      "1",
      "-extfile",
      path(`${name}.ext`),
      "-out",
      path(`${name}.pem`),
    ]);
    return identity(name);
  };
  const server = signed(
    "server",
    "/CN=localhost",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    "2",
  );
  const client = signed("client", `/CN=${clientSubject}`, "extendedKeyUsage=clientAuth\n", "3");
  const rogue = selfSigned("rogue", `/CN=${clientSubject}`, ["extendedKeyUsage=clientAuth"]);
  return {
    ca,
    server,
    client,
    rogue,
    clientSubject,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The base64 lines of a PEM file (at least 32 characters): any of them in a log is a leak. */
export function pemCanaries(pem: Buffer): string[] {
  return pem
    .toString("utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length >= 32 && !line.startsWith("-----"));
}

/** The `auth_failed` audit lines `service` logged while `act` ran, as `{audit, reason, remote_address}`. */
export async function authFailures(service: LoggedService, act: () => Promise<unknown>) {
  const from = service.log.lines.length;
  await act();
  return service.log.lines
    .slice(from)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((e) => e.msg === "auth_failed")
    .map(({ audit, reason, remote_address }) => ({ audit, reason, remote_address }));
}

/** One `auth_failed` line with `reason`, from a loopback caller. */
export const authFailed = (reason: string) => [
  { audit: true, reason, remote_address: "127.0.0.1" },
];
