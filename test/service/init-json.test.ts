import { fromJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { InitRequestSchema } from "../../gen/mcpclient/v1/session_service_pb.js";
import { appWithUpstream, buildJwt, useHarness } from "./harness.js";

const h = useHarness();

describe("the original HTTP body shape", () => {
  const token = buildJwt();
  const apiUrl = "https://api.example.com/v1";
  const expected = { sessionId: "user_123", apiUrl, jwtToken: token };

  it.each([
    ["the original body", { session_id: "user_123", apiUrl, jwtToken: token }],
    ["proto field names", { session_id: "user_123", api_url: apiUrl, jwt_token: token }],
    ["JSON names", { sessionId: "user_123", apiUrl, jwtToken: token }],
    [
      "camel sessionId with snake api_url",
      { sessionId: "user_123", api_url: apiUrl, jwtToken: token },
    ],
  ])("parses %s as InitRequest", (_, body) => {
    const req = fromJson(InitRequestSchema, body);
    expect({ sessionId: req.sessionId, apiUrl: req.apiUrl, jwtToken: req.jwtToken }).toEqual(
      expected,
    );
  });

  it("runs Init with the parsed original body", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    const jwtToken = h.jwt();
    const req = fromJson(InitRequestSchema, {
      session_id: "user_123",
      apiUrl: upstream.apiUrl,
      jwtToken,
    });
    const res = await client.init(req);
    expect({ status: res.status, reused: res.reused }).toEqual({ status: "ok", reused: false });
    expect(upstream.validations().map((r) => r.authorization)).toEqual([`Bearer ${jwtToken}`]);
    expect(starts.sessions).toEqual(["user_123"]);
  });
});
