import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { bearer } from "../support/bearer.js";
import { waitFor } from "../support/wait.js";
import { appWithUpstream, expectRpcError, useHarness } from "./harness.js";

const h = useHarness();

describe("a session whose JWT expires after Init", () => {
  it("answers TOKEN_EXPIRED to every method and is neither reused nor re-checked by Init", async () => {
    const { client, upstream, starts } = await appWithUpstream(h);
    // `exp` is in whole seconds: 1 to 2 s from now, so Init comes well before it.
    const expSeconds = Math.floor(Date.now() / 1000) + 2;
    const token = h.jwt({ exp: expSeconds });
    const request = { sessionId: "s1", apiUrl: upstream.apiUrl, jwtToken: token };
    const first = await client.init(request);
    expect({ status: first.status, reused: first.reused }).toEqual({ status: "ok", reused: false });
    // Usable until it expires.
    await client.listTools({ sessionId: "s1" }, bearer(token));

    await waitFor(() => Date.now() >= expSeconds * 1000, "the token to expire", 5_000);

    await expectRpcError(
      client.listTools({ sessionId: "s1" }, bearer(token)),
      Code.Unauthenticated,
      "TOKEN_EXPIRED",
    );
    await expectRpcError(
      client.callTool({ sessionId: "s1", name: "validate_settings" }, bearer(token)),
      Code.Unauthenticated,
      "TOKEN_EXPIRED",
    );
    const validations = upstream.validations().length;
    expect(validations).toBe(1);
    await expectRpcError(client.init(request), Code.Unauthenticated, "TOKEN_EXPIRED");
    // Refused from the token itself: no credential check, no start.
    expect(upstream.validations()).toHaveLength(validations);
    expect(starts.calls).toBe(1);

    // A fresh token opens the session again.
    const fresh = h.jwt();
    const again = await client.init({ ...request, jwtToken: fresh });
    expect({ status: again.status, reused: again.reused }).toEqual({ status: "ok", reused: false });
    await client.listTools({ sessionId: "s1" }, bearer(fresh));
  });
});
