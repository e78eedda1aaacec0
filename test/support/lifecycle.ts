import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";

/**
 * An object that stands for whatever `current()` returns when it is used:
 * each property read (a method comes bound to that value) and each property
 * write goes there. It lets a suite hold, at module level, a value that its
 * hooks replace. Only reads and writes are forwarded, not spreads or `in`.
 */
export function standIn<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get(_, key) {
      const target = current();
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set: (_, key, value) => Reflect.set(current(), key, value),
  });
}

type Hook = (listener: () => Promise<void>) => void;

function around<T extends object>(
  before: Hook,
  after: Hook,
  setUp: () => T | Promise<T>,
  tearDown: (value: T) => unknown,
): T {
  let value: T | undefined;
  before(async () => {
    value = await setUp();
  });
  after(async () => {
    const done = value;
    value = undefined;
    if (done !== undefined) await tearDown(done);
  });
  return standIn(() => {
    if (value === undefined) throw new Error("used outside the tests it was set up for");
    return value;
  });
}

/**
 * Runs `setUp` before each test and `tearDown` on its value after the test;
 * returns a stand-in for that value (see standIn), which throws when used
 * outside a test.
 */
export function useEach<T extends object>(
  setUp: () => T | Promise<T>,
  tearDown: (value: T) => unknown,
): T {
  return around(beforeEach, afterEach, setUp, tearDown);
}

/**
 * useEach, once around all the tests of the file or `describe` block it is
 * called in: `setUp` before the first, `tearDown` after the last.
 */
export function useAll<T extends object>(
  setUp: () => T | Promise<T>,
  tearDown: (value: T) => unknown,
): T {
  return around(beforeAll, afterAll, setUp, tearDown);
}
