import { type ClientHttp2Session, connect as http2Connect } from "node:http2";

/**
 * Connects a raw HTTP/2 session to `url`, resolving once it is established
 * and rejecting with the first error before that. The caller destroys it.
 */
export async function openH2Session(url: string): Promise<ClientHttp2Session> {
  const session = http2Connect(url);
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", (error) => {
      session.destroy();
      reject(error);
    });
  });
  return session;
}
