import { createServer as createHttp1Server } from "node:http";
import { connect as connectH2, createServer as createHttp2Server } from "node:http2";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { routeByPreface } from "../../src/server/protocol-sniffer.js";
import { listenOnLoopback } from "../support/loopback-port.js";

const handler = (req: { httpVersion: string }, res: { end(body: string): void }) =>
  res.end(`HTTP/${req.httpVersion}`);

let listener: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => listener?.close(resolve) ?? resolve(undefined));
  listener = undefined;
});

async function listen(firstBytesTimeoutMs?: number): Promise<number> {
  const h2 = createHttp2Server(handler);
  const http1 = createHttp1Server(handler);
  listener = createServer((socket) => routeByPreface(socket, { h2, http1 }, firstBytesTimeoutMs));
  return listenOnLoopback(listener);
}

/** Writes `text` one byte at a time, so the router sees the worst-case chunking. */
async function dribble(socket: Socket, text: string): Promise<void> {
  for (const byte of Buffer.from(text, "latin1")) {
    socket.write(Buffer.of(byte));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("routeByPreface", () => {
  it("serves HTTP/1.1 when the request arrives in one write", async () => {
    const port = await listen();
    const socket = connect(port, "127.0.0.1");
    const answer = readAll(socket);
    socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    expect(await answer).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1$/);
  });

  it("serves HTTP/1.1 even when the request arrives one byte at a time", async () => {
    const port = await listen();
    const socket = connect(port, "127.0.0.1");
    const answer = readAll(socket);
    await dribble(socket, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(await answer).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1$/);
  });

  it("serves HTTP/2 with prior knowledge", async () => {
    const port = await listen();
    const session = connectH2(`http://127.0.0.1:${port}`);
    const stream = session.request({ ":path": "/" });
    stream.setEncoding("utf8");
    let body = "";
    stream.on("data", (chunk: string) => {
      body += chunk;
    });
    await new Promise((resolve) => stream.on("end", resolve));
    session.close();
    expect(body).toBe("HTTP/2.0");
  });

  it("routes to HTTP/2 when the preface arrives one byte at a time", async () => {
    const port = await listen();
    const socket = connect(port, "127.0.0.1");
    const firstFrame = new Promise<Buffer>((resolve) => socket.once("data", resolve));
    await dribble(socket, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    // An empty SETTINGS frame: length 0, type 0x4, no flags, stream 0.
    socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    const frame = await firstFrame;
    socket.destroy();
    // The server's first frame is its own SETTINGS frame: byte 3 is the frame type.
    expect(frame[3]).toBe(4);
  });

  it("closes a connection that resets before sending anything, and keeps serving", async () => {
    const port = await listen();
    const socket = connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = connect(port, "127.0.0.1");
    const answer = readAll(again);
    again.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(await answer).toContain("HTTP/1.1 200 OK");
  });

  it("closes a connection that stops inside the HTTP/2 preface", async () => {
    const port = await listen(200);
    const socket = connect(port, "127.0.0.1");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.write("PRI * HTTP/2.0\r\n");
    await closed;
    expect(socket.bytesRead).toBe(0);
  });
});
