// Load mode "grpc-sessions": the "grpc" mode over a range of session ids. The grpc mode puts
// the call's index `i` into "{i}" (0, 1, 2, ... in every load run); this one puts `offset + i`
// there, or, with `pick`, a uniformly random index in [offset, offset + pick) per call. That
// grows a population of sessions across load runs ("scale-{i}" with offset 100 continues after
// scale-99) and spreads calls over sessions that already exist.
//
// It can also time calls that are meant to fail (the worker records successful calls only):
// with `expect`, a call failing with exactly that classify() result counts as a success, and a
// call that succeeds counts as the error "UNEXPECTED_OK".
//
// target: the grpc mode's target (see grpc.mjs), plus
//   offset = 0,   added to every call's index
//   pick,         when set, the index is offset + a random integer below pick instead
//   expect,       when set, the failure every call should end in, e.g.
//                 "Unauthenticated CREDENTIALS_REJECTED"
import * as grpc from "./grpc.mjs";

/** Counts failures as the grpc mode does: `"<Code> <ErrorInfo reason>"`. */
export const classify = grpc.classify;

/** Opens the grpc mode's connection and returns `{ call(i, lane), close() }` over the range. */
export async function open({ offset = 0, pick, expect, ...target }) {
  if (pick !== undefined && !(Number.isInteger(pick) && pick >= 1))
    throw new Error(`pick must be a positive integer, got ${JSON.stringify(pick)}`);
  const inner = await grpc.open(target);
  const index = pick === undefined ? (i) => offset + i : () => offset + randomBelow(pick);
  const call =
    expect === undefined
      ? (i, lane) => inner.call(index(i), lane)
      : async (i, lane) => {
          try {
            await inner.call(index(i), lane);
          } catch (error) {
            if (classify(error) === expect) return;
            throw error;
          }
          throw Object.assign(new Error("call succeeded"), { reason: "UNEXPECTED_OK" });
        };
  return { call, close: () => inner.close() };
}

function randomBelow(n) {
  return Math.floor(Math.random() * n);
}
